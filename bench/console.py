"""Benchmark the console's failed list on a folder of 10,000 failed messages on a real Dovecot.

Measures the first page of /failed/ rendered through the Flask test client (login, Engine,
IMAP, history join, template), beside the floor any list must pay: a plain IMAP
`UID SEARCH ALL` of the same folder over an already open session, in the same run.
Also a filtered page (reason filter: history query + IMAP) for reference.
Target: p95 of the first page under 300 ms.

Run: .venv/bin/python bench/console.py [--messages 10000] [--runs 30]
"""

from __future__ import annotations

import argparse
import hashlib
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console import create_app  # noqa: E402
from console.accounts import Accounts  # noqa: E402
from console.demo import build_registry  # noqa: E402
from console.services import Services  # noqa: E402
from mailcore.mailboxes.imap import ImapConfig, ImapMailbox  # noqa: E402
from mailcore.processing.engine import Engine  # noqa: E402
from mailcore.store.history import EventKind, History, LogEvent  # noqa: E402
from tests.servers import start_dovecot  # noqa: E402

REASONS = [
    "no payload found: the message has no JSON part, YAML/JSON document or key: value lines",
    "payload does not match the schema of handler 'vehicle_registration': $.vin: too short",
    "unknown identifier VEH-9913: no open file has this number",
    "no handler matches: no known identifier",
]


def make_message(i: int) -> bytes:
    return (
        f"From: Garage {i % 97} <garage{i % 97}@partners.example>\r\n"
        f"To: reply+VEH-{1000 + i}@example.com\r\n"
        f"Subject: Re: [VEH-{1000 + i}] Registration request {i}\r\n"
        f"Date: Mon, 17 Nov 2025 {i % 24:02d}:{i % 60:02d}:00 +0000\r\n"
        f"Message-ID: <bench-{i}@partners.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Hello,\r\n\r\nPlate number: AB{i:05d}\r\nOwner: Owner {i}\r\n\r\nRegards\r\n"
    ).encode()


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    dovecot = start_dovecot()
    tmp = tempfile.TemporaryDirectory()
    try:
        account = dovecot.new_user()
        raws = [make_message(i) for i in range(args.messages)]
        start = time.perf_counter()
        with account.session() as imap:
            imap.create_folder("failed")
            for k in range(0, len(raws), 500):
                imap.multiappend("failed", raws[k : k + 500])
            imap.select_folder("failed", readonly=True)
            uids = imap.search(["ALL"])
            validity = int(imap.folder_status("failed", ["UIDVALIDITY"])[b"UIDVALIDITY"])
        print(f"appended {len(uids)} messages in {time.perf_counter() - start:.1f} s")

        history = History(f"sqlite:///{tmp.name}/bench.db")
        states = []
        events = []
        for uid, raw in zip(sorted(uids), raws, strict=True):
            i = uid - 1
            common = {
                "message_key": hashlib.sha256(raw).hexdigest(),
                "message_id": f"<bench-{i}@partners.example>",
                "sender": f"garage{i % 97}@partners.example",
                "subject": f"Re: [VEH-{1000 + i}] Registration request {i}",
                "handler": "vehicle_registration" if i % 4 != 3 else None,
                "status": "failed",
                "reason": REASONS[i % 4],
                "folder": "failed",
                "uidvalidity": validity,
                "uid": uid,
            }
            states.append(common)
            events.append(LogEvent(EventKind.FAILED, **common))
        history.record_batch(events, states)

        mailbox = ImapMailbox(
            ImapConfig(
                host=dovecot.host,
                port=dovecot.port,
                security="plain",
                username=account.username,
                password=account.password,
            )
        )
        engine = Engine(mailbox, build_registry(), history)
        accounts = Accounts(history.engine, history)
        accounts.create("olivia", "olivia-operator-pw", "operator")
        svc = Services(None, mailbox, engine.registry, history, engine, accounts)
        app = create_app({"SECRET_KEY": "bench", "MAILCORE_SERVICES": svc})
        client = app.test_client()
        login_page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf-token" content="([^"]+)"', login_page)
        assert token is not None
        client.post(
            "/login",
            data={"username": "olivia", "password": "olivia-operator-pw", "csrf_token": token[1]},
        )

        def first_page() -> None:
            response = client.get("/failed/")
            assert response.status_code == 200 and f"{args.messages} messages" in response.text

        def filtered_page() -> None:
            response = client.get("/failed/?reason=unknown+identifier", headers={
                "HX-Request": "true", "HX-Target": "results"})  # fmt: skip
            assert response.status_code == 200 and "messages matching" in response.text

        with account.session() as imap:
            imap.select_folder("failed", readonly=True)
            search = timed(lambda: imap.search(["ALL"]), args.runs)
        page = timed(first_page, args.runs)
        filtered = timed(filtered_page, args.runs)
        mailbox.close()

        def line(name: str, values: list[float]) -> str:
            return (
                f"{name:<44} median {statistics.median(values):7.1f} ms   p95 {p95(values):7.1f} ms"
            )

        print(f"failed folder: {args.messages} messages, {args.runs} runs each")
        print(line("IMAP UID SEARCH ALL (floor, open session)", search))
        print(line("console first page (test client, 50 rows)", page))
        print(line("console page filtered by reason (htmx)", filtered))
        ratio = statistics.median(page) / statistics.median(search)
        verdict = "OK" if p95(page) < 300 else "OVER TARGET"
        print(f"first page / search: {ratio:.1f}x   target p95 < 300 ms: {verdict}")
    finally:
        dovecot.stop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
