"""`mailcore serve --poll`'s background poller, and the console commands' start-up checks."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from console.commands import Poller
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing.engine import Engine
from tests.mailcore.engine_support import Calls, make_registry, vehicle_mail
from tests.mailcore.store.test_retention import FailingOnce
from tests.servers import free_port


def test_background_poller_purges_and_survives_a_purge_error(tmp_path: Path):
    box = MaildirMailbox(tmp_path / "mail")
    box.append("INBOX", vehicle_mail(plate="BEFORE"))

    class Delivering(FailingOnce):
        @staticmethod
        def side_effect() -> None:
            """The failing purge brings new mail, which only a poll after it can handle."""
            box.append("INBOX", vehicle_mail(plate="AFTER"))

    history = Delivering(f"sqlite:///{tmp_path / 'h.db'}", retention_days=30)
    calls = Calls()
    poller = Poller(Engine(box, make_registry(calls), history), 0.02).start()
    try:
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        poller.stop()
        history.close()
    assert history.purges == 1  # tried after the first poll; not again within the hour
    assert [payload["plate_number"] for _, payload in calls] == ["BEFORE", "AFTER"]
    assert box.uids("INBOX") == []


def test_background_poller_waits_after_a_failure_and_outlives_any_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from mailcore.commands.poll import MIN_RETRY_SECONDS
    from mailcore.errors import MailboxError
    from mailcore.store.history import History

    history = History(f"sqlite:///{tmp_path / 'h.db'}")
    engine = Engine(MaildirMailbox(tmp_path / "mail"), make_registry(Calls()), history)
    polls: list[float] = []
    errors = [RuntimeError("a bug on one mail"), MailboxError("server down")]

    def poll_once(*args: object, **kwargs: object) -> list[object]:
        polls.append(time.monotonic())
        if len(polls) <= len(errors):
            raise errors[len(polls) - 1]
        return []

    monkeypatch.setattr(engine, "poll_once", poll_once)
    poller = Poller(engine, 0.01).start()  # a tiny interval: failures would spin
    try:
        deadline = time.monotonic() + 10
        while len(polls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        poller.stop()
        history.close()
    assert len(polls) >= 3  # alive after a non-MailcoreError
    assert polls[1] - polls[0] >= MIN_RETRY_SECONDS
    assert polls[2] - polls[1] >= MIN_RETRY_SECONDS


MAILCORE = Path(sys.executable).parent / "mailcore"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    return {**env, **extra}


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_a_port_in_use_is_refused_before_the_console_url_is_printed(tmp_path: Path, command: str):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = clean_env(
            MAILCORE_MAILDIR=str(tmp_path / "mail"),
            MAILCORE_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}",
        )
        args = [str(MAILCORE), command, "--port", str(port)]
        if command == "demo":
            args += ["--data", str(tmp_path / "demo")]
        run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert f"port {port} is in use" in run.stderr
    hint = f"make run PORT={port + 1}" if command == "demo" else f"--port {port + 1}"
    assert hint in run.stderr
    assert "Console:" not in run.stdout


def demo_output(data: Path, *extra: str) -> str:
    """What `mailcore demo` prints up to its console URL (then it is stopped)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = subprocess.Popen(
        [str(MAILCORE), "demo", "--data", str(data), "--port", str(port), *extra],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if "Console:" in line:
                break
    finally:
        demo.terminate()
        demo.wait(timeout=30)
    output = "".join(lines)
    assert f"Console: http://127.0.0.1:{port}/" in output
    return output


def test_every_demo_run_says_how_to_log_in_add_users_and_start_again(tmp_path: Path):
    data = tmp_path / "demo"
    first = demo_output(data)
    password = re.search(r"password: (\S+)", first)
    assert "First run" in first and password, first
    assert f"{MAILCORE} create-user --data {data} NAME" in first, first
    again = demo_output(data)
    assert "First run" not in again
    assert f"password: {password.group(1)}" in again  # the same login, reprinted
    assert "make run RESET=1" in again and f"{MAILCORE} demo --reset" in again
    reset = demo_output(data, "--reset")
    assert "First run" in reset and f"password: {password.group(1)}" not in reset
    # The first admin has an e-mail address, so "Send a test" works for it.
    from console.accounts import Accounts
    from mailcore import History

    history = History(f"sqlite:///{data / 'mailcore.db'}")
    try:
        admin = Accounts(history.engine).by_name("admin")
        assert admin is not None and admin.email and "@" in admin.email
    finally:
        history.close()


def create_user(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`mailcore create-user ARGS --password-stdin` run in `cwd`, without MAILCORE_* settings."""
    return subprocess.run(
        [str(MAILCORE), "create-user", *args, "--password-stdin"],
        cwd=cwd,
        env=clean_env(),
        input="a-long-enough-password\n",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_create_user_writes_to_the_demos_database_and_says_so(tmp_path: Path):
    demo_output(tmp_path / "demo-data")
    run = create_user(tmp_path, "bruno", "--role", "author")
    database = (tmp_path / "demo-data" / "mailcore.db").resolve()
    assert run.returncode == 0, run.stderr
    assert f"created author 'bruno' in {database}" in run.stdout
    assert not (tmp_path / "mailcore.db").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    missing = create_user(elsewhere, "x", "--data", "nowhere")
    assert missing.returncode == 1 and "no demo database in nowhere" in missing.stderr


def test_demo_data_is_private_to_its_user_whatever_the_umask(tmp_path: Path):
    from console.commands import prepare_demo

    old = os.umask(0o022)  # the usual default: what `make run` gets
    try:
        demo = prepare_demo(tmp_path / "demo-data")
        try:
            demo.services.history.events(limit=1)  # the WAL files exist while it is open
            root = demo.root
            files = [p for p in root.rglob("*") if p.is_file()]
            names = {p.name for p in files}
            assert {
                "mailcore.db",
                "mailcore.db-wal",
                "mailcore.db-shm",
                "secret_key",
            } <= names
            assert "office.json" in names and any(p.parent.name == "new" for p in files)
            for path in [root, *root.rglob("*")]:
                mode = path.stat().st_mode & 0o777
                assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
        finally:
            demo.services.close()
    finally:
        os.umask(old)


def test_an_old_demo_data_directory_is_closed_to_others(tmp_path: Path):
    from console.commands import prepare_demo

    root = tmp_path / "demo-data"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    prepare_demo(root).services.close()
    assert root.stat().st_mode & 0o777 == 0o700


# A console-sized app served by the commands' own `serve_app`, in its own process, with the
# server limits lowered so the test does not wait 30 s.
SERVE_SCRIPT = """
import sys
from flask import Flask
import console.server as server

server.SERVER_TIMEOUT = float(sys.argv[2])
server.SERVER_THREADS = int(sys.argv[3])
app = Flask("probe")
app.add_url_rule("/", "index", lambda: "ok")
app.add_url_rule("/big", "big", lambda: "x" * 2_000_000)
server.serve_app(app, "127.0.0.1", int(sys.argv[1]))
"""


@pytest.fixture
def served() -> Iterator[Callable[[float, int], int]]:
    """served(timeout, threads) -> port of `serve_app` running in a subprocess with those limits."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(timeout: float, threads: int) -> int:
        port = free_port()
        args = [sys.executable, "-c", SERVE_SCRIPT, str(port), str(timeout), str(threads)]
        procs.append(subprocess.Popen(args, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the server did not start")

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def get(port: int, path: str = "/") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> bool:
    """Whether the server closes `sock` within `seconds`, while we send `trickle` a byte at a
    time every 0.2 s (a slowloris: each byte resets a plain read timeout)."""
    deadline = time.monotonic() + seconds
    sock.settimeout(0.2)
    sent = 0
    while time.monotonic() < deadline:
        try:
            if not sock.recv(4096):
                return True
        except TimeoutError:
            pass
        except OSError:  # reset: closed as well
            return True
        if sent < len(trickle):
            try:
                sock.sendall(trickle[sent : sent + 1])
            except OSError:
                return True
            sent += 1
    return False


def test_the_server_closes_a_half_sent_request_and_serves_others_meanwhile(served) -> None:
    port = served(1.0, 8)
    silent = socket.create_connection(("127.0.0.1", port))
    trickling = socket.create_connection(("127.0.0.1", port))
    try:
        silent.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # half a request, then nothing
        trickling.sendall(b"GET / HTTP/1.1\r\n")
        assert get(port) == (200, b"ok")  # served while both hang
        # Old code: no timeout at all, each held a thread forever.
        assert closed_within(silent, 5)
        assert closed_within(trickling, 5, trickle=b"X-Slow: " + b"a" * 200)
        assert get(port) == (200, b"ok")
        status, body = get(port, "/big")
        assert status == 200 and len(body) == 2_000_000  # the send limit is per chunk
    finally:
        silent.close()
        trickling.close()


def test_the_server_answers_503_beyond_its_thread_limit_then_recovers(served) -> None:
    port = served(3.0, 3)
    stalled = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        for sock in stalled:
            sock.sendall(b"GET / HTTP/1.1\r\n")
        # Until the server has accepted all three (a busy machine may take a while), a request
        # is still served; then it is refused.
        deadline = time.monotonic() + 2.5
        status, body = get(port)
        while status != 503 and time.monotonic() < deadline:
            time.sleep(0.05)
            status, body = get(port)
        assert status == 503 and b"try again" in body
        for sock in stalled:
            assert closed_within(sock, 6)
        assert get(port) == (200, b"ok")
    finally:
        for sock in stalled:
            sock.close()
