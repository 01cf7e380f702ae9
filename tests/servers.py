"""Private, throw-away servers for the test suite: Dovecot IMAP, tinyproxy, Dante, PostgreSQL.

Each runs from a config file in a temporary directory, on free loopback ports, and is stopped by
the process id this module started -- never by name. Dovecot offers plain IMAP (with STARTTLS)
and IMAPS with a self-signed certificate for 127.0.0.1 and "localhost"; clients trust it through
`ca_file`, never by turning verification off. Users live in a passwd-file, so `new_user()` gives
each test an isolated account in a few microseconds (Dovecot re-reads the file when it changes).
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
HOST = "127.0.0.1"
# A second loopback address the IMAPS listener also answers on; it is not in the certificate,
# which gives tests a genuine host-name mismatch.
OTHER_HOST = "127.0.0.2"
# The plain listener also answers on this address, where it offers only basic IMAP4rev1.
BASIC_HOST = "127.0.0.3"


class ServerError(RuntimeError):
    """A test server did not start; the message includes its log."""


def wait_for_log_line(
    read_log: Callable[[], str], what: str, match: Callable[[str], bool], timeout: float = 5
) -> str:
    """The last line of a server's log that `match` accepts. The servers write their logs
    asynchronously, so wait a little for the line rather than read the file once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in read_log().splitlines() if match(line)]
        if lines:
            return lines[-1]
        time.sleep(0.05)
    raise AssertionError(f"no {what} in the log")


def dovecot_login_line(dovecot: Dovecot, username: str) -> str:
    """The last successful login of `username` in the Dovecot log."""
    marker = f"Login: user=<{username}>"
    return wait_for_log_line(dovecot.log, f"login of {username}", lambda line: marker in line)


def free_port() -> int:
    """A TCP port free on loopback right now (the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for_greeting(host: str, port: int, timeout: float = 10.0, tls: bool = False) -> None:
    """Block until something accepts on host:port (and, for plain IMAP, greets with `* OK`)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0) as s:
                if not tls:
                    s.settimeout(2.0)
                    if not s.recv(64).startswith(b"* OK"):
                        raise OSError("no IMAP greeting")
                return
        except OSError as e:
            last = e
            time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not accept within {timeout}s: {last}")


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def stop_process(process: subprocess.Popen[bytes], root: Path | None = None) -> None:
    """SIGTERM a server this module started (SIGKILL if it lingers), then remove `root`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


def make_certificate(directory: Path, names: Sequence[str] = ("localhost", HOST)) -> Path:
    """Write a self-signed cert.pem/key.pem for `names` (DNS names or IPs); returns cert.pem."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailcore test server")])
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path


@dataclass(frozen=True)
class Account:
    """One IMAP login on the test Dovecot."""

    username: str
    password: str
    host: str
    port: int

    def client(self) -> IMAPClient:
        """A logged-in imapclient session on the plain port (the caller logs out)."""
        c = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        c.login(self.username, self.password)
        return c

    @contextlib.contextmanager
    def session(self) -> Iterator[IMAPClient]:
        """A logged-in imapclient session, logged out on exit."""
        c = self.client()
        try:
            yield c
        finally:
            with contextlib.suppress(Exception):
                c.logout()

    def append(self, folder: str, raw: bytes, flags: Sequence[str] = ()) -> int:
        """APPEND one raw message (creating the folder); returns its UID."""
        return self.append_many(folder, [raw], flags)[0]

    def append_many(
        self, folder: str, raws: Iterable[bytes], flags: Sequence[str] = ()
    ) -> list[int]:
        """APPEND messages over one session (creating the folder); returns their UIDs in order."""
        uids: list[int] = []
        with self.session() as c:
            if folder.upper() != "INBOX" and not c.folder_exists(folder):
                c.create_folder(folder)
            for raw in raws:
                resp = c.append(folder, raw, flags=flags)
                uids.append(_appenduid(resp))
        return uids

    def imap_url(self, *, tls: bool = False, port: int | None = None) -> str:
        """imap(s)://user:password@host:port/ for this account."""
        scheme = "imaps" if tls else "imap"
        query = "" if tls else "?security=plain"
        return f"{scheme}://{self.username}:{self.password}@{self.host}:{port or self.port}/{query}"


def _appenduid(resp: bytes) -> int:
    # b"[APPENDUID <validity> <uid>] Append completed."
    text = resp.decode() if isinstance(resp, bytes) else str(resp)
    start = text.index("[APPENDUID ") + len("[APPENDUID ")
    return int(text[start : text.index("]", start)].split()[1])


def message(
    subject: str = "Test",
    body: str = "Hello.\r\n",
    sender: str = "alice@example.org",
    to: str = "ops@example.com",
    message_id: str | None = None,
    extra_headers: str = "",
) -> bytes:
    """A small, valid RFC 5322 message; a unique Message-ID unless one is given."""
    mid = message_id or f"<{secrets.token_hex(8)}@test.example.org>"
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: Mon, 06 May 2024 10:00:00 +0000\r\nMessage-ID: {mid}\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n{extra_headers}"
        f"\r\n{body}"
    ).encode()


USER_BATCH = 200


def _new_credentials(start: int, count: int) -> list[tuple[str, str]]:
    return [
        (f"u{n}-{secrets.token_hex(3)}", secrets.token_urlsafe(12))
        for n in range(start, start + count)
    ]


_CONF = """\
protocols = imap
listen = {host}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
mail_location = maildir:{d}/mail/%u
mail_fsync = never
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 100
protocol imap {{
  mail_max_userip_connections = 100
}}
service imap-login {{
  inet_listener imap {{
    address = {host}, {basic}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}, {other}
    port = {imaps_port}
    ssl = yes
  }}
  chroot =
}}
service anvil {{
  chroot =
  # no growing delays after the tests' deliberate login failures
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={d}/home/%u
}}
# On BASIC_HOST the server advertises neither MOVE nor UIDPLUS, like old servers do.
local {basic} {{
  protocol imap {{
    imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT CHILDREN
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""


@dataclass
class Dovecot:
    """A running private Dovecot; `stop()` ends it."""

    root: Path
    host: str
    port: int
    imaps_port: int
    ca_file: str
    process: subprocess.Popen[bytes]
    users: dict[str, str] = field(default_factory=dict)
    _pool: list[Account] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    basic_host: str = BASIC_HOST  # same server and port, without MOVE and UIDPLUS

    @property
    def conf(self) -> Path:
        return self.root / "dovecot.conf"

    def log(self) -> str:
        """The server log (auth failures, disconnects, errors)."""
        return _read(self.root / "dovecot.log")

    def new_user(self, prefix: str = "") -> Account:
        """A fresh account with an empty mailbox, never handed out before.

        Accounts come from a pool loaded with the server (so logins work at once); `prefix`
        is accepted for readability at call sites but names are always u<N>-<hex>.
        """
        with self._lock:
            if not self._pool:
                self.add_users(USER_BATCH)
                # Dovecot re-reads the passwd-file at most once a second: wait for the next one
                time.sleep(1.1)
            return self._pool.pop(0)

    def add_users(self, count: int) -> None:
        """Append `count` unused accounts to the passwd-file and the pool."""
        credentials = _new_credentials(len(self.users), count)
        with (self.root / "users").open("a") as f:
            f.write("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in credentials))
        for username, password in credentials:
            self._register(username, password)

    def _register(self, username: str, password: str) -> None:
        self.users[username] = password
        self._pool.append(Account(username, password, self.host, self.port))

    fresh_account = new_user

    def kick(self, username: str) -> None:
        """Drop every live IMAP session of `username` server-side (Dovecot sends BYE)."""
        subprocess.run(
            [DOVEADM, "-c", str(self.conf), "kick", username],
            check=True,
            capture_output=True,
            timeout=10,
        )

    def stop(self, remove: bool = True) -> None:
        """Stop the master (it takes its children along) and remove its files; idempotent."""
        stop_process(self.process, self.root if remove else None)


def start_dovecot(root: Path | None = None, attempts: int = 3) -> Dovecot:
    """Start a private Dovecot and wait until it greets.

    `root` must be reachable by the unprivileged dovecot users (pytest's tmp_path is not: its
    parents are mode 0700); by default a fresh directory under the system temp dir is used.
    """
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="mailcore-dovecot-"))
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir(exist_ok=True)
    ca_file = make_certificate(root)
    # Accounts exist before Dovecot first reads the file; later batches need a reload (1 s).
    initial = _new_credentials(0, USER_BATCH)
    (root / "users").write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in initial))
    os.chmod(root, 0o755)  # dovenull/dovecot must reach run/, mail/ and home/
    shutil.chown(root / "mail", "dovecot", "dovecot")
    shutil.chown(root / "home", "dovecot", "dovecot")
    error = ""
    for _ in range(attempts):
        port, imaps_port = free_port(), free_port()
        conf = root / "dovecot.conf"
        conf.write_text(
            _CONF.format(
                d=root,
                host=HOST,
                other=OTHER_HOST,
                basic=BASIC_HOST,
                port=port,
                imaps_port=imaps_port,
            )
        )
        (root / "dovecot.log").write_text("")
        proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_greeting(HOST, port, timeout=10)
            wait_for_greeting(HOST, imaps_port, timeout=5, tls=True)
        except TimeoutError as e:
            proc.terminate()
            _, stderr = proc.communicate(timeout=10)
            log = _read(root / "dovecot.log")
            error = (
                f"{e}\n--- dovecot stderr ---\n{stderr.decode(errors='replace')}"
                f"\n--- dovecot.log ---\n{log}"
            )
            if "in use" not in error:
                break
            continue
        server = Dovecot(root, HOST, port, imaps_port, str(ca_file), proc)
        for username, password in initial:
            server._register(username, password)
        return server
    raise ServerError(f"dovecot did not start:\n{error}")


@dataclass
class Tinyproxy:
    """A running private tinyproxy allowing CONNECT to the given ports."""

    root: Path
    host: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return _read(self.root / "tinyproxy.log")

    def stop(self, remove: bool = True) -> None:
        """Stop it by the pid it wrote and remove its files; idempotent."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, 15)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)


def start_tinyproxy(
    connect_ports: Sequence[int], root: Path | None = None, attempts: int = 3
) -> Tinyproxy:
    """Start a private tinyproxy that CONNECTs only to `connect_ports` on loopback."""
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="mailcore-tinyproxy-"))
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o777)  # tinyproxy drops privileges to nobody and writes its log here
    error = ""
    for _ in range(attempts):
        port = free_port()
        pidfile = root / "tinyproxy.pid"
        pidfile.unlink(missing_ok=True)
        lines = [
            f"Port {port}",
            f"Listen {HOST}",
            "Timeout 60",
            f'PidFile "{pidfile}"',
            f'LogFile "{root / "tinyproxy.log"}"',
            "LogLevel Info",
            "MaxClients 50",
            f"Allow {HOST}",
            *(f"ConnectPort {p}" for p in connect_ports),
        ]
        conf = root / "tinyproxy.conf"
        conf.write_text("\n".join(lines) + "\n")
        result = subprocess.run(
            [TINYPROXY, "-c", str(conf)], capture_output=True, timeout=10, check=False
        )
        try:
            wait_for_greeting(HOST, port, timeout=5, tls=True)
            deadline = time.monotonic() + 5
            while not pidfile.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            pid = int(pidfile.read_text().strip())
        except (TimeoutError, FileNotFoundError, ValueError) as e:
            log = _read(root / "tinyproxy.log")
            error = f"{e}\n{result.stderr.decode(errors='replace')}\n--- tinyproxy.log ---\n{log}"
            continue
        return Tinyproxy(root, HOST, port, pid)
    raise ServerError(f"tinyproxy did not start:\n{error}")


@dataclass
class Dante:
    """A running private Dante SOCKS5 server allowing CONNECT to loopback only."""

    root: Path
    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"socks5://{self.host}:{self.port}"

    def log(self) -> str:
        return _read(self.root / "danted.log")

    def stop(self, remove: bool = True) -> None:
        """Stop it (SIGTERM to the process this module started) and remove its files."""
        stop_process(self.process, self.root if remove else None)


DANTED = shutil.which("danted") or "/usr/sbin/danted"


def start_dante(root: Path | None = None, attempts: int = 3) -> Dante:
    """Start a private Dante SOCKS5 server (Debian package dante-server) on a free port."""
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="mailcore-dante-"))
    error = ""
    for _ in range(attempts):
        port = free_port()
        conf = root / "danted.conf"
        conf.write_text(
            f"logoutput: {root / 'danted.log'}\n"
            f"internal: {HOST} port = {port}\n"
            f"external: {HOST}\n"
            "socksmethod: none\nclientmethod: none\n"
            "user.privileged: root\nuser.unprivileged: nobody\n"
            f"client pass {{\n  from: {HOST}/32 to: 0.0.0.0/0\n}}\n"
            f"socks pass {{\n  from: {HOST}/32 to: 127.0.0.0/8\n"
            "  command: connect\n  log: connect\n}\n"
        )
        proc = subprocess.Popen(
            [DANTED, "-f", str(conf), "-p", str(root / "danted.pid"), "-N", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_greeting(HOST, port, timeout=10, tls=True)
        except TimeoutError as e:
            proc.terminate()
            _, stderr = proc.communicate(timeout=10)
            log = _read(root / "danted.log")
            error = f"{e}\n{stderr.decode(errors='replace')}\n--- danted.log ---\n{log}"
            continue
        return Dante(root, HOST, port, proc)
    raise ServerError(f"danted did not start:\n{error}")


SERVER_TIMEZONE = "Pacific/Kiritimati"  # UTC+14, no daylight saving


def postgres_bin_dir() -> Path | None:
    """The newest Debian PostgreSQL server's bin directory (package postgresql), if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class Postgres:
    """A running private PostgreSQL cluster; `stop()` ends it.

    The tests log in as `role` (a password, over TCP, no superuser) to `database`, which it
    owns. `create_schema()` gives each test an empty schema there (a few milliseconds, where
    CREATE DATABASE takes a few hundred); `create_database()` a whole database when needed.
    """

    root: Path
    bin_dir: Path
    host: str
    port: int
    role: str
    password: str
    superuser_password: str
    pid: int
    database: str = "mailcore"
    _admin: dict[str, Any] = field(default_factory=dict)  # superuser sessions by database
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, database: str | None = None, schema: str | None = None) -> str:
        """SQLAlchemy URL of `database` (default: the test database) for the test role;
        with `schema`, sessions find and create their tables there (search_path)."""
        query = f"?options=-csearch_path%3D{schema}" if schema else ""
        return (
            f"postgresql+psycopg://{self.role}:{self.password}@{self.host}:{self.port}"
            f"/{database or self.database}{query}"
        )

    def log(self) -> str:
        """The server log (refused logins, SQL errors)."""
        return _read(self.root / "postgres.log")

    def execute(self, sql: str, database: str | None = None) -> None:
        """Run `sql` as the superuser (autocommit) in `database` (default: the test database)."""
        import psycopg

        database = database or self.database
        with self._lock:
            conn = self._admin.get(database)
            if conn is None or conn.closed:
                conn = self._admin[database] = psycopg.connect(
                    host=self.host,
                    port=self.port,
                    user="postgres",
                    password=self.superuser_password,
                    dbname=database,
                    autocommit=True,
                )
                # A session a test left inside a transaction must not hang the teardown.
                conn.execute("SET lock_timeout = '5s'")
            conn.execute(sql)

    def create_schema(self) -> str:
        """A new empty schema owned by the test role; returns a URL whose sessions use it."""
        name = f"t_{secrets.token_hex(6)}"
        self.execute(f'CREATE SCHEMA "{name}" AUTHORIZATION "{self.role}"')
        return self.url(schema=name)

    def drop_schema(self, url: str) -> None:
        """Drop the schema of a `create_schema()` URL and everything in it."""
        self.execute(f'DROP SCHEMA IF EXISTS "{url.rsplit("%3D", 1)[1]}" CASCADE')

    def create_database(self, name: str | None = None) -> str:
        """A new empty database owned by the test role; returns its SQLAlchemy URL."""
        name = name or f"t_{secrets.token_hex(6)}"
        # template0: a pristine copy, whatever earlier tests did to template1.
        self.execute(f'CREATE DATABASE "{name}" OWNER "{self.role}" TEMPLATE template0', "postgres")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop `name`, ending any session a test left open on it."""
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', "postgres")

    def stop(self, remove: bool = True) -> None:
        """Stop the postmaster this module started (immediate: nothing to keep); idempotent."""
        with self._lock:
            for conn in self._admin.values():
                with contextlib.suppress(Exception):
                    conn.close()
            self._admin.clear()
        data = self.root / "data"
        if (data / "postmaster.pid").exists():
            result = subprocess.run(
                [*_as_postgres(), str(self.bin_dir / "pg_ctl"), "-D", str(data), "-m",
                 "immediate", "-w", "-t", "20", "stop"],
                capture_output=True,
                timeout=30,
                check=False,
            )  # fmt: skip
            if result.returncode != 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, 9)
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)


def _as_postgres() -> list[str]:
    # initdb and postgres refuse to run as root: run them as the package's `postgres` user.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def start_postgres(root: Path | None = None, attempts: int = 3) -> Postgres:
    """Start a private PostgreSQL cluster on a free loopback port (fsync off: throw-away data).

    Logins are password-checked (scram-sha-256) for everyone, over TCP only; the Unix socket
    lives in the private directory, so the system cluster (if any) is never touched.
    """
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise ServerError("PostgreSQL is not installed (Debian package postgresql)")
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="mailcore-postgres-"))
    root.mkdir(parents=True, exist_ok=True)
    run_dir, data = root / "run", root / "data"
    run_dir.mkdir(exist_ok=True)
    superuser_password = secrets.token_urlsafe(16)
    pwfile = root / "pwfile"
    pwfile.write_text(superuser_password + "\n")
    if os.geteuid() == 0:
        for path in (root, run_dir, pwfile):
            shutil.chown(path, "postgres", "postgres")
    initdb = subprocess.run(
        [*_as_postgres(), str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
         f"--pwfile={pwfile}", "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C",
         "--no-sync", "--no-instructions"],
        capture_output=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    pwfile.unlink()
    if initdb.returncode != 0:
        raise ServerError(
            f"initdb failed:\n{initdb.stdout.decode(errors='replace')}"
            f"{initdb.stderr.decode(errors='replace')}"
        )
    log = root / "postgres.log"
    error = ""
    for _ in range(attempts):
        port = free_port()
        options = (
            f"-p {port} -k {run_dir} -c listen_addresses={HOST} -c fsync=off "
            "-c full_page_writes=off -c synchronous_commit=off -c max_connections=60 "
            # A zone far from UTC, as a server set up abroad has: code that lets the server's
            # zone leak into dates (day buckets, naive timestamps) fails the tests.
            f"-c timezone={SERVER_TIMEZONE}"
        )
        started = subprocess.run(
            [*_as_postgres(), str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
             "-t", "30", "-o", options, "start"],
            capture_output=True,
            timeout=60,
            check=False,
        )  # fmt: skip
        if started.returncode != 0:
            error = (
                f"{started.stdout.decode(errors='replace')}{started.stderr.decode(errors='replace')}"
                f"\n--- postgres.log ---\n{_read(log)}"
            )
            if "in use" in error:
                continue
            break
        pid = int((data / "postmaster.pid").read_text().split()[0])
        server = Postgres(
            root,
            bin_dir,
            HOST,
            port,
            "mailcore",
            secrets.token_urlsafe(16),
            superuser_password,
            pid,
        )
        try:
            server.execute(
                f"CREATE ROLE {server.role} LOGIN PASSWORD '{server.password}'", "postgres"
            )
            server.execute(f"CREATE DATABASE {server.database} OWNER {server.role}", "postgres")
        except Exception as e:
            server.stop(remove=False)
            error = f"{e}\n--- postgres.log ---\n{server.log()}"
            break
        return server
    shutil.rmtree(root, ignore_errors=True)
    raise ServerError(f"postgres did not start:\n{error}")


class CuttingRelay:
    """A TCP relay in front of a real server that cuts a connection at a chosen command.

    ``relay.cut("UID COPY")`` arms one cut: the next client line holding those words (case
    insensitive) goes to the server, which runs it, and the connection is closed before its
    tagged answer reaches the client -- the server did the work, the client does not know.
    ``relay.cut("LOGIN", before=True)`` closes instead of sending the line on: the command never
    reached the server. `cuts` counts the cuts made. Each accepted connection is relayed by two
    threads; `close()` stops listening and closes every connection.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server((HOST, 0))
        self.host, self.port = HOST, int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._rules: list[tuple[bytes, bool]] = []
        self._sockets: list[socket.socket] = []
        self.cuts = 0
        self.connections = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="relay-accept").start()

    def cut(self, words: str, *, before: bool = False, times: int = 1) -> None:
        with self._lock:
            self._rules.extend([(words.upper().encode(), before)] * times)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept(), which close() would not
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)  # wakes the relaying threads' recv
                with contextlib.suppress(OSError):
                    s.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._closed:
                client.close()
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
                self.connections += 1
            pending: dict[str, bytes] = {}  # the tag whose answer must not reach the client
            threading.Thread(
                target=self._upstream, args=(client, server, pending), daemon=True
            ).start()
            threading.Thread(
                target=self._downstream, args=(server, client, pending), daemon=True
            ).start()

    def _rule_for(self, line: bytes) -> tuple[bytes, bool] | None:
        upper = line.upper()
        with self._lock:
            for i, rule in enumerate(self._rules):
                if b" " + rule[0] + b" " in upper + b" ":
                    return self._rules.pop(i)
        return None

    def _cut(self, *socks: socket.socket) -> None:
        with self._lock:
            self.cuts += 1
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def _upstream(self, client: socket.socket, server: socket.socket, pending: dict) -> None:
        buffer = b""
        try:
            while data := client.recv(65536):
                buffer += data
                *lines, buffer = buffer.split(b"\r\n")
                out = b""
                for line in lines:
                    rule = self._rule_for(line) if len(line) < 4096 else None
                    if rule is not None and rule[1]:  # before: never sent
                        server.sendall(out)
                        self._cut(client, server)
                        return
                    if rule is not None:
                        pending["tag"] = line.split(b" ", 1)[0] + b" "
                    out += line + b"\r\n"
                if out:
                    server.sendall(out)
                if len(buffer) > 4096 or (buffer and not lines):
                    server.sendall(buffer)  # a literal's bytes, or a partial line
                    buffer = b""
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_WR)

    def _downstream(self, server: socket.socket, client: socket.socket, pending: dict) -> None:
        buffer = b""
        try:
            while data := server.recv(65536):
                tag = pending.get("tag")
                if tag is None:
                    client.sendall(data)
                    continue
                buffer += data
                at = buffer.find(b"\r\n" + tag)
                if buffer.startswith(tag) or at >= 0:
                    client.sendall(buffer[: at + 2] if at >= 0 else b"")
                    self._cut(client, server)
                    return
                keep = buffer.rfind(b"\r\n")
                if keep >= 0:
                    client.sendall(buffer[: keep + 2])
                    buffer = buffer[keep + 2 :]
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)


_OAUTH2_CONF = """\
protocols = imap
listen = {host}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = xoauth2 oauthbearer
auth_failure_delay = 0
auth_verbose = yes
mail_location = maildir:{d}/mail/%u
mail_fsync = never
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 100
protocol imap {{
  mail_max_userip_connections = 100
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  chroot =
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d}/dovecot-oauth2.conf.ext
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={d}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""


def start_oauth2_dovecot(issuer: str, key_base64: str, attempts: int = 3) -> Dovecot:
    """A second private Dovecot whose passdb is oauth2: it accepts the JWT access tokens
    (HS256, key id "k1", scope "mail") that `issuer` signs with `key_base64`, for any user
    (their `sub`), and refuses expired ones (../shared/recipes/dovecot-oauth2.md). Plain
    IMAP on loopback; the `Dovecot` it returns has no passwd-file accounts."""
    root = Path(tempfile.mkdtemp(prefix="mailcore-dovecot-oauth2-"))
    for sub in ("run", "state", "mail", "home", "keys/default/HS256"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "keys/default/HS256/k1").write_text(key_base64 + "\n")
    (root / "dovecot-oauth2.conf.ext").write_text(
        "introspection_mode = local\n"
        f"local_validation_key_dict = fs:posix:prefix={root}/keys/\n"
        "username_attribute = sub\n"
        f"issuers = {issuer}\n"
        "scope = mail\n"
    )
    for path in [root, *root.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    shutil.chown(root / "mail", "dovecot", "dovecot")
    shutil.chown(root / "home", "dovecot", "dovecot")
    error = ""
    for _ in range(attempts):
        port = free_port()
        conf = root / "dovecot.conf"
        conf.write_text(_OAUTH2_CONF.format(d=root, host=HOST, port=port))
        (root / "dovecot.log").write_text("")
        proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_for_greeting(HOST, port, timeout=10)
        except TimeoutError as e:
            proc.terminate()
            _, stderr = proc.communicate(timeout=10)
            error = f"{e}\n{stderr.decode(errors='replace')}\n{_read(root / 'dovecot.log')}"
            if "in use" not in error:
                break
            continue
        return Dovecot(root, HOST, port, port, "", proc)
    shutil.rmtree(root, ignore_errors=True)
    raise ServerError(f"the OAuth2 dovecot did not start:\n{error}")
