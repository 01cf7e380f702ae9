"""A private Postfix on a loopback port whose pipe transport runs `mailcore ingest` (as `nobody`).

`start_postfix()` writes main.cf/master.cf in a fresh directory and starts the instance (the
configuration and its pitfalls: ../shared/recipes/postfix-pipe.md); mail for ops.test goes to
`mailcore ingest` with the envelope sender and recipient (`configure()` gives its settings),
anything Postfix generates (bounces) to a sink that keeps it in `out/`. `send()` returns the
queue id, `wait_for()` the maillog status (sent, deferred, bounced), `queue()` what is still
queued.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.servers import HOST, ServerError, free_port

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
MASTER = "/usr/lib/postfix/sbin/master"
# `nobody` cannot run the checkout's interpreter (under /root); Debian's Python 3.11 runs the
# same code with the virtualenv's packages on its path.
SYSTEM_PYTHON = "/usr/bin/python3"

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/spool
data_directory = {dir}/data
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
syslog_name = postfix-{port}
myhostname = mx.ops.test
mydomain = ops.test
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = ops.test
relay_recipient_maps =
smtpd_relay_restrictions = reject_unauth_destination
transport_maps = inline:{{ ops.test=mailcore: }}
default_transport = sink
recipient_delimiter = +
mailcore_destination_recipient_limit = 1
sink_destination_recipient_limit = 1
alias_maps =
alias_database =
local_recipient_maps =
biff = no
in_flow_delay = 0
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
"""

MASTER_CF = """\
{host}:{port} inet n  -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
mailcore  unix  -       n       n       -       -       pipe
  flags=DORq null_sender= user=nobody argv={command} ${{sender}} ${{recipient}}
sink      unix  -       n       n       -       -       pipe
  flags=Rq user=nobody argv={dir}/bin/sink ${{sender}} ${{recipient}}
"""

SINK = """\
#!/bin/sh
cat > "{dir}/out/$(date +%s%N).eml"
"""

_QUEUE_ID = re.compile(rb"queued as ([0-9A-Za-z]+)")


CHECKOUT = Path(__file__).resolve().parents[1]


def _ingest_wrapper(root: Path) -> Path:
    """A script `nobody` can run: `mailcore ingest --config ROOT/mailcore.toml --sender $1
    --recipient $2` on the system Python, the checkout and the virtualenv's packages on its
    path."""
    site = next((CHECKOUT / ".venv" / "lib").glob("python3*/site-packages"))
    script = root / "bin" / "mailcore-ingest"
    script.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH={CHECKOUT}:{site} exec {SYSTEM_PYTHON} -c "
        "'import sys; from mailcore.cli import main; sys.argv[0] = \"mailcore\"; main()' "
        f'ingest --config {root}/mailcore.toml --sender "$1" --recipient "$2"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


@dataclass
class Postfix:
    """A running private Postfix; `stop()` ends it and removes its directory."""

    root: Path
    host: str
    port: int

    def configure(self, settings: str) -> None:
        """The mailcore settings (TOML) the pipe's `mailcore ingest` reads from now on."""
        path = self.root / "mailcore.toml"
        path.write_text(settings, encoding="utf-8")
        path.chmod(0o644)

    @property
    def etc(self) -> str:
        return str(self.root / "etc")

    def maillog(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> str:
        """Submit over SMTP; returns the queue id from the DATA reply."""
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.ehlo("client.test")
            smtp.mail(sender)
            for rcpt in recipients:
                code, _ = smtp.rcpt(rcpt)
                if code != 250:
                    raise ServerError(f"RCPT {rcpt} refused: {code}")
            code, reply = smtp.data(raw)
        found = _QUEUE_ID.search(reply)
        if code != 250 or found is None:
            raise ServerError(f"DATA refused: {code} {reply!r}")
        return found.group(1).decode()

    def wait_for(self, queue_id: str, status: str, timeout: float = 30.0) -> str:
        """The maillog line of `queue_id` with ``status=<status>`` (sent, deferred, bounced)."""
        deadline = time.monotonic() + timeout
        pattern = re.compile(rf"{re.escape(queue_id)}: to=<[^>]*>.*status={status}\b.*")
        while time.monotonic() < deadline:
            found = pattern.search(self.maillog())
            if found:
                return found.group(0)
            time.sleep(0.05)
        raise ServerError(f"no status={status} for {queue_id} in:\n{self.maillog()[-3000:]}")

    def queue(self) -> list[dict[str, object]]:
        """`postqueue -j`: one dict per queued message (queue_id, queue_name, recipients...)."""
        out = subprocess.run(
            ["postqueue", "-c", self.etc, "-j"], capture_output=True, timeout=10, check=True
        ).stdout
        return [json.loads(line) for line in out.decode().splitlines() if line.strip()]

    def flush(self) -> None:
        """`postqueue -f`: retry every deferred message now."""
        subprocess.run(["postqueue", "-c", self.etc, "-f"], capture_output=True, timeout=10)

    def bounces(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted((self.root / "out").glob("*.eml"))]

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            subprocess.run(["postsuper", "-c", self.etc, "-d", "ALL"], capture_output=True)
        with contextlib.suppress(Exception):
            subprocess.run([POSTFIX, "-c", self.etc, "stop"], capture_output=True, timeout=20)
        _kill_instance(self.etc)
        for _ in range(100):
            done = subprocess.run([MASTER, "-c", self.etc, "-t"], capture_output=True)
            if done.returncode == 0:
                break
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)


def _kill_instance(etc: str) -> None:
    """SIGKILL what is left of the instance (a pipe command running during stop survives it)."""
    marker = f"MAIL_CONFIG={etc}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)


def _wait_for_220(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2) as sock:
                if sock.recv(512).startswith(b"220"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise ServerError(f"postfix on {host}:{port} did not greet within {timeout}s")
        time.sleep(0.05)


def _start_on_pty(etc: str) -> tuple[int, str]:
    """`postfix -c etc start` with a terminal on stderr (it reports errors only to one)."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [POSTFIX, "-c", etc, "start"], stdout=follower, stderr=follower, timeout=60
        )
    finally:
        os.close(follower)
    output = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(leader, 65536):
            output += chunk
            if len(chunk) < 65536:
                break
    os.close(leader)
    return proc.returncode, output.decode(errors="replace")


def start_postfix(attempts: int = 3) -> Postfix:
    """A private Postfix whose mailcore transport runs `mailcore ingest` (`configure` sets
    its settings), ready for SMTP."""
    root = Path(tempfile.mkdtemp(prefix="mc-postfix-"))
    root.chmod(0o755)
    for sub in ("etc", "spool", "data", "bin", "out"):
        (root / sub).mkdir()
    shutil.chown(root / "data", "postfix", "postfix")
    shutil.chown(root / "out", "nobody", "nogroup")
    (root / "bin" / "sink").write_text(SINK.format(dir=root), encoding="utf-8")
    (root / "bin" / "sink").chmod(0o755)
    last = ""
    for _ in range(attempts):
        port = free_port()
        cmd = str(_ingest_wrapper(root))
        (root / "etc" / "main.cf").write_text(MAIN_CF.format(dir=root, port=port))
        (root / "etc" / "master.cf").write_text(
            MASTER_CF.format(dir=root, host=HOST, port=port, command=cmd)
        )
        old = time.time() - 60  # a young config makes every command re-read it for ~2 s
        for name in ("main.cf", "master.cf"):
            os.utime(root / "etc" / name, (old, old))
        code, last = _start_on_pty(str(root / "etc"))
        if code == 0:
            try:
                _wait_for_220(HOST, port, timeout=10)
                return Postfix(root, HOST, port)
            except Exception as exc:
                last = str(exc)
        _kill_instance(str(root / "etc"))
    shutil.rmtree(root, ignore_errors=True)
    raise ServerError(f"postfix did not start: {last}")
