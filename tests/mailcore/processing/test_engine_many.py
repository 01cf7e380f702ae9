"""Four `mailcore poll` processes started together on one real Dovecot account and one history
(a SQLite file, then PostgreSQL), over mixed mail: every mail filed exactly once, no handler
success twice, every process exits 0 -- also with a second IMAP client moving mail out of the
inbox every 0.3 s, and with one poller SIGKILLed mid-batch (the others take its messages over
once its claims' lease has run out). MC_MANY_COUNT sets how many mails (90 by default, to keep
the suite short); `bench/many.py` runs the same at 2,000 and prints the table."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.mailcore.engine_support import ready_account
from tests.mailcore.processing.many_support import (
    Mover,
    describe,
    mixed_mail,
    start_pollers,
    successes,
    tally,
    wait_for,
)
from tests.servers import Account

COUNT = int(os.environ.get("MC_MANY_COUNT", "90"))
TIMEOUT = 120 + COUNT * 0.2  # seconds a poller may take


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def account(dovecot: Any) -> Account:
    return ready_account(dovecot)


@pytest.mark.parametrize("with_mover", [False, True], ids=["alone", "moved-meanwhile"])
def test_four_pollers_file_every_mail_once_and_handle_it_once(
    account: Account, history_url: str, tmp_path: Path, with_mover: bool
) -> None:
    mix = mixed_mail(COUNT)
    account.append_many("INBOX", mix.raws)
    mover = Mover(account)
    processes = start_pollers(4, account, history_url, tmp_path, lease=30)  # none dies here
    if with_mover:
        mover.start()

    results = wait_for(processes, TIMEOUT)
    moved = mover.stop()

    assert describe(results) == {"exit_codes": [0, 0, 0, 0], "tracebacks": 0}, results
    counted = tally(account, tmp_path / "calls.log", mix)
    if with_mover:
        counted = counted.forgiving_the_mover()  # the server's race, not the pollers'
    assert counted.exactly_once, counted
    done = successes((tmp_path / "calls.log").read_text())
    if not with_mover:
        assert set(done) == mix.succeed  # every request handled, the re-deliveries once
    else:
        assert moved > 0
        assert len(done) >= len(mix.succeed) - moved


def test_a_poller_killed_mid_batch_leaves_its_mail_to_the_others(
    account: Account, history_url: str, tmp_path: Path
) -> None:
    mix = mixed_mail(COUNT // 2, seed=5)
    account.append_many("INBOX", mix.raws)
    started = time.monotonic()
    # The first poller starts its first batch (of 10) before the other three start; it dies
    # as its second handler call begins, holding the claims of the other eight.
    processes = start_pollers(
        1, account, history_url, tmp_path, 10, MC_KILL_AT="2", MC_HANDLER_SLEEP="0.02"
    )
    log = tmp_path / "calls.log"
    while not log.exists() and time.monotonic() - started < 60:
        time.sleep(0.01)
    processes += start_pollers(3, account, history_url, tmp_path, 10, 1, MC_HANDLER_SLEEP="0.02")

    results = wait_for(processes, TIMEOUT)

    assert results[0][0] == -9, results[0][1]  # SIGKILLed as its second handler call began
    assert [code for code, _ in results[1:]] == [0, 0, 0], results
    counted = tally(account, log, mix)
    assert counted.exactly_once, counted
    assert set(successes(log.read_text())) == mix.succeed
    assert time.monotonic() - started >= 1  # its claims were taken over after the lease
