"""`mailcore serve` on waitress: several worker processes on one port sharing the session key,
one poller among them (and again after its worker died), a clean stop on SIGTERM."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.mailcore.engine_support import vehicle_mail
from tests.servers import free_port

MAILCORE = Path(sys.executable).parent / "mailcore"


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[str]
    maildir: Path
    lines: list[str] = field(default_factory=list)

    def wait_for(self, pattern: str, count: int = 1, seconds: float = 30.0) -> list[str]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = [line for line in list(self.lines) if re.search(pattern, line)]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {count} x {pattern!r} in: {''.join(self.lines)}")

    def workers(self) -> set[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return {int(pid) for pid in children.split()}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`mailcore serve --workers 2 --threads 2 --poll` on a Maildir holding three mails."""
    maildir = tmp_path / "mail"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for n in range(3):
        (maildir / "new" / f"{n}.eml").write_bytes(vehicle_mail(ident=f"VEH-{n}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    env.update(
        MAILCORE_MAILDIR=str(maildir),
        MAILCORE_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}",
        MAILCORE_POLL_INTERVAL="0.5",
    )
    port = free_port()
    args = [str(MAILCORE), "serve", "--port", str(port), "--workers", "2", "--threads", "2"]
    proc = subprocess.Popen(
        [*args, "--poll"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served = Served(f"http://127.0.0.1:{port}", proc, maildir)
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: served.lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    try:
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def log_in(served: Served) -> urllib.request.OpenerDirector:
    (line,) = served.wait_for(r"password \S+ \(shown only now\)")
    password = re.search(r"password (\S+) \(shown", line)
    assert password
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    page = wait_until_up(browser, served.url + "/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token, page
    form = {"csrf_token": token.group(1), "username": "admin", "password": password.group(1)}
    landed = browser.open(served.url + "/login", urllib.parse.urlencode(form).encode(), 10)
    assert landed.url.endswith("/failed/")
    return browser


def wait_until_up(browser: urllib.request.OpenerDirector, url: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            return str(browser.open(url, timeout=5).read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_workers_share_the_port_and_the_session_and_one_of_them_polls(served: Served) -> None:
    browser = log_in(served)
    assert len(served.workers()) == 2
    # A new connection each time: the kernel hands them to either worker, and each accepts
    # the session the other started (one signing key, sessions in the database).
    for _ in range(12):
        page = browser.open(served.url + "/failed/", timeout=10)
        assert page.url.endswith("/failed/")  # not sent back to the login page
    deadline = time.monotonic() + 30
    while any(any((served.maildir / sub).iterdir()) for sub in ("new", "cur")):
        assert time.monotonic() < deadline, "the inbox was never polled"
        time.sleep(0.1)
    filed = [p for p in served.maildir.glob(".*/*/*") if p.parent.name in ("new", "cur")]
    assert len(filed) == 3  # each once: one poller, or the claims, never two copies
    (first,) = served.wait_for(r"worker 0 \(pid \d+\) polls")
    poller = int(re.findall(r"pid (\d+)", first)[0])
    assert poller in served.workers()

    os.kill(poller, signal.SIGKILL)
    again = served.wait_for(r"worker 0 \(pid \d+\) polls", count=2)
    assert int(re.findall(r"pid (\d+)", again[1])[0]) != poller
    deadline = time.monotonic() + 30
    while len(served.workers()) != 2 or poller in served.workers():
        assert time.monotonic() < deadline, served.lines
        time.sleep(0.1)
    assert browser.open(served.url + "/failed/", timeout=10).url.endswith("/failed/")
    assert len(served.wait_for(r"polls every")) == 2  # never two at once: one per start

    workers = served.workers()
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=30) == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


GIVING_UP = """
import console.production as production

production.RESTART_PAUSE = 0.05


def make_app(index):
    raise RuntimeError("the database is down")


sock = production.listening_socket("127.0.0.1", 0)
options = production.ServerOptions(workers=2)
print("served" if production.run_workers(make_app, sock, options) else "gave up")
"""


def test_workers_dying_as_they_start_are_not_restarted_forever() -> None:
    run = subprocess.run(
        [sys.executable, "-c", GIVING_UP], capture_output=True, text=True, timeout=60
    )
    assert run.stdout.strip() == "gave up", run.stderr
    assert run.stderr.count("the database is down") >= 5  # each worker's failure is logged


def test_serve_on_a_database_behind_the_code_says_to_run_migrate(
    tmp_path: Path, postgres_url: str
) -> None:
    import sqlalchemy as sa

    from mailcore.store.db import connect, engine_for

    connect(postgres_url).dispose()
    engine = engine_for(postgres_url)
    with engine.begin() as conn:  # as a database of an older mailcore would be
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    env.update(MAILCORE_MAILDIR=str(tmp_path / "mail"), MAILCORE_DATABASE_URL=postgres_url)
    args = [str(MAILCORE), "serve", "--port", str(free_port())]
    run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "schema at revision 0001" in run.stderr and "run `mailcore migrate`" in run.stderr
    assert "Console:" not in run.stdout
