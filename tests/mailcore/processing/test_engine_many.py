"""Four `mailcore poll` processes started together on one real Dovecot account and one history
(a SQLite file, then PostgreSQL), over mixed mail: every mail filed exactly once, no handler
success twice, every process exits 0 -- also with a second IMAP client moving mail out of the
inbox every 0.3 s, and with one poller SIGKILLed mid-batch (the others take its messages over
once its claims' lease has run out). `bench/workers.py` runs the same at 2,000 mails."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.mailcore.engine_support import ready_account
from tests.mailcore.processing.many_support import folder_contents, mixed_mail, successes
from tests.servers import Account

ROOT = Path(__file__).resolve().parents[3]
FOLDERS = ["INBOX", "processed", "failed", "auto-replies", "elsewhere"]
COUNT = 90


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _start(
    n: int,
    account: Account,
    history_url: str,
    tmp_path: Path,
    batch: int = 40,
    first: int = 0,
    **env: str,
) -> list[subprocess.Popen[bytes]]:
    """`n` pollers (the `first` of them numbered from there: only poller 0 gets MC_KILL_AT)."""
    config = tmp_path / "mailcore.toml"
    config.write_text(
        f'imap_url = "{account.imap_url()}"\ndatabase_url = "{history_url}"\n'
        "claim_lease = 1\nretention_days = 30\n"
    )
    args = [sys.executable, "-c", "from mailcore.cli import main; main()"]
    args += ["poll", "--config", str(config)]
    args += ["--handlers", "tests.mailcore.processing.many_support:registry"]
    args += ["--loop", "--interval", "0.1", "--until-empty", "--batch-size", str(batch)]
    base = {**os.environ, "MC_CALL_LOG": str(tmp_path / "calls.log"), "PYTHONPATH": str(ROOT)}
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


def _wait(processes: list[subprocess.Popen[bytes]]) -> list[tuple[int, str]]:
    out = []
    for p in processes:
        _, err = p.communicate(timeout=120)
        out.append((p.returncode, err.decode(errors="replace")[-3000:]))
    return out


@pytest.fixture
def mover(account: Account) -> Iterator[dict[str, Any]]:
    """A second IMAP client moving one inbox mail to `elsewhere` every 0.3 s, until stopped."""
    state: dict[str, Any] = {"stop": threading.Event(), "moved": 0}

    def run() -> None:
        with account.session() as c:
            if not c.folder_exists("elsewhere"):
                c.create_folder("elsewhere")
            c.select_folder("INBOX")
            while not state["stop"].wait(0.3):
                c.noop()
                uids = c.search(["UNDELETED"])
                if uids:
                    c.move(uids[len(uids) // 2 : len(uids) // 2 + 1], "elsewhere")
                    state["moved"] += 1

    thread = threading.Thread(target=run, daemon=True)
    state["start"] = thread.start
    yield state
    state["stop"].set()
    if thread.ident is not None:
        thread.join(timeout=10)


@pytest.fixture
def account(dovecot: Any) -> Account:
    return ready_account(dovecot)


def _check(account: Account, tmp_path: Path, raws: list[bytes], succeed: set[str]) -> None:
    with account.session() as c:
        filed = folder_contents(c, FOLDERS)
        left = folder_contents(c, ["INBOX"])
    assert sum(filed[r] for r in raws) == len(raws) == sum(filed.values())
    assert [r for r in raws if filed[r] != 1] == []  # each once, in exactly one folder
    assert left == {}
    done = successes((tmp_path / "calls.log").read_text())
    assert [k for k, n in done.items() if n > 1] == []  # no handler success twice
    assert set(done) <= succeed


@pytest.mark.parametrize("with_mover", [False, True], ids=["alone", "moved-meanwhile"])
def test_four_pollers_file_every_mail_once_and_handle_it_once(
    account: Account, history_url: str, tmp_path: Path, mover: dict[str, Any], with_mover: bool
) -> None:
    if with_mover and history_url.startswith("sqlite"):
        pytest.skip("the mover runs on PostgreSQL only, to keep the suite short")
    mix = mixed_mail(COUNT)
    account.append_many("INBOX", mix.raws)
    processes = _start(4, account, history_url, tmp_path)
    if with_mover:
        mover["start"]()

    results = _wait(processes)
    mover["stop"].set()

    assert [code for code, _ in results] == [0, 0, 0, 0], results
    _check(account, tmp_path, mix.raws, mix.succeed)
    done = successes((tmp_path / "calls.log").read_text())
    if not with_mover:
        assert set(done) == mix.succeed  # every request handled, the re-deliveries once
    else:
        assert len(done) >= len(mix.succeed) - mover["moved"]
    assert not any("Traceback" in err for _, err in results)


def test_a_poller_killed_mid_batch_leaves_its_mail_to_the_others(
    account: Account, history_url: str, tmp_path: Path
) -> None:
    mix = mixed_mail(COUNT // 2, seed=5)
    account.append_many("INBOX", mix.raws)
    started = time.monotonic()
    # The first poller starts its first batch (of 10) before the other three start; it dies
    # as its second handler call begins, holding the claims of the other eight.
    processes = _start(
        1, account, history_url, tmp_path, 10, MC_KILL_AT="2", MC_HANDLER_SLEEP="0.02"
    )
    log = tmp_path / "calls.log"
    while not log.exists() and time.monotonic() - started < 60:
        time.sleep(0.01)
    processes += _start(3, account, history_url, tmp_path, 10, 1, MC_HANDLER_SLEEP="0.02")

    results = _wait(processes)

    assert results[0][0] == -9, results[0][1]  # SIGKILLed as its second handler call began
    assert [code for code, _ in results[1:]] == [0, 0, 0], results
    _check(account, tmp_path, mix.raws, mix.succeed)
    assert set(successes((tmp_path / "calls.log").read_text())) == mix.succeed
    assert time.monotonic() - started >= 1  # its claims were taken over after the lease
