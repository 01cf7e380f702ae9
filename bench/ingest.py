"""Benchmark push ingress against a real (private, local) Dovecot, beside IMAP APPEND.

The same N messages (default 40, about 3 KB each) go into an account's INBOX three ways, in
the same run:

- IMAP APPEND through `ImapMailbox.append` on one connection: the baseline, what the store
  costs by itself;
- `mailcore ingest`, one process per mail as an MTA's pipe runs it (stdin in, exit status
  out; the interpreter's start-up and the IMAP login are part of every mail);
- POST /ingress/mime to the console served by werkzeug on 127.0.0.1 (a bearer token, one
  HTTP connection per request, the app's one IMAP connection kept).

Printed: messages/second of each and its speed as a ratio to APPEND's. The three are measured
--runs times (default 3), alternating, on fresh accounts; the median is given.

Run: .venv/bin/python bench/ingest.py [--messages 40] [--runs 3]
"""

from __future__ import annotations

import argparse
import http.client
import logging
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from werkzeug.serving import make_server  # noqa: E402

from console import create_app  # noqa: E402
from mailcore.config import Settings  # noqa: E402
from mailcore.ingress import IngressSettings  # noqa: E402
from mailcore.mailboxes.imap import ImapConfig, ImapMailbox  # noqa: E402
from tests.servers import Account, Dovecot, start_dovecot  # noqa: E402

MAILCORE = Path(sys.executable).parent / "mailcore"
TOKEN = "bench-" + secrets.token_hex(8)


def mails(count: int) -> list[bytes]:
    body = "".join(f"line {n}: the quick brown fox jumps over the lazy dog\r\n" for n in range(50))
    return [
        (
            f"From: alice@example.org\r\nTo: reply+VEH-{n:04d}@example.com\r\n"
            f"Subject: Vehicle update {n}\r\nMessage-ID: <{secrets.token_hex(8)}@example.org>\r\n"
            f"Date: Mon, 06 May 2024 10:00:00 +0000\r\n\r\nplate_number: AB-{n}\r\n{body}"
        ).encode()
        for n in range(count)
    ]


def inbox_count(account: Account) -> int:
    with account.session() as c:
        c.select_folder("INBOX")
        return len(c.search())


def run_append(dovecot: Dovecot, account: Account, raws: list[bytes]) -> float:
    box = ImapMailbox(
        ImapConfig(
            host=dovecot.host, port=dovecot.port, security="plain",
            username=account.username, password=account.password,
        )
    )  # fmt: skip
    try:
        box.connect()
        started = time.perf_counter()
        for raw in raws:
            box.append("INBOX", raw)
        return time.perf_counter() - started
    finally:
        box.close()


def run_ingest(account: Account, raws: list[bytes], workdir: Path) -> float:
    config = workdir / f"{account.username}.toml"
    config.write_text(f'imap_url = "{account.imap_url()}"\n', encoding="utf-8")
    started = time.perf_counter()
    for n, raw in enumerate(raws):
        proc = subprocess.run(
            [str(MAILCORE), "ingest", "--config", str(config), "--recipient",
             f"reply+VEH-{n:04d}@example.com", "--sender", "alice@example.org"],
            input=raw, capture_output=True, timeout=60,
        )  # fmt: skip
        if proc.returncode != 0:
            raise SystemExit(f"mailcore ingest failed: {proc.stderr.decode()}")
    return time.perf_counter() - started


def run_http(account: Account, raws: list[bytes], workdir: Path) -> float:
    settings = Settings.from_mapping(
        {
            "imap_url": account.imap_url(),
            "database_url": f"sqlite:///{workdir / (account.username + '.db')}",
        }
    )
    app = create_app(
        {
            "SECRET_KEY": "bench",
            "MAILCORE_SETTINGS": settings,
            "MAILCORE_INGRESS": IngressSettings(mime_token=TOKEN),
        }
    )
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.socket.getsockname()[1]
    try:
        post(port, raws[0])  # the app's services and its IMAP login: not per mail
        started = time.perf_counter()
        for raw in raws[1:]:
            post(port, raw)
        return (time.perf_counter() - started) * len(raws) / max(len(raws) - 1, 1)
    finally:
        server.shutdown()


def post(port: int, raw: bytes) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "message/rfc822",
            "X-Mailcore-Sender": "alice@example.org",
        }
        conn.request("POST", "/ingress/mime", body=raw, headers=headers)
        answer = conn.getresponse()
        text = answer.read()
        if answer.status != 200:
            raise SystemExit(f"POST /ingress/mime: {answer.status} {text[:200]!r}")
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    raws = mails(args.messages)
    n = len(raws)
    dovecot = start_dovecot()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)

            def fresh(run: Callable[[Account], float]) -> float:
                account = dovecot.new_user()
                seconds = run(account)
                assert inbox_count(account) == n, "not every message arrived"
                return seconds

            times: dict[str, list[float]] = {"append": [], "ingest": [], "http": []}
            for _ in range(args.runs):  # alternating, so a busy moment hits all three alike
                times["append"].append(fresh(lambda a: run_append(dovecot, a, raws)))
                times["ingest"].append(fresh(lambda a: run_ingest(a, raws, workdir)))
                times["http"].append(fresh(lambda a: run_http(a, raws, workdir)))
            append, ingest, web = (
                statistics.median(times[k]) for k in ("append", "ingest", "http")
            )
    finally:
        dovecot.stop()
    size = sum(map(len, raws)) / n
    print(f"push ingress: {n} messages of {size:.0f} bytes into a local Dovecot INBOX")
    print(f"  IMAP APPEND (one connection)   {n / append:8.0f} msgs/s   1.00x  (baseline)")
    print(f"  mailcore ingest (process/mail) {n / ingest:8.1f} msgs/s   {append / ingest:.3f}x")
    print(f"  POST /ingress/mime (werkzeug)  {n / web:8.0f} msgs/s   {append / web:.3f}x")


if __name__ == "__main__":
    main()
