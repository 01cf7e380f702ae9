"""MaildirMailbox: UIDs that survive restarts and other processes, safe moves, header summaries."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from mailcore.errors import MailboxError
from mailcore.mailboxes import maildir
from mailcore.mailboxes.maildir import UIDLIST, MaildirMailbox
from tests.servers import message


def test_uids_are_ascending_stable_and_survive_a_restart(tmp_path: Path):
    box = MaildirMailbox(tmp_path)
    uids = [box.append("INBOX", message(subject=f"m{i}")) for i in range(3)]
    assert uids == [1, 2, 3] and box.uids("INBOX") == [1, 2, 3]
    validity = box.uidvalidity("INBOX")
    again = MaildirMailbox(tmp_path)
    assert again.uids("INBOX") == [1, 2, 3] and again.uidvalidity("INBOX") == validity
    assert [s.subject for s in again.summaries("INBOX", [3, 1])] == ["m2", "m0"]


def test_mail_dropped_into_new_by_an_mta_gets_the_next_uid(tmp_path: Path):
    box = MaildirMailbox(tmp_path)
    box.append("INBOX", message(subject="first"))
    (tmp_path / "new" / "1700000000.M1P1.mta").write_bytes(message(subject="from the MTA"))
    assert box.uids("INBOX") == [1, 2]
    assert box.summaries("INBOX", [2])[0].subject == "from the MTA"


def test_move_copies_then_removes_and_gives_new_ascending_uids(tmp_path: Path):
    box = MaildirMailbox(tmp_path)
    for i in range(4):
        box.append("INBOX", message(subject=f"m{i}"))
    box.append("done", message(subject="already there"))
    result = box.move("INBOX", [2, 4, 99], "done")
    assert result.moved == {2: 2, 4: 3}
    assert box.uids("INBOX") == [1, 3] and box.uids("done") == [1, 2, 3]
    assert [s.subject for s in box.summaries("done", [2, 3])] == ["m1", "m3"]
    # Moving back gets a fresh UID, never the message's old one.
    assert box.move("done", [2], "INBOX").moved == {2: 5}


def test_fetch_returns_exact_bytes_and_summaries_skip_missing(tmp_path: Path):
    box = MaildirMailbox(tmp_path)
    raw = message(subject="=?utf-8?q?Gr=C3=BC=C3=9Fe?=", sender='"Jörg" <j@example.de>')
    uid = box.append("INBOX", raw, flags=["\\Seen", "\\Flagged"])
    assert box.fetch("INBOX", [uid, 42]) == {uid: raw}
    [summary] = box.summaries("INBOX", [42, uid])
    assert summary.subject == "Grüße" and "j@example.de" in summary.sender
    assert set(summary.flags) == {"\\Seen", "\\Flagged"} and summary.size == len(raw)
    assert summary.message_id and summary.message_id.startswith("<")


def test_deleted_flag_hides_a_message(tmp_path: Path):
    box = MaildirMailbox(tmp_path)
    box.append("INBOX", message(), flags=["\\Deleted"])
    keep = box.append("INBOX", message())
    assert box.uids("INBOX") == [keep]


def test_losing_the_uidlist_renumbers_under_a_new_uidvalidity(tmp_path: Path):
    box = MaildirMailbox(tmp_path)
    box.append("INBOX", message())
    box.append("INBOX", message())
    box.move("INBOX", [1], "elsewhere")
    old = box.uidvalidity("INBOX")
    os.unlink(tmp_path / UIDLIST)
    box.append("INBOX", message(subject="after"))
    assert box.uidvalidity("INBOX") > old
    assert box.uids("INBOX") == [1, 2]


def test_two_processes_agree_on_uids(tmp_path: Path):
    a, b = MaildirMailbox(tmp_path), MaildirMailbox(tmp_path)
    threads = [
        threading.Thread(target=lambda box=box: [box.append("INBOX", message()) for _ in range(20)])
        for box in (a, b)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert a.uids("INBOX") == b.uids("INBOX") == list(range(1, 41))
    assert a.fetch("INBOX", [17]) == b.fetch("INBOX", [17])


def test_search_from_is_a_case_insensitive_substring(tmp_path: Path):
    box = MaildirMailbox(tmp_path)
    box.append("failed", message(sender="Alice <ALICE@partner.example>"))
    box.append("failed", message(sender="bob@other.example"))
    assert box.search_from("failed", "alice@PARTNER") == [1]


def test_bad_folder_names_and_missing_folders_are_refused(tmp_path: Path):
    box = MaildirMailbox(tmp_path)
    with pytest.raises(MailboxError, match="invalid folder name"):
        box.ensure_folder("a.b")
    with pytest.raises(MailboxError, match="does not exist"):
        box.uids("nowhere")
    box.ensure_folder("archive/2024")
    assert (tmp_path / ".archive.2024" / "cur").is_dir()
    assert box.uids("archive/2024") == []


def test_uidlist_compaction_keeps_uids_and_never_reuses_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(maildir.uidlog, "COMPACT_SLACK", 5)
    box = MaildirMailbox(tmp_path)
    for _ in range(12):
        box.append("INBOX", message())
    box.move("INBOX", list(range(1, 12)), "elsewhere")
    box.append("INBOX", message())  # 13 lines for 2 live messages: rewritten
    assert len((tmp_path / UIDLIST).read_text().splitlines()) <= 4
    assert MaildirMailbox(tmp_path).uids("INBOX") == [12, 13]
    shutil.rmtree(tmp_path / ".elsewhere")
    box.move("INBOX", [12], "elsewhere")
    assert box.append("INBOX", message()) == 14


def test_find_by_message_id_and_discard_only_those(tmp_path: Path):
    box = MaildirMailbox(tmp_path / "m")
    keep = box.append("INBOX", message(subject="keep", message_id="<keep@x>"))
    gone = box.append("INBOX", message(subject="gone", message_id="<gone@x>"))
    assert box.find("INBOX", "<gone@x>") == [gone]
    assert box.find("INBOX", "<nobody@x>") == []
    assert gone is not None
    box.discard("INBOX", [gone])
    assert box.uids("INBOX") == [keep]
    assert MaildirMailbox(tmp_path / "m").uids("INBOX") == [keep]  # gone from disk too


def test_a_mail_without_message_id_or_headers_still_has_a_summary(tmp_path: Path):
    box = MaildirMailbox(tmp_path)
    bare = box.append("INBOX", b"Subject: no id\r\n\r\nbody\r\n")
    junk = box.append("INBOX", b"\x00\xff not a mail at all")
    summaries = {s.uid: s for s in box.summaries("INBOX", [bare, junk])}
    assert summaries[bare].subject == "no id" and summaries[bare].message_id is None
    assert summaries[junk].message_id is None


def test_mail_and_folders_are_private_to_their_user_whatever_the_umask(tmp_path: Path):
    old = os.umask(0o022)
    try:
        box = MaildirMailbox(tmp_path / "mail")
        uid = box.append("INBOX", message(subject="personal"))
        box.move("INBOX", [uid], "failed")
    finally:
        os.umask(old)
    for path in [tmp_path / "mail", *(tmp_path / "mail").rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_mail_another_process_moved_meanwhile_is_left_out_of_a_move(tmp_path: Path) -> None:
    mine, other = MaildirMailbox(tmp_path / "mail"), MaildirMailbox(tmp_path / "mail")
    uids = [mine.append("INBOX", message(subject=f"m{i}")) for i in range(3)]
    assert mine.uids("INBOX") == uids  # this instance has listed them
    other.move("INBOX", [uids[1]], "elsewhere")  # another process, meanwhile

    result = mine.move("INBOX", [u for u in uids if u is not None], "processed")

    assert sorted(result.moved) == [uids[0], uids[2]]
    assert len(mine.uids("processed")) == 2 and len(other.uids("elsewhere")) == 1
    assert mine.uids("INBOX") == []
