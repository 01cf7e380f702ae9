"""The Mailbox protocol, the same tests on every backend: the embedded Maildir, a private Dovecot
over IMAP, and the in-memory mailbox shipped for handler authors' tests. Then the memory
mailbox's own rules (UIDVALIDITY, checks) and one engine poll on it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcore.errors import MailboxError, UidValidityChanged, UnsendableValue
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.mailboxes.memory import MemoryMailbox
from mailcore.mailboxes.protocol import Mailbox
from mailcore.processing.engine import Engine
from mailcore.store.history import History
from tests.mailcore.engine_support import Calls, deliver, make_registry, ready_account, vehicle_mail
from tests.servers import message


@pytest.fixture(params=["maildir", "imap", "memory"])
def box(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Mailbox]:
    """One fresh mailbox of each backend."""
    if request.param == "maildir":
        maildir = MaildirMailbox(tmp_path / "mail")
        yield maildir
        maildir.close()
    elif request.param == "imap":
        account = ready_account(request.getfixturevalue("dovecot"))
        yield request.getfixturevalue("make_imap_mailbox")(account)
    else:
        yield MemoryMailbox()


def test_uids_ascend_per_folder_and_are_never_reused(box: Mailbox):
    first = [box.append("INBOX", message(subject=f"m{i}")) for i in range(3)]
    assert all(isinstance(u, int) for u in first)
    assert first == sorted(first) and len(set(first)) == 3
    assert box.uids("INBOX") == first
    box.discard("INBOX", [first[-1]])
    later = box.append("INBOX", message(subject="later"))
    assert later is not None and later > first[-1]
    assert box.uids("INBOX") == [*first[:2], later]
    box.ensure_folder("other")
    assert box.uids("other") == []


def test_uidvalidity_is_stable_while_nothing_renumbers(box: Mailbox):
    box.append("INBOX", message())
    validity = box.uidvalidity("INBOX")
    assert isinstance(validity, int) and validity > 0
    box.append("INBOX", message())
    assert box.uidvalidity("INBOX") == validity


def test_summaries_sizes_and_fetch_skip_missing_uids_and_keep_the_order_given(box: Mailbox):
    raws = [message(subject="Grüße", sender="Zoë <zoe@example.org>"), message(subject="two")]
    uids = [box.append("INBOX", raw) for raw in raws]
    assert uids[0] is not None and uids[1] is not None
    missing = max(uids) + 100
    summaries = box.summaries("INBOX", [uids[1], missing, uids[0]])
    assert [s.uid for s in summaries] == [uids[1], uids[0]]
    assert summaries[1].subject == "Grüße"
    assert "zoe@example.org" in summaries[1].sender
    assert summaries[1].size == len(raws[0])
    assert summaries[1].message_id
    by_uid = dict(zip(uids, raws, strict=True))
    assert box.sizes("INBOX", [*uids, missing]) == {u: len(r) for u, r in by_uid.items()}
    assert box.fetch("INBOX", [*uids, missing]) == by_uid
    # Reading never marks a message seen.
    assert all("\\Seen" not in s.flags for s in box.summaries("INBOX", uids))


def test_flags_are_kept_and_deleted_mail_is_hidden(box: Mailbox):
    seen = box.append("INBOX", message(subject="seen"), ["\\Seen"])
    hidden = box.append("INBOX", message(subject="hidden", message_id="<hidden@x>"), ["\\Deleted"])
    assert seen is not None
    assert "\\Seen" in box.summaries("INBOX", [seen])[0].flags
    assert box.uids("INBOX") == [seen]
    assert hidden not in box.find("INBOX", "<hidden@x>")


def test_move_copies_then_removes_and_reports_the_new_uids(box: Mailbox):
    raws = [message(subject=f"move {i}") for i in range(3)]
    uids = [u for raw in raws if (u := box.append("INBOX", raw)) is not None]
    result = box.move("INBOX", [uids[0], uids[2], max(uids) + 100], "archive/2024")
    assert set(result.moved) == {uids[0], uids[2]}
    assert box.uids("INBOX") == [uids[1]]
    in_dest = box.uids("archive/2024")
    assert sorted(u for u in result.moved.values() if u is not None) == in_dest
    assert sorted(box.fetch("archive/2024", in_dest).values()) == sorted([raws[0], raws[2]])
    assert box.move("INBOX", [], "archive/2024").moved == {}


def test_find_and_search_from_match_substrings_ignoring_case(box: Mailbox):
    a = box.append("INBOX", message(sender="Alice <alice@example.org>", message_id="<A1@X>"))
    b = box.append("INBOX", message(sender="bob@example.org", message_id="<b2@x>"))
    assert box.find("INBOX", "<a1@x>") == [a]
    assert box.find("INBOX", "@x>") == [a, b]
    assert box.find("INBOX", "   ") == []
    assert box.find("INBOX", "<nobody@x>") == []
    assert box.find("INBOX", "\x00") == []  # no IMAP string can carry it: matches nothing
    search_from = getattr(box, "search_from")  # noqa: B009 -- not in the protocol itself
    assert search_from("INBOX", "ALICE") == [a]
    assert search_from("INBOX", "example.org") == [a, b]
    assert search_from("INBOX", "x" * 5000) == []


def test_discard_removes_only_those(box: Mailbox):
    keep, gone = box.append("INBOX", message()), box.append("INBOX", message())
    assert gone is not None
    box.discard("INBOX", [gone])
    assert box.uids("INBOX") == [keep]
    box.discard("INBOX", [])
    assert box.uids("INBOX") == [keep]


def test_threads_sharing_one_mailbox_get_distinct_uids(box: Mailbox):
    got: list[int | None] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(5):
            uid = box.append("INBOX", message(subject=f"t{n}.{i}"))
            with lock:
                got.append(uid)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 20 and len(set(got)) == 20
    assert box.uids("INBOX") == sorted(u for u in got if u is not None)


def test_close_is_safe_twice(box: Mailbox):
    box.append("INBOX", message())
    box.close()
    box.close()


# -- the memory mailbox's own rules ---------------------------------------------------------


def test_memory_renumbering_voids_old_uids_once():
    box = MemoryMailbox()
    uids = [box.append("INBOX", message(subject=f"r{i}")) for i in range(2)]
    validity = box.uidvalidity("INBOX")
    box.discard("INBOX", [uids[0]])
    box.renumber("INBOX")
    with pytest.raises(UidValidityChanged):
        box.summaries("INBOX", [u for u in uids if u is not None])
    assert box.uidvalidity("INBOX") > validity
    assert box.uids("INBOX") == [1]
    assert [s.subject for s in box.summaries("INBOX", [1])] == ["r1"]
    assert box.append("INBOX", message()) == 2


def test_memory_checks_names_and_flags_as_imap_does():
    box = MemoryMailbox()
    with pytest.raises(UnsendableValue):
        box.append("INBOX", message(), ["\\Seen) (x"])
    with pytest.raises(UnsendableValue):
        box.ensure_folder("bad\r\nname")
    with pytest.raises(MailboxError, match="does not exist"):
        box.uids("nowhere")
    assert box.uids("inbox") == box.uids("INBOX") == []
    box.ensure_folder("a/b")
    assert box.folders() == ["INBOX", "a/b"]


def test_an_engine_poll_on_the_memory_mailbox(tmp_path: Path):
    box, calls = MemoryMailbox(), Calls()
    history = History(f"sqlite:///{tmp_path / 'history.db'}")
    try:
        good, bad = deliver(box, vehicle_mail("VEH-1"), vehicle_mail("VEH-2", year="old"))
        outcomes = Engine(box, make_registry(calls), history).poll_once()
        assert {o.uid: o.status for o in outcomes} == {good: "processed", bad: "failed"}
        assert calls == [("VEH-1", {"plate_number": "AB-123", "year": 2020})]
        assert box.uids("INBOX") == []
        assert [s.subject for s in box.summaries("processed", box.uids("processed"))] == [
            "[VEH-1] Vehicle update"
        ]
        assert len(box.uids("failed")) == 1
    finally:
        history.close()
