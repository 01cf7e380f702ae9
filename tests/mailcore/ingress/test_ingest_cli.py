"""`mailcore ingest` as an MTA runs it: a real process per mail, stdin in, an exit status out."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing.vocabulary import Status
from tests.mailcore.engine_support import vehicle_mail
from tests.mailcore.ingress.support import poll_once
from tests.servers import Account, message

MAILCORE = Path(sys.executable).parent / "mailcore"
SECRET_BODY = "plate_number: SECRET-PLATE"


def ingest(config: str, raw: bytes, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(MAILCORE), "ingest", "--config", config, *args],
        input=raw,
        capture_output=True,
        timeout=timeout,
    )


def write_config(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_stored_in_the_maildir_with_the_envelope_once(tmp_path: Path) -> None:
    config = write_config(tmp_path / "m.toml", f'maildir = "{tmp_path / "mail"}"\n')
    raw = message(subject="hello").replace(b"\r\n", b"\n")
    proc = ingest(config, raw, "--recipient", "reply+VEH-1@ops.test", "--sender", "a@b.example")
    assert (proc.returncode, proc.stderr) == (0, b"")
    box = MaildirMailbox(tmp_path / "mail")
    stored = list(box.fetch("INBOX", box.uids("INBOX")).values())
    assert stored == [
        b"Return-Path: <a@b.example>\nDelivered-To: reply+VEH-1@ops.test\n"
        b"X-Original-To: reply+VEH-1@ops.test\n" + raw
    ]
    # durable: the file is in new/, not left in tmp/
    assert list((tmp_path / "mail" / "tmp").iterdir()) == []


def test_appended_to_dovecot_then_processed_by_the_engine(tmp_path: Path, account: Account) -> None:
    config = write_config(tmp_path / "i.toml", f'imap_url = "{account.imap_url()}"\n')
    # A BCC: the identifier is only in the envelope.
    raw = vehicle_mail(ident="VEH-777").replace(b"[VEH-777] ", b"")
    proc = ingest(config, raw, "--recipient", "reply+VEH-777@example.com")
    assert proc.returncode == 0, proc.stderr
    with account.session() as c:
        c.select_folder("INBOX")
        assert len(c.search()) == 1
    statuses, calls = poll_once(config, tmp_path / "h.db")
    assert statuses == [Status.PROCESSED]
    assert calls == [("VEH-777", {"plate_number": "AB-123", "year": 2020})]


def test_mailbox_down_is_75_and_says_why_without_the_mail(tmp_path: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    config = write_config(
        tmp_path / "d.toml", f'imap_url = "imap://u:p@127.0.0.1:{port}/?security=plain"\n'
    )
    proc = ingest(config, vehicle_mail(extra=SECRET_BODY))
    assert proc.returncode == 75
    err = proc.stderr.decode()
    assert err.startswith("4.3.0 mailcore ingest: the mailbox did not store the message")
    assert "Traceback" not in err and "SECRET" not in err and err.count("\n") == 1


def test_over_the_limit_is_65_and_read_no_further(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "s.toml", f'maildir = "{tmp_path / "mail"}"\n[ingress]\nmax_size = 2048\n'
    )
    proc = ingest(config, message(body="x" * 5000))
    assert proc.returncode == 65
    assert proc.stderr.startswith(b"5.3.4 mailcore ingest: the message is over the ingress limit")
    assert MaildirMailbox(tmp_path / "mail").uids("INBOX") == []
    small = ingest(config, message(body="x" * 100))
    assert small.returncode == 0


def test_no_settings_and_bad_envelope(tmp_path: Path) -> None:
    missing = ingest(str(tmp_path / "nope.toml"), message())
    assert missing.returncode == 75 and missing.stderr.startswith(b"4.3.5 ")
    config = write_config(tmp_path / "m.toml", f'maildir = "{tmp_path / "mail"}"\n')
    bad = ingest(config, message(), "--recipient", "a@b.c\nBcc: evil@x.y")
    assert bad.returncode == 65 and bad.stderr.startswith(b"5.6.0 ")
    assert ingest(config, b"").returncode == 65


def test_a_server_that_never_answers_is_75_within_the_timeout(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are accepted by the kernel; nothing is ever said
    try:
        port = silent.getsockname()[1]
        config = write_config(
            tmp_path / "t.toml",
            f'imap_url = "imap://u:p@127.0.0.1:{port}/?security=plain"\n[ingress]\ntimeout = 2\n',
        )
        started = time.monotonic()
        proc = ingest(config, message())
        assert proc.returncode == 75
        assert proc.stderr.startswith(b"4.4.7 mailcore ingest: not stored within 2s")
        assert time.monotonic() - started < 20
    finally:
        silent.close()


def test_mailbox_chooses_among_the_configured_ones(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "two.toml",
        f'maildir = "{tmp_path / "a"}"\n[[mailboxes]]\nname = "b"\nmaildir = "{tmp_path / "b"}"\n',
    )
    assert ingest(config, message(subject="to b"), "--mailbox", "b").returncode == 0
    assert ingest(config, message(subject="to a")).returncode == 0
    unknown = ingest(config, message(), "--mailbox", "c")
    assert unknown.returncode == 75 and b"no mailbox named 'c'" in unknown.stderr
    for name, subject in (("a", b"to a"), ("b", b"to b")):
        box = MaildirMailbox(tmp_path / name)
        [raw] = box.fetch("INBOX", box.uids("INBOX")).values()
        assert b"Subject: " + subject in raw


def test_a_mail_pushed_twice_is_handled_once(tmp_path: Path) -> None:
    # An MTA retrying after a store whose exit status was lost: the trace fields differ.
    config = write_config(tmp_path / "m.toml", f'maildir = "{tmp_path / "mail"}"\n')
    raw = vehicle_mail(ident="VEH-900")
    assert ingest(config, raw, "--recipient", "reply+VEH-900@example.com").returncode == 0
    assert ingest(config, raw, "--recipient", "ops@example.com").returncode == 0
    statuses, calls = poll_once(config, tmp_path / "h.db")
    assert len(statuses) == 2
    assert calls == [("VEH-900", {"plate_number": "AB-123", "year": 2020})]
