"""`mailcore demo`, `mailcore serve` and `mailcore create-user`."""

from __future__ import annotations

import errno
import io
import logging
import os
import secrets
import shlex
import shutil
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

log = logging.getLogger(__name__)


class Poller:
    """Runs engine.poll_once() every `interval` seconds in a daemon thread, and applies the
    history's retention (at most once a day). After a failed poll, whatever the exception, it
    waits the interval and never less than MIN_RETRY_SECONDS."""

    def __init__(self, engine: Any, interval: float) -> None:
        from mailcore import MIN_RETRY_SECONDS, RetentionSchedule

        self.engine = engine
        self.interval = interval
        self.retry = max(interval, MIN_RETRY_SECONDS)
        self.retention = RetentionSchedule(engine.history)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mailcore-poller", daemon=True)

    def start(self) -> Poller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        wait = self.interval
        while not self._stop.wait(wait):
            wait = self.interval
            try:
                outcomes = self.engine.poll_once()
                if outcomes:
                    log.info("poll: %d message(s) handled", len(outcomes))
            except Exception:  # keep polling: the next round may succeed (server back up)
                wait = self.retry  # a failure that repeats must not spin
                log.exception("poll failed; retrying in %.0f s", wait)
            try:
                self.retention.maybe_purge()  # logs its own failure and carries on
            except Exception:  # the thread must outlive any one failure
                log.exception("retention purge failed; polling goes on")


def check_port(host: str, port: int, hint: str) -> None:
    """Fail with a ClickException (saying `hint`) when `port` cannot be listened on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise click.ClickException(f"cannot listen on {host}: {exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As the server will: a port held only by connections in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(f"port {port} is in use: {hint}") from None
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None


def mailcore_command() -> str:
    """How to run mailcore again from this shell (it may not be on PATH, e.g. after
    `make run`): the script this process was started as."""
    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).name == "mailcore":
        return shlex.quote(argv0)
    beside = Path(sys.executable).parent / "mailcore"
    return shlex.quote(str(beside)) if beside.exists() else "mailcore"


# The built-in server's limits against clients that connect and then stall (slowloris):
# seconds a client may stay silent, and to send a request line and its headers, before its
# connection is closed; connections served at once (more are answered 503 straight away).
SERVER_TIMEOUT = 30.0
SERVER_THREADS = 64
_SEND_CHUNK = 64 * 1024


class _DeadlineReader(io.RawIOBase):
    """The connection's input: every read waits at most the idle timeout, and while the
    handler's header deadline is set, no longer than what is left of it."""

    def __init__(self, handler: Any) -> None:
        self._handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        handler = self._handler
        wait = handler.timeout
        if handler.header_deadline is not None:
            wait = min(wait, handler.header_deadline - time.monotonic())
            if wait <= 0:
                raise TimeoutError("request headers not received in time")
        handler.connection.settimeout(wait)
        return int(handler.connection.recv_into(buffer))


class _ProgressWriter(io.BufferedIOBase):
    """The connection's output in chunks: a slow reader may take as long as it needs, but a
    reader that takes nothing for the idle timeout is dropped."""

    def __init__(self, handler: Any) -> None:
        self._handler = handler

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        for start in range(0, len(view), _SEND_CHUNK):
            self._handler.connection.settimeout(self._handler.timeout)
            self._handler.connection.sendall(view[start : start + _SEND_CHUNK])
        return len(view)


def _handler_class() -> type[Any]:
    from werkzeug.serving import WSGIRequestHandler

    class ConsoleRequestHandler(WSGIRequestHandler):
        """werkzeug's handler with a read timeout and a deadline for the request headers."""

        timeout = SERVER_TIMEOUT  # StreamRequestHandler.setup applies it to the socket
        header_deadline: float | None = None

        def setup(self) -> None:
            super().setup()
            self.rfile.close()  # werkzeug's own reader: replaced by one keeping the deadline
            self.rfile = io.BufferedReader(_DeadlineReader(self))
            self.wfile = _ProgressWriter(self)

        def handle_one_request(self) -> None:
            # From waiting for the request line (also between keep-alive requests) until
            # the headers are in: one deadline, however slowly the bytes trickle in.
            self.header_deadline = time.monotonic() + self.timeout
            super().handle_one_request()

        def parse_request(self) -> bool:
            try:
                return bool(super().parse_request())
            finally:
                self.header_deadline = None  # the body: the idle timeout only

    return ConsoleRequestHandler


def make_console_server(
    app: Any,
    host: str,
    port: int,
    *,
    timeout: float | None = None,
    max_threads: int | None = None,
) -> Any:
    """werkzeug's threaded server for `app`, bounded: `timeout` seconds of silence (or to send
    the headers) closes a connection, and at most `max_threads` are served at once
    (defaults: SERVER_TIMEOUT, SERVER_THREADS)."""
    from werkzeug.serving import ThreadedWSGIServer

    timeout = SERVER_TIMEOUT if timeout is None else timeout
    limit: int = SERVER_THREADS if max_threads is None else max_threads

    handler = type("Handler", (_handler_class(),), {"timeout": timeout})

    class ConsoleServer(ThreadedWSGIServer):
        slots = threading.BoundedSemaphore(limit)

        def process_request(self, request: Any, client_address: Any) -> None:
            if not self.slots.acquire(blocking=False):
                log.warning("%d connections already open: answering 503", limit)
                _refuse(request)
                self.shutdown_request(request)
                return
            try:
                super().process_request(request, client_address)
            except BaseException:
                self.slots.release()
                raise

        def process_request_thread(self, request: Any, client_address: Any) -> None:
            try:
                super().process_request_thread(request, client_address)
            finally:
                self.slots.release()

    return ConsoleServer(host, port, app, handler)


def _refuse(connection: socket.socket) -> None:
    body = b"Too many open connections; try again in a few seconds.\n"
    try:
        connection.settimeout(1)
        connection.sendall(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n"
            b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
    except OSError:
        pass


def _serve(app: Any, host: str, port: int) -> None:
    server = make_console_server(app, host, port)
    server.log_startup()
    server.serve_forever()


def ensure_admin(accounts: Any, username: str = "admin", email: str | None = None) -> str | None:
    """Create the first admin when there is no account, with `email` (so "Send a test"
    works for it); returns its password (shown once)."""
    if accounts.count() > 0:
        return None
    password = secrets.token_urlsafe(12)
    accounts.create(username, password, "admin", email=email, by="first-run")
    return password


def admin_email(settings: Any) -> str:
    """The first admin's e-mail address: $MAILCORE_ADMIN_EMAIL, else the configured sender's
    address, else this user's on this machine (user@localhost)."""
    import getpass
    from email.utils import parseaddr

    from mailcore import configured_sender

    chosen = os.environ.get("MAILCORE_ADMIN_EMAIL", "").strip()
    if chosen:
        return chosen
    sender = parseaddr(configured_sender(settings) or "")[1]
    if "@" in sender:
        return sender
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        user = "admin"
    return f"{user}@localhost"


def database_label(url: str) -> str:
    """A database URL as the commands name it: the file of a SQLite one, else the URL
    without its password."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return str(Path(parsed.database).resolve())
    return parsed.render_as_string(hide_password=True)


def _write_private(path: Path, text: str) -> None:
    """Create `path` as 0600 from the start (a chmod after writing leaves a window)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


DEMO_PASSWORD_FILE = "admin-password"  # under the demo's directory, mode 0600


@dataclass
class DemoEnv:
    root: Path
    settings: Any
    services: Any
    secret_key: str
    counts: dict[str, int]  # first poll: status -> number of messages
    password: str | None  # the first-run admin's password, None when accounts existed
    remembered: str | None = None  # the first-run password kept for later runs (demo only)


def prepare_demo(root: Path, *, reset: bool = False) -> DemoEnv:
    """Seed the demo mailbox under `root` (once), poll it, and ensure an admin exists."""
    from console.demo import Office, build_registry, sample_mails
    from console.services import build_services
    from mailcore import Settings

    root = root.resolve()
    if reset and root.exists():
        shutil.rmtree(root)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Mail, the database (password hashes) and the session key: the demo's user only, also
    # for a demo-data/ made by an older version with the umask's modes.
    root.chmod(0o700)
    key_file = root / "secret_key"
    if not key_file.exists():
        _write_private(key_file, secrets.token_hex(32))
    settings = Settings(
        maildir=str(root / "mail"), database_url=f"sqlite:///{root / 'mailcore.db'}"
    )
    svc = build_services(settings, registry=build_registry(Office(root / "office.json")))
    seeded = root / ".seeded"
    if not seeded.exists():
        svc.mailbox.ensure_folder(settings.folders.inbox)
        for _name, raw in sample_mails():
            svc.mailbox.append(settings.folders.inbox, raw)
        seeded.touch(mode=0o600)
    counts: dict[str, int] = {}
    for outcome in svc.engine.poll_once():
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    password = ensure_admin(svc.accounts, email=admin_email(settings))
    # A demo is local and its directory the user's only: keep the first-run password there
    # so that every `make run` can say how to log in again.
    remembered_file = root / DEMO_PASSWORD_FILE
    if password is not None:
        remembered_file.unlink(missing_ok=True)
        _write_private(remembered_file, password)
    remembered = (
        remembered_file.read_text(encoding="utf-8").strip() if remembered_file.exists() else None
    )
    secret = key_file.read_text(encoding="utf-8").strip()
    return DemoEnv(root, settings, svc, secret, counts, password, remembered)


@click.command()
@click.option("--data", "data_dir", default="demo-data", show_default=True, type=click.Path())
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--reset", is_flag=True, help="Start again from the sample mails.")
@click.option("--poll-interval", default=10.0, show_default=True, help="Seconds between polls.")
def demo(data_dir: str, host: str, port: int, reset: bool, poll_interval: float) -> None:
    """The console on a local demo mailbox seeded with sample mails; no server needed."""
    from console import create_app

    check_port(host, port, f"run `make run PORT={port + 1}` (or `mailcore demo --port {port + 1}`)")
    demo_env = prepare_demo(Path(data_dir), reset=reset)
    svc = demo_env.services
    svc.poller = Poller(svc.engine, poll_interval).start()
    app = create_app({"SECRET_KEY": demo_env.secret_key, "MAILCORE_SERVICES": svc})
    url = f"http://{host}:{port}/"
    _echo_demo(demo_env, url, poll_interval, data_dir)
    try:
        _serve(app, host, port)
    finally:
        svc.close()


def _echo_demo(demo_env: DemoEnv, url: str, poll_interval: float, data_dir: str) -> None:
    """What a newcomer needs at every `make run`: where things are, how to log in, how to
    start again."""
    root, counts = demo_env.root, demo_env.counts
    database = root / "mailcore.db"
    click.echo(f"mailcore demo: mailbox {demo_env.settings.maildir}, database {database}")
    if counts:
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        click.echo(f"poll: {summary}")
    click.echo("")
    if demo_env.password:
        click.echo("  First run: an admin account was created.")
    if demo_env.remembered:
        click.echo(f"  Log in as:\n    username: admin\n    password: {demo_env.remembered}")
        click.echo(f"  (kept in {root / DEMO_PASSWORD_FILE}; wrong if it was changed since)")
    else:
        click.echo("  Log in with your console account (the first-run admin password is gone).")
    command = mailcore_command()
    click.echo(f"  More users: the Admin page, or {command} create-user --data {data_dir} NAME")
    click.echo(
        "  Start again from the sample mails (new admin password): make run RESET=1"
        f" (or {command} demo --reset)"
    )
    click.echo(f"\n  Console: {url}\n  The demo mailbox is polled every {poll_interval:g} s.\n")


@click.command()
@click.option("--config", "config_path", type=click.Path(exists=True), help="TOML settings file.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--poll/--no-poll",
    default=False,
    show_default=True,
    help="Also poll the mailbox in a background thread (else run `mailcore poll` separately).",
)
def serve(config_path: str | None, host: str, port: int, poll: bool) -> None:
    """The console on the configured mailbox and database (MAILCORE_* settings)."""
    from console import create_app
    from console.services import build_services
    from mailcore import Settings
    from mailcore.errors import ConfigError

    check_port(host, port, f"pass another one, e.g. --port {port + 1}")
    try:
        settings = Settings.load(config_path)
        svc = build_services(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    console_cfg = settings.section("console")
    overrides: dict[str, Any] = {"MAILCORE_SERVICES": svc, "MAILCORE_SETTINGS": settings}
    if console_cfg.get("secret_key"):
        overrides["SECRET_KEY"] = console_cfg["secret_key"]
    if poll:
        svc.poller = Poller(svc.engine, settings.poll_interval).start()
    password = ensure_admin(svc.accounts, email=admin_email(settings))
    click.echo(f"Database: {database_label(settings.database_url)}")
    if password:
        click.echo(f"First run: created user 'admin' with password {password} (shown only now).")
    click.echo(f"Console: http://{host}:{port}/")
    try:
        _serve(create_app(overrides), host, port)
    finally:
        svc.close()


@click.command("create-user")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(["operator", "author", "admin"]),
    default="operator",
    show_default=True,
)
@click.option("--email", default=None)
@click.option("--config", "config_path", type=click.Path(exists=True), help="TOML settings file.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False),
    help="The demo's directory (`make run`'s: demo-data): its database. Default: the settings"
    " (--config, MAILCORE_CONFIG, MAILCORE_DATABASE_URL), else ./demo-data when it exists.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(
    username: str,
    role: str,
    email: str | None,
    config_path: str | None,
    data_dir: str | None,
    password_stdin: bool,
) -> None:
    """Create a console user in the database `mailcore serve` (or `make run`) uses; says
    which (the password is asked for, never passed as an argument)."""
    from console.accounts import AccountError, Accounts
    from mailcore import History
    from mailcore.errors import ConfigError

    try:
        database_url = user_database(config_path, data_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Database: {database_label(database_url)}")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    history = History(database_url)
    try:
        user = Accounts(history.engine, history).create(
            username, password, role, email=email, by="cli"
        )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        history.close()
    click.echo(f"created {user.role} {user.username!r} in {database_label(database_url)}")


DEMO_DATA = "demo-data"  # `mailcore demo`'s (and so `make run`'s) default directory


def user_database(config_path: str | None, data_dir: str | None) -> str:
    """The database an account command writes to: the demo's under `data_dir` when given;
    else the settings' when any say where (a file, MAILCORE_CONFIG, MAILCORE_DATABASE_URL);
    else the demo's in ./demo-data when there is one; else the settings' default."""
    from mailcore import Settings
    from mailcore.errors import ConfigError

    if data_dir is not None:
        database = Path(data_dir) / "mailcore.db"
        if not database.exists():
            raise ConfigError(f"no demo database in {data_dir}: run `make run` first")
        return f"sqlite:///{database.resolve()}"
    settings = Settings.load(config_path)
    configured = config_path or os.environ.get("MAILCORE_CONFIG")
    demo = Path(DEMO_DATA) / "mailcore.db"
    if not configured and not os.environ.get("MAILCORE_DATABASE_URL") and demo.exists():
        return f"sqlite:///{demo.resolve()}"
    return str(settings.database_url)
