"""Benchmark several poller processes on one mailbox: 1, 2 and 4 `mailcore poll` processes
started together on a private Dovecot account holding N messages (default 2,000), history in
one SQLite file, a CPU-bound handler (about 3 ms of hashing per message), so the speed-up
shows what claims let run in parallel on this machine's cores (`--history postgresql`: the
history on a private PostgreSQL instead). Each run also checks what the
claims promise: every message filed once, no handler success twice (the handler logs its calls
with O_APPEND), every process exit 0.

Then handler workers in one process (`handler_workers` 1, 4, 16) on messages whose handler
sleeps 50 ms (an ERP call), each message its own identifier: the goal is >= 10x at 16.

Printed: messages/second for each process count and worker count, and the speed-up over one,
measured in the same run. The process speed-up is capped by the machine's cores: on a 2-core
machine (this project's CI) near 2x at best, less while Dovecot and the history's server share
those cores; the output says how many cores there are. The workers' speed-up is not: a
sleeping handler leaves the cores idle.

Run: .venv/bin/python bench/workers.py [--messages 2000] [--processes 1,2,4]
     [--sleeping 200] [--workers 1,4,16]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imap import account_mailbox  # noqa: E402  (bench/imap.py, beside this script)

from mailcore.processing.engine import Engine  # noqa: E402
from mailcore.processing.registry import HandlerContext, Registry  # noqa: E402
from mailcore.store.history import History  # noqa: E402
from tests.servers import Account, start_dovecot, start_postgres  # noqa: E402

SCHEMA = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}

registry = Registry()


@registry.handler("job", prefix="JOB-", schema=SCHEMA)
def job(ctx: HandlerContext) -> None:
    """About 3 ms of CPU, then one O_APPEND line: the call's message key."""
    digest = ctx.message_key.encode()
    for _ in range(int(os.environ.get("MC_BENCH_ROUNDS", "6000"))):
        digest = hashlib.sha256(digest).digest()
    fd = os.open(os.environ["MC_CALL_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{ctx.message_key} ok\n".encode())
    finally:
        os.close(fd)


def sleeping_registry() -> Registry:
    sleeping = Registry()
    sleeping.add("job", lambda ctx: time.sleep(0.05), prefix="JOB-", schema=SCHEMA)
    return sleeping


def run_workers(account: Account, workers: int, tmp: Path) -> float:
    """Seconds for one process with `workers` handler workers to empty the inbox."""
    mailbox = account_mailbox(account)
    history = History(f"sqlite:///{tmp / f'workers-{workers}.db'}")
    engine = Engine(mailbox, sleeping_registry(), history, handler_workers=workers)
    engine.poll_once(0)  # connect and create folders outside the timing
    started = time.perf_counter()
    while engine.poll_once(200):
        pass
    elapsed = time.perf_counter() - started
    mailbox.close()
    history.close()
    return elapsed


def mails(count: int) -> list[bytes]:
    return [
        (
            f"From: partner{i % 50}@example.org\r\nTo: ops@example.com\r\n"
            f"Subject: [JOB-{i}] work\r\nMessage-ID: <job-{i}@example.org>\r\n"
            f"Date: Mon, 06 May 2024 10:00:00 +0000\r\n\r\nn: {i}\r\n"
        ).encode()
        for i in range(count)
    ]


def run(account: Account, processes: int, tmp: Path, url: str) -> tuple[float, Counter[str]]:
    log = tmp / f"calls-{processes}-{time.monotonic_ns()}.log"
    config = tmp / f"mailcore-{processes}.toml"
    config.write_text(f'imap_url = "{account.imap_url()}"\ndatabase_url = "{url}"\n')
    args = [sys.executable, "-c", "from mailcore.cli import main; main()", "poll"]
    args += ["--config", str(config), "--handlers", "workers:registry", "--loop"]
    args += ["--interval", "0.05", "--until-empty", "--batch-size", "100"]
    env = {
        **os.environ,
        "MC_CALL_LOG": str(log),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT)]),
    }
    started = time.perf_counter()
    polls = [
        subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        for _ in range(processes)
    ]
    codes = [p.wait(timeout=1800) for p in polls]
    elapsed = time.perf_counter() - started
    assert codes == [0] * processes, codes
    return elapsed, Counter(line.split()[0] for line in log.read_text().splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--sleeping", type=int, default=200, help="messages, 50 ms handler")
    parser.add_argument("--workers", default="1,4,16")
    parser.add_argument("--history", default="sqlite", help="sqlite, postgresql or both (a,b)")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    raws = mails(args.messages)
    server = start_dovecot()
    backends = args.history.split(",")
    postgres = start_postgres() if "postgresql" in backends else None
    rates: dict[tuple[str, int], float] = {}
    cores = os.cpu_count() or 1
    print(
        f"{cores} CPU core(s): poller processes with a CPU-bound handler cannot go past"
        f" {cores}x here (Dovecot and the database share those cores)"
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for backend, n in ((b, n) for b in backends for n in counts):
                account = server.new_user()
                time.sleep(0.5)  # Dovecot re-reads its users file
                account.append_many("INBOX", raws)
                if backend == "postgresql":
                    assert postgres is not None
                    url = postgres.create_database()
                else:
                    url = f"sqlite:///{Path(tmp) / f'history-{n}.db'}"
                elapsed, calls = run(account, n, Path(tmp), url)
                with account.session() as c:
                    left = c.select_folder("INBOX")[b"EXISTS"]
                    filed = c.select_folder("processed")[b"EXISTS"]
                twice = sum(1 for v in calls.values() if v > 1)
                assert (left, filed, len(calls), twice) == (0, len(raws), len(raws), 0), (
                    left, filed, len(calls), twice
                )  # fmt: skip
                rates[backend, n] = len(raws) / elapsed
                print(
                    f"{backend}, {n} poller process(es): {rates[backend, n]:6.0f} msg/s "
                    f"({elapsed:.1f} s), {rates[backend, n] / rates[backend, counts[0]]:.2f}x;"
                    " filed once each, 0 handled twice"
                )
            worker_counts = [int(n) for n in args.workers.split(",")]
            sleepy = mails(args.sleeping)
            per: dict[int, float] = {}
            for w in worker_counts:
                account = server.new_user()
                time.sleep(0.5)
                account.append_many("INBOX", sleepy)
                per[w] = len(sleepy) / run_workers(account, w, Path(tmp))
                speedup = per[w] / per[worker_counts[0]]
                goal = " (goal >= 10x at 16)" if w == 16 else ""
                print(
                    f"{w:2d} handler worker(s), 50 ms handler: {per[w]:6.0f} msg/s, "
                    f"{speedup:.1f}x{goal}"
                )
    finally:
        server.stop()
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    main()
