"""`mailcore poll`: once over a Maildir, and woken by IMAP IDLE on a real Dovecot."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from mailcore.commands.poll import poll
from mailcore.maildir import MaildirMailbox
from tests.mailcore.engine_support import auto_reply_mail, vehicle_mail

HANDLERS = "tests.mailcore.engine_support:registry"


def config(tmp_path: Path, source: str) -> str:
    path = tmp_path / "mailcore.toml"
    path.write_text(f'{source}\ndatabase_url = "sqlite:///{tmp_path / "h.db"}"\n')
    return str(path)


def test_poll_once_drains_the_inbox_in_batches_with_a_line_each(tmp_path: Path):
    box = MaildirMailbox(tmp_path / "mail")
    for i in range(5):
        box.append("INBOX", vehicle_mail(plate=f"P-{i}"))
    box.append("INBOX", vehicle_mail(plate="REFUSE"))
    box.append("INBOX", auto_reply_mail())
    cfg = config(tmp_path, f'maildir = "{tmp_path / "mail"}"')
    result = CliRunner().invoke(
        poll, ["--config", cfg, "--handlers", HANDLERS, "--batch-size", "4"], env={}
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("4 messages in ") and lines[0].endswith("4 processed")
    assert lines[1].endswith("1 processed, 1 failed, 1 auto")
    assert box.uids("INBOX") == [] and len(box.uids("processed")) == 5


def test_poll_of_an_empty_inbox_says_so_once(tmp_path: Path):
    cfg = config(tmp_path, f'maildir = "{tmp_path / "mail"}"')
    args = ["--config", cfg, "--handlers", HANDLERS]
    once = CliRunner().invoke(poll, args, env={})
    assert (once.exit_code, once.output) == (0, "INBOX: nothing to do\n")
    looping = CliRunner().invoke(
        poll, [*args, "--loop", "--interval", "0.01", "--max-polls", "3"], env={}
    )
    assert (looping.exit_code, looping.output) == (0, "INBOX: nothing to do\n")


def test_poll_refuses_to_run_without_handlers(tmp_path: Path):
    cfg = config(tmp_path, f'maildir = "{tmp_path / "mail"}"')
    result = CliRunner().invoke(poll, ["--config", cfg], env={})
    assert result.exit_code != 0 and "no handlers registered" in result.output


def test_poll_reports_a_bad_setting(tmp_path: Path):
    cfg = config(tmp_path, "maildirr = 'x'")
    result = CliRunner().invoke(poll, ["--config", cfg, "--handlers", HANDLERS], env={})
    assert result.exit_code != 0 and "unknown setting 'maildirr'" in result.output


def test_poll_idle_wakes_up_on_new_mail(tmp_path: Path, dovecot: Any):
    from tests.mailcore.test_engine import ready_account

    account = ready_account(dovecot)
    url = f"imap://{account.username}:{account.password}@{dovecot.host}:{dovecot.port}/"
    cfg = config(tmp_path, f'imap_url = "{url}?security=plain"')
    results: list[Any] = []
    args = ["--config", cfg, "--handlers", HANDLERS, "--idle", "--interval", "600"]
    worker = threading.Thread(
        target=lambda: results.append(CliRunner().invoke(poll, [*args, "--max-polls", "2"]))
    )
    started = time.monotonic()
    worker.start()
    time.sleep(0.5)
    account.append("INBOX", vehicle_mail(plate="IDLE-1"))
    worker.join(timeout=60)
    assert not worker.is_alive(), "IDLE never woke the poller"
    assert time.monotonic() - started < 60  # far below the 600 s interval
    [result] = results
    assert result.exit_code == 0, result.output
    assert "1 processed" in result.output
    with account.session() as c:
        c.select_folder("processed")
        assert len(c.search("ALL")) == 1
