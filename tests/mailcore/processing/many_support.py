"""What the many-pollers tests (and bench/many.py, at 2,000 mails) run: a registry whose handler
logs every call to a file opened with O_APPEND (one write per line, so the lines of several
processes never interleave), the mixed mail they deliver, the pollers (`start_pollers`), a
second IMAP client moving mail meanwhile (`Mover`) and the count of what ended where (`tally`).

    mailcore poll --handlers tests.mailcore.processing.many_support:registry

Environment: MC_CALL_LOG (the log), MC_KILL_AT (this process SIGKILLs itself as that handler
call begins, before it does anything), MC_HANDLER_SLEEP (seconds each call sleeps).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from mailcore.errors import HandlerFailed
from mailcore.inbound.identity import message_key
from mailcore.processing.registry import HandlerContext, Registry
from tests.mailcore.engine_support import VEHICLE_SCHEMA, auto_reply_mail, vehicle_mail
from tests.servers import Account, message

ROOT = Path(__file__).resolve().parents[3]
FOLDERS = ["INBOX", "processed", "failed", "auto-replies", "elsewhere"]

registry = Registry()
_calls = 0


def _log(ctx: HandlerContext, what: str) -> None:
    fd = os.open(os.environ["MC_CALL_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{ctx.message_key} {os.getpid()} {what}\n".encode())
    finally:
        os.close(fd)


@registry.handler("vehicle", prefix="VEH-", schema=VEHICLE_SCHEMA)
def vehicle(ctx: HandlerContext) -> None:
    global _calls
    _calls += 1
    if _calls == int(os.environ.get("MC_KILL_AT", "0") or 0):
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(float(os.environ.get("MC_HANDLER_SLEEP", "0") or 0))
    if ctx.payload["plate_number"] == "REFUSE":
        _log(ctx, "refused")
        raise HandlerFailed("plate refused by the fleet system")
    _log(ctx, "ok")


@dataclass
class Mix:
    """The mail delivered, and how many distinct messages should succeed."""

    raws: list[bytes] = field(default_factory=list)
    succeed: set[str] = field(default_factory=set)  # keys whose handler should succeed once


def _without_message_id(raw: bytes) -> bytes:
    return b"".join(line for line in raw.splitlines(True) if not line.startswith(b"Message-ID"))


def mixed_mail(count: int, seed: int = 11) -> Mix:
    """`count` mails: valid requests, schema failures, refusals, auto-replies, mails without
    Message-ID, pairs sharing one Message-ID, and re-deliveries (the same request again with
    another Received field: one message)."""
    rng = random.Random(seed)
    mix = Mix()
    for i in range(count):
        kind = rng.random()
        ident = f"VEH-{i}"
        if kind < 0.55:
            raw = vehicle_mail(ident=ident, plate=f"P-{i}")
        elif kind < 0.65:
            raw = vehicle_mail(ident=ident, plate=f"P-{i}", year="not a year")
        elif kind < 0.72:
            raw = vehicle_mail(ident=ident, plate="REFUSE", year=str(2000 + i % 20))
        elif kind < 0.80:
            raw = auto_reply_mail()
        elif kind < 0.87:
            raw = _without_message_id(vehicle_mail(ident=ident, plate=f"N-{i}"))
        elif kind < 0.93:
            shared = f"<shared-{i // 2}@example.org>"
            body = f"plate_number: S-{i}\r\nyear: 2021\r\n"
            raw = message(subject=f"[{ident}] shared id", body=body, message_id=shared)
        else:
            first = vehicle_mail(ident=ident, plate=f"R-{i}")
            mix.raws.append(b"Received: from mx1.example.net by mx\r\n" + first)
            raw = b"Received: from mx2.example.net by mx\r\n" + first
            mix.succeed.add(message_key(first))
        mix.raws.append(raw)
        if kind < 0.55 or 0.80 <= kind < 0.93:
            mix.succeed.add(message_key(raw))
    return mix


def successes(log_text: str) -> Counter[str]:
    """Handler successes by message key, from the call log."""
    return Counter(line.split()[0] for line in log_text.splitlines() if line.endswith(" ok"))


def folder_contents(client: IMAPClient, folders: Iterable[str]) -> Counter[bytes]:
    """How often each message's bytes are in these folders (not \\Deleted), by a second client."""
    found: Counter[bytes] = Counter()
    for folder in folders:
        if not client.folder_exists(folder):
            continue
        client.select_folder(folder, readonly=True)
        uids = client.search(["UNDELETED"])
        for start in range(0, len(uids), 200):
            for data in client.fetch(uids[start : start + 200], ["BODY.PEEK[]"]).values():
                found[bytes(data[b"BODY[]"])] += 1
    return found


def start_pollers(
    n: int,
    account: Account,
    history_url: str,
    workdir: Path,
    batch: int = 40,
    first: int = 0,
    lease: float = 1.0,
    **env: str,
) -> list[subprocess.Popen[bytes]]:
    """`n` `mailcore poll --loop --until-empty` processes on `account` and `history_url`,
    claims' lease `lease` seconds, logging their handler calls to workdir/calls.log; numbered
    from `first`, and only poller 0 gets MC_KILL_AT. A lease shorter than a poller's longest
    stall lets another take over a message whose handler it is about to call (the README
    says to set it above the slowest handler call): on a loaded machine 1 s is short."""
    config = workdir / "mailcore.toml"
    config.write_text(
        f'imap_url = "{account.imap_url()}"\ndatabase_url = "{history_url}"\n'
        f"claim_lease = {lease}\nretention_days = 30\n"
    )
    args = [sys.executable, "-c", "from mailcore.cli import main; main()"]
    args += ["poll", "--config", str(config)]
    args += ["--handlers", "tests.mailcore.processing.many_support:registry"]
    args += ["--loop", "--interval", "0.1", "--until-empty", "--batch-size", str(batch)]
    base = {**os.environ, "MC_CALL_LOG": str(workdir / "calls.log"), "PYTHONPATH": str(ROOT)}
    return [
        subprocess.Popen(
            args,
            cwd=ROOT,
            env={**base, **env, "MC_KILL_AT": env.get("MC_KILL_AT", "") if i == 0 else ""},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in range(first, first + n)
    ]


def wait_for(
    processes: list[subprocess.Popen[bytes]], timeout: float = 120
) -> list[tuple[int, str]]:
    """Each process's exit code and the end of its standard error."""
    out = []
    for p in processes:
        _, err = p.communicate(timeout=timeout)
        out.append((p.returncode, err.decode(errors="replace")[-3000:]))
    return out


class Mover:
    """A second IMAP client moving one inbox mail to `elsewhere` every 0.3 s, until stopped."""

    def __init__(self, account: Account, every: float = 0.3) -> None:
        self.account, self.every, self.moved = account, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> int:
        """Stop moving; returns how many mails it moved."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=10)
        return self.moved

    def _run(self) -> None:
        with self.account.session() as c:
            if not c.folder_exists("elsewhere"):
                c.create_folder("elsewhere")
            c.select_folder("INBOX")
            while not self._stop.wait(self.every):
                c.noop()
                uids = c.search(["UNDELETED"])
                if not uids:
                    continue
                try:
                    c.move(uids[len(uids) // 2 : len(uids) // 2 + 1], "elsewhere")
                except IMAPClientError as exc:  # a poller moved it first: try another next time
                    if "EXPUNGEISSUED" not in str(exc):
                        raise
                    continue
                self.moved += 1


@dataclass
class Tally:
    """What ended where, counted by a second IMAP client and from the call log."""

    mails: int  # delivered
    filed_once: int  # delivered mails found in exactly one folder, once
    misfiled: int  # found twice or more, or nowhere
    # The folders each misfiled mail was found in ("processed+elsewhere"), after "N sent: "
    # for a mail delivered N times, N > 1 (to debug, and for `forgiving_the_mover`).
    misfiled_as: list[str]
    left_in_inbox: int
    extra_copies: int  # mails in the folders that were never delivered
    handled: int  # distinct messages whose handler succeeded
    handled_twice: int  # messages whose handler succeeded twice or more
    unexpected: int  # successes of messages that should not succeed

    @property
    def exactly_once(self) -> bool:
        return (
            self.filed_once == self.mails
            and not (self.misfiled or self.left_in_inbox or self.extra_copies)
            and not (self.handled_twice or self.unexpected)
        )

    def forgiving_the_mover(self) -> Tally:
        """This tally with the mails delivered once and found both in `elsewhere` and once in
        a poller's folder taken as filed once: Dovecot carries out two sessions' overlapping
        MOVEs of one message both (each links the file into its destination before either
        removes it; seen about once in 20 runs), so a mail the mover took as a poller moved
        it may be in both places. No client can prevent that; two copies in the pollers' own
        folders stay an error."""
        ours = {f"{f}+elsewhere" for f in FOLDERS if f not in ("INBOX", "elsewhere")}
        raced = sum(1 for where in self.misfiled_as if where in ours)
        rest = [where for where in self.misfiled_as if where not in ours]
        return replace(
            self, filed_once=self.filed_once + raced, misfiled=self.misfiled - raced,
            misfiled_as=rest,
        )  # fmt: skip


def tally(account: Account, call_log: Path, mix: Mix) -> Tally:
    """Count the folders of `account` and the handler calls in `call_log` against `mix`."""
    with account.session() as c:
        each = {f: folder_contents(c, [f]) for f in FOLDERS}
    filed, left = sum(each.values(), Counter[bytes]()), each["INBOX"]
    delivered = Counter(mix.raws)
    done = successes(call_log.read_text() if call_log.exists() else "")
    return Tally(
        mails=len(mix.raws),
        filed_once=sum(n for r, n in delivered.items() if filed[r] == n),
        misfiled=sum(n for r, n in delivered.items() if filed[r] != n),
        misfiled_as=sorted(
            ("" if n == 1 else f"{n} sent: ")
            + ("+".join(f for f in FOLDERS for _ in range(each[f][r])) or "nowhere")
            for r, n in delivered.items()
            if filed[r] != n
        ),
        left_in_inbox=sum(left.values()),
        extra_copies=sum(n for r, n in filed.items() if r not in delivered),
        handled=len(done),
        handled_twice=sum(1 for n in done.values() if n > 1),
        unexpected=len(set(done) - mix.succeed),
    )


def describe(results: list[tuple[int, str]]) -> dict[str, Any]:
    """The exit codes of pollers, and whether any printed a traceback."""
    return {
        "exit_codes": [code for code, _ in results],
        "tracebacks": sum("Traceback" in err for _, err in results),
    }
