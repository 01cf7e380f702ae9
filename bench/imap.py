"""Benchmark inbound processing against a real (private, local) Dovecot.

N messages (default 2,000) of about 3 KB each -- a reply with a payload of 15 keys, prose, a
signature and the quoted previous message -- go through:

- the engine: `Engine.poll_once` in batches (one UID FETCH per batch; the batch claimed in
  one statement per 200; chunks of the batch decided, each handler's success marked at once,
  one history transaction per chunk, one UID MOVE per destination overlapping the next chunk's
  work, one more transaction for the new locations; SQLite file, a no-op handler with a
  schema). A mark is a write to the history's journal on SQLite; on PostgreSQL one INSERT sent
  the moment the handler returns and confirmed before the next handler is called (the round
  trip overlaps the next message's extraction), and a chunk's events go in one COPY. As
  configured by default (`extract_processes = 1`), a child process extracts each batch while
  the poller's thread handles the messages already extracted (mailcore.processing.extractor);
- the same engine with the history on PostgreSQL (a private server, `--history`);
- optionally (`--history sqlite,sqlite-inline,...`) the engine with `extract_processes = 0`,
  everything in one process;
- the naive loop, measured in the same run, as a simple script would do it: for each UID,
  fetch it, extract, call the handler, COPY to processed, flag it \\Deleted, UID EXPUNGE it.

Also printed: extraction alone on the same messages (the CPU floor both share) and the
engine's own overhead per message beyond extraction (with the child, extraction is mostly off
the poller's thread, so this can be under zero). With --runs N the engine and the naive
loop are measured N times (alternating, fresh mailboxes each time) and the median is given.

Run: .venv/bin/python bench/imap.py [--messages 2000] [--batch 500] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailcore.inbound.extract import extract  # noqa: E402
from mailcore.mailboxes.imap import ImapConfig, ImapMailbox  # noqa: E402
from mailcore.processing.engine import Engine  # noqa: E402
from mailcore.processing.registry import HandlerContext, Registry  # noqa: E402
from mailcore.store.history import History  # noqa: E402
from tests.servers import Account, start_dovecot, start_postgres  # noqa: E402

SCHEMA = {
    "type": "object",
    "required": ["plate_number", "vin", "mileage"],
    "properties": {
        "plate_number": {"type": "string"},
        "vin": {"type": "string", "minLength": 11},
        "mileage": {"type": "integer", "minimum": 0},
        "year": {"type": "integer"},
    },
}

QUOTED = "".join(
    f"> {line}\r\n"
    for line in (
        "Hello Jane,",
        "",
        "our records show that the vehicle below is due for its yearly inspection.",
        "Please reply to this message with the current mileage, the date of the last",
        "service and the workshop that did it, using the form below. Keep the keys",
        "as they are; you may answer in English, French or German.",
        "",
        "plate_number:",
        "mileage:",
        "last_service:",
        "",
        "Thank you,",
        "Fleet Operations -- Example Leasing",
        "This message was sent automatically; replies are processed by our system.",
    )
)


def payload_mail(i: int, rng: random.Random) -> bytes:
    """One realistic reply, about 3 KB."""
    ident = f"VEH-{1000 + i}"
    payload = "\r\n".join(
        [
            f"plate_number: AB-{rng.randint(100, 999)}-CD",
            f"vin: WVWZZZ1JZXW{rng.randint(100000, 999999)}",
            f"year: {rng.randint(2005, 2024)}",
            f"mileage: {rng.randint(1000, 250000)}",
            f"last_service: 2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "workshop: Garage du Centre, 12 rue de la Paix, 75002 Paris",
            "fuel: diesel",
            "tyres: winter",
            "damage: small scratch on the rear bumper, left side",
            "driver: Jane Doe",
            "department: Field Sales North",
            f"cost_centre: CC-{rng.randint(1000, 9999)}",
            "next_inspection: 2025-06-30",
            "keys: 2",
            "notes: car parked at the Lille office until Friday",
        ]
    )
    body = (
        f"Hello,\r\n\r\nhere is the update for {ident}. The car was serviced last month and\r\n"
        "everything is in order apart from the small scratch noted below.\r\n\r\n"
        f"{payload}\r\n\r\nBest regards,\r\nJane\r\n\r\n-- \r\nJane Doe | Fleet Coordinator\r\n"
        "Partner Logistics SARL | 4 place de la Gare, 59000 Lille | +33 3 20 00 00 00\r\n"
        "This e-mail and any attachment are confidential.\r\n\r\n"
        f"On Mon, 6 May 2024 at 09:12, Fleet Operations <fleet@example.com> wrote:\r\n{QUOTED}"
    )
    received = "".join(
        f"Received: from mx{k}.partner.example (mx{k}.partner.example [192.0.2.{k + 10}])\r\n"
        f"\tby mx.example.com (Postfix) with ESMTPS id {rng.getrandbits(40):X}\r\n"
        f"\tfor <reply+{ident}@example.com>; Tue, 07 May 2024 10:{i % 60:02d}:0{k} +0200\r\n"
        for k in range(3)
    )
    dkim = "".join(f"\t{rng.getrandbits(300):076x}\r\n" for _ in range(5))
    return (
        f"{received}"
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=partner.example; s=mail;\r\n"
        "\th=from:to:subject:date:message-id:in-reply-to:references; bh=\r\n"
        f"\t{rng.getrandbits(256):064x}; b=\r\n{dkim}"
        f"From: Jane Doe <jane.doe@partner.example>\r\n"
        f"To: Fleet Operations <reply+{ident}@example.com>\r\n"
        f"Subject: Re: [{ident}] Yearly inspection: mileage and service\r\n"
        f"Date: Tue, 07 May 2024 10:{i % 60:02d}:00 +0200\r\n"
        f"Message-ID: <{i}.{rng.getrandbits(48):x}@partner.example>\r\n"
        f"In-Reply-To: <mc.{ident}.0a1b2c3d@example.com>\r\n"
        f"References: <mc.{ident}.thread@example.com> <mc.{ident}.0a1b2c3d@example.com>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\nX-Mailer: Example Mail 4.2\r\n"
        f"\r\n{body}"
    ).encode()


def noop(ctx: HandlerContext) -> None:
    return None


def make_registry() -> Registry:
    registry = Registry()
    registry.add("vehicle", noop, prefix="VEH-", schema=SCHEMA)
    return registry


def ready(account: Account) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            with account.session():
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def account_mailbox(account: Account) -> ImapMailbox:
    """An ImapMailbox on the test account (plain IMAP on loopback)."""
    config = ImapConfig(
        host=account.host,
        port=account.port,
        security="plain",
        username=account.username,
        password=account.password,
    )
    return ImapMailbox(config)


def run_engine(account: Account, db_url: str, batch: int, processes: int = 1) -> tuple[float, int]:
    mailbox = account_mailbox(account)
    history = History(db_url)
    engine = Engine(mailbox, make_registry(), history, extract_processes=processes)
    engine.poll_once(0)  # connect, create folders and start the extraction child untimed
    time.sleep(0.5 if processes else 0)  # the child's imports, as in a poller that runs on
    done, started = 0, time.perf_counter()
    while outcomes := engine.poll_once(batch):
        done += sum(o.status == "processed" for o in outcomes)
    elapsed = time.perf_counter() - started
    engine.close()
    mailbox.close()
    history.close()
    return elapsed, done


def run_naive(account: Account) -> tuple[float, int]:
    registry = make_registry()
    done = 0
    with account.session() as c:
        if not c.folder_exists("processed"):
            c.create_folder("processed")
        c.select_folder("INBOX")
        started = time.perf_counter()
        for uid in c.search(["UNDELETED"]):
            raw = c.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
            ex = extract(raw)
            found = registry.route(ex)
            assert found.spec is not None and ex.payload is not None
            payload = found.spec.prepare(ex.payload)
            if not found.spec.validate(payload):
                found.spec.func(
                    HandlerContext("vehicle", payload, ex, ex.identifier, uid, "INBOX", "")
                )
                done += 1
            c.copy([uid], "processed")
            c.add_flags([uid], [b"\\Deleted"])
            c.uid_expunge([uid])
        elapsed = time.perf_counter() - started
    return elapsed, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1, help="measure this many times")
    parser.add_argument("--profile", action="store_true", help="cProfile the (first) engine run")
    parser.add_argument(
        "--history",
        default="sqlite,postgresql",
        help="history databases to run the engine on; NAME-inline: with extract_processes = 0",
    )
    args = parser.parse_args()
    rng = random.Random(7)
    mails = [payload_mail(i, rng) for i in range(args.messages)]
    size = sum(map(len, mails)) / len(mails)
    n = len(mails)
    print(f"{n} messages, {size:.0f} bytes on average; batch {args.batch}")

    started = time.perf_counter()
    for raw in mails:
        extract(raw)
    floor = time.perf_counter() - started

    backends = [b for b in args.history.split(",") if b]
    engine_rates: dict[str, list[float]] = {b: [] for b in backends}
    naive_rates: list[float] = []
    server = start_dovecot()
    postgres = start_postgres() if any(b.startswith("postgresql") for b in backends) else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for run in range(args.runs):
                slow = server.new_user()
                ready(slow)
                slow.append_many("INBOX", mails)
                for backend in backends:
                    fast = server.new_user()
                    ready(fast)
                    fast.append_many("INBOX", mails)
                    database, _, inline = backend.partition("-")
                    if database == "sqlite":
                        url = f"sqlite:///{Path(tmp) / f'history{run}{backend}.db'}"
                    else:
                        assert postgres is not None
                        url = postgres.create_database()
                    profiler = None
                    if args.profile and run == 0:
                        import cProfile

                        profiler = cProfile.Profile()
                        profiler.enable()
                    engine_s, engine_n = run_engine(fast, url, args.batch, 0 if inline else 1)
                    if profiler is not None:
                        import pstats

                        profiler.disable()
                        order = os.environ.get("PROFILE_SORT", "tottime")
                        lines = int(os.environ.get("PROFILE_LINES", "40"))
                        pstats.Stats(profiler).sort_stats(order).print_stats(lines)
                    assert engine_n == n, (backend, engine_n)
                    engine_rates[backend].append(n / engine_s)
                naive_s, naive_n = run_naive(slow)
                assert naive_n == n, naive_n
                naive_rates.append(n / naive_s)
                if args.runs > 1:
                    each = ", ".join(f"{b} {engine_rates[b][-1]:6.0f}" for b in backends)
                    print(f"run {run + 1}: engine {each} msg/s, naive {n / naive_s:4.0f} msg/s")
    finally:
        server.stop()
        if postgres is not None:
            postgres.stop()
    naive_rate = statistics.median(naive_rates)
    if args.runs > 1:
        print(f"medians of {args.runs} runs:")
    print(f"extraction alone:         {n / floor:8.0f} msg/s  ({floor / n * 1e6:.0f} us/message)")
    print(f"naive loop:               {naive_rate:8.0f} msg/s  ({1e6 / naive_rate:.0f} us/message)")
    for backend in backends:
        rate = statistics.median(engine_rates[backend])
        ratios = [e / v for e, v in zip(engine_rates[backend], naive_rates, strict=True)]
        overhead_us = 1e6 / rate - floor / n * 1e6
        print(
            f"engine, {backend:17s} {rate:8.0f} msg/s  ({1e6 / rate:.0f} us/message): "
            f"{statistics.median(ratios):.1f} x the naive loop (lowest {min(ratios):.1f} x); "
            f"{overhead_us:.0f} us/message beyond extraction"
        )


if __name__ == "__main__":
    main()
