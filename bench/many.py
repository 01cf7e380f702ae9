"""Exactly once at scale: 4 `mailcore poll` processes on one real (private, local) Dovecot
account and one history, over N mixed mails (default 2,000: valid requests, schema failures,
refusals, auto-replies, mails without Message-ID, pairs sharing a Message-ID, re-deliveries),
each handler call logged by the handler itself (O_APPEND), every folder counted afterwards by
a second IMAP client. Setups, on a SQLite file and on PostgreSQL:

- alone: the four pollers started together (claims' lease 30 s: none dies);
- mover: the same, with a second IMAP client moving one inbox mail elsewhere every 0.3 s;
- killed: one poller SIGKILLed as a handler call begins mid-batch, holding the claims of the
  rest of its batch; the three others take them over once the 1 s lease has run out
  (handlers sleep 20 ms here, so that the kill lands mid-batch).

Printed: one row per setup -- mails, filed once (in exactly one folder), misfiled (twice or
nowhere), raced (mover only: mails in `elsewhere` and once in a poller's folder, Dovecot having
carried out both the mover's and a poller's overlapping MOVE -- the server's race, which no
client prevents, not counted as misfiled), handler successes twice or more, exit codes (-9:
the killed one), seconds. The same runs at 90 mails are tests
(tests/mailcore/processing/test_engine_many.py, MC_MANY_COUNT).

Run: .venv/bin/python bench/many.py [--messages 2000] [--history sqlite,postgresql]
     [--setups alone,mover,killed]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.mailcore.engine_support import ready_account  # noqa: E402
from tests.mailcore.processing.many_support import (  # noqa: E402
    Mover,
    Tally,
    describe,
    mixed_mail,
    start_pollers,
    tally,
    wait_for,
)
from tests.servers import Dovecot, Postgres, start_dovecot, start_postgres  # noqa: E402

POLLERS = 4


def run_setup(
    setup: str, n: int, server: Dovecot, history_url: str, workdir: Path
) -> tuple[Tally, list[int], int, float]:
    """One setup; returns the tally, the exit codes, how many mails the mover moved, seconds."""
    account = ready_account(server)
    mix = mixed_mail(n, seed=11 if setup != "killed" else 5)
    account.append_many("INBOX", mix.raws)
    mover = Mover(account)
    started = time.monotonic()
    if setup == "killed":
        log = workdir / "calls.log"
        first = start_pollers(
            1, account, history_url, workdir, 10, MC_KILL_AT="2", MC_HANDLER_SLEEP="0.02"
        )
        while not log.exists() and time.monotonic() - started < 60:
            time.sleep(0.01)
        rest = start_pollers(POLLERS - 1, account, history_url, workdir, 40, 1,
                             MC_HANDLER_SLEEP="0.02")  # fmt: skip
        processes = first + rest
    else:
        processes = start_pollers(POLLERS, account, history_url, workdir, lease=30)
        if setup == "mover":
            mover.start()
    results = wait_for(processes, timeout=1800)
    elapsed = time.monotonic() - started
    moved = mover.stop()
    info = describe(results)
    for code, err in results:
        if code not in (0, -9) or "Traceback" in err:
            print(f"  a poller exited {code}:\n{err}", file=sys.stderr)
    return tally(account, workdir / "calls.log", mix), info["exit_codes"], moved, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--history", default="sqlite,postgresql")
    parser.add_argument("--setups", default="alone,mover,killed")
    args = parser.parse_args()
    backends = [b for b in args.history.split(",") if b]
    setups = [s for s in args.setups.split(",") if s]
    server = start_dovecot()
    postgres: Postgres | None = start_postgres() if "postgresql" in backends else None
    header = (
        f"{'setup':22s} {'mails':>5s} {'filed once':>10s} {'misfiled':>8s} {'raced':>5s} "
        f"{'handled':>7s} {'twice+':>6s} {'moved':>5s} {'exit codes':14s} {'seconds':>7s}"
    )
    print(f"{POLLERS} pollers, {args.messages} mixed mails per setup (killed: half as many)")
    print(header)
    failures = 0
    try:
        for backend in backends:
            for setup in setups:
                n = args.messages // 2 if setup == "killed" else args.messages
                with tempfile.TemporaryDirectory() as tmp:
                    url = _url(backend, Path(tmp), postgres)
                    raw, codes, moved, seconds = run_setup(setup, n, server, url, Path(tmp))
                counted = raw.forgiving_the_mover() if setup == "mover" else raw
                ok = counted.exactly_once and _expected(setup)(codes)
                failures += not ok
                print(
                    f"{backend + ', ' + setup:22s} {counted.mails:5d} {counted.filed_once:10d} "
                    f"{counted.misfiled + counted.left_in_inbox + counted.extra_copies:8d} "
                    f"{raw.misfiled - counted.misfiled:5d} "
                    f"{counted.handled:7d} {counted.handled_twice:6d} {moved:5d} "
                    f"{' '.join(map(str, codes)):14s} {seconds:7.1f}{'' if ok else '  FAILED'}",
                    flush=True,
                )
    finally:
        server.stop()
        if postgres is not None:
            postgres.stop()
    if failures:
        raise SystemExit(f"{failures} setup(s) did not file and handle every mail exactly once")


def _url(backend: str, tmp: Path, postgres: Postgres | None) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'history.db'}"
    assert postgres is not None
    return postgres.create_database()


def _expected(setup: str) -> Callable[[list[int]], bool]:
    if setup == "killed":
        return lambda codes: codes[0] == -9 and all(c == 0 for c in codes[1:])
    return lambda codes: all(c == 0 for c in codes)


if __name__ == "__main__":
    main()
