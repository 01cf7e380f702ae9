"""The engine on both backends: a local Maildir and a real Dovecot over IMAP."""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailcore.errors import MailcoreError
from mailcore.mailboxes.imap import ImapMailbox
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.mailboxes.protocol import Mailbox
from mailcore.processing import engine as engine_module
from mailcore.processing.engine import Engine, Folders, message_key
from mailcore.processing.vocabulary import ErrorKind, SchemaError
from mailcore.store.history import History
from tests.mailcore.engine_support import (
    Calls,
    CrashAfterCopy,
    CrashBeforeMove,
    auto_reply_mail,
    deliver,
    make_registry,
    ready_account,
    vehicle_mail,
)
from tests.servers import message

FOLDERS = Folders()


def pairs(errors: list[SchemaError]) -> list[tuple[str, str]]:
    """The (path, message) of each error, in order."""
    return [e.pair for e in errors]


@pytest.fixture
def engine(mailbox: Mailbox, history: History, calls: Calls) -> Engine:
    return Engine(mailbox, make_registry(calls), history)


def folder_subjects(mailbox: Mailbox, folder: str) -> list[str]:
    return sorted(s.subject for s in mailbox.summaries(folder, mailbox.uids(folder)))


def test_good_mail_is_handled_and_filed_in_processed(engine: Engine, mailbox: Mailbox, calls):
    deliver(mailbox, vehicle_mail(plate="AB-123", year="2020"))
    [outcome] = engine.poll_once()
    assert outcome.status == "processed" and outcome.handler == "vehicle"
    # key-lines values are strings; the schema's integer type coerces "2020".
    assert calls == [("VEH-123", {"plate_number": "AB-123", "year": 2020})]
    assert mailbox.uids("INBOX") == []
    assert mailbox.uids(FOLDERS.processed) == [outcome.new_uid]


def test_each_failure_goes_to_failed_with_its_reason(engine: Engine, mailbox: Mailbox, history):
    deliver(
        mailbox,
        message(subject="[VEH-1] no payload", body="Just saying hello.\r\n"),
        vehicle_mail(ident="ZZZ-9"),
        vehicle_mail(plate="X", year="1800"),
        vehicle_mail(plate="REFUSE"),
        vehicle_mail(plate="CRASH"),
    )
    outcomes = engine.poll_once()
    assert [o.status for o in outcomes] == ["failed"] * 5
    reasons = [o.reason or "" for o in outcomes]
    assert reasons[0].startswith("no payload found")
    assert "unknown identifier 'ZZZ-9'" in reasons[1]
    assert pairs(outcomes[2].errors) == [
        ("$.plate_number", "'X' is too short"),
        ("$.year", "1800 is less than the minimum of 1900"),
    ]
    assert "$.year: 1800 is less than the minimum of 1900" in reasons[2]
    assert reasons[3] == "plate refused by the fleet system"
    assert reasons[4] == "handler 'vehicle' raised RuntimeError: database unreachable"
    assert len(mailbox.uids(FOLDERS.failed)) == 5 and mailbox.uids("INBOX") == []
    page = engine.failed_page()
    assert sorted(i.reason or "" for i in page.items) == sorted(reasons)


def test_auto_reply_goes_to_its_folder_without_failing(engine: Engine, mailbox: Mailbox, calls):
    deliver(mailbox, auto_reply_mail())
    [outcome] = engine.poll_once()
    assert outcome.status == "auto" and calls == []
    assert len(mailbox.uids(FOLDERS.auto)) == 1 and mailbox.uids(FOLDERS.failed) == []


def test_malformed_mail_does_not_stop_the_batch(engine: Engine, mailbox: Mailbox, calls):
    garbage = b"\x00\xff\xfe garbage \x80\x81\r\n\r\n\xc3\x28 more"
    broken_mime = (
        b"From: bob@example.org\r\nSubject: [VEH-5] broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n'
        b"--never-closed\r\nContent-Type: text/plain; charset=x-unknown\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n"
    )
    deliver(
        mailbox, vehicle_mail(plate="GOOD-1"), garbage, broken_mime, vehicle_mail(plate="GOOD-2")
    )
    outcomes = engine.poll_once()
    assert [o.status for o in outcomes] == ["processed", "failed", "failed", "processed"]
    assert [p["plate_number"] for _, p in calls] == ["GOOD-1", "GOOD-2"]
    assert mailbox.uids("INBOX") == []


def test_extractor_bug_is_recorded_and_the_batch_goes_on(
    engine: Engine, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
):
    import mailcore.processing.extractor as extractor_module

    real = extractor_module.extract

    def flaky(raw: bytes, **kw: Any) -> Any:
        if b"BOOM" in raw:
            raise ValueError("extractor bug")
        return real(raw, **kw)

    monkeypatch.setattr(extractor_module, "extract", flaky)
    deliver(mailbox, vehicle_mail(plate="BOOM"), vehicle_mail(plate="FINE"))
    outcomes = engine.poll_once()
    assert [o.status for o in outcomes] == ["failed", "processed"]
    assert outcomes[0].reason == "internal error: ValueError: extractor bug"


def test_mail_arriving_between_polls_is_seen(engine: Engine, mailbox: Mailbox, external):
    external(vehicle_mail(plate="FIRST"))
    assert [o.status for o in engine.poll_once()] == ["processed"]
    external(vehicle_mail(plate="SECOND"))
    assert [o.status for o in engine.poll_once()] == ["processed"]
    assert len(mailbox.uids(FOLDERS.processed)) == 2


def test_batches_take_the_oldest_first(engine: Engine, mailbox: Mailbox):
    deliver(mailbox, *(vehicle_mail(plate=f"P-{i}") for i in range(5)))
    first = engine.poll_once(batch_size=3)
    second = engine.poll_once(batch_size=3)
    assert len(first) == 3 and len(second) == 2 and engine.poll_once() == []
    assert first[0].uid < first[-1].uid < second[0].uid


def test_resubmit_with_corrected_payload_moves_and_records_the_diff(
    engine: Engine, mailbox: Mailbox, history: History, calls
):
    deliver(mailbox, vehicle_mail(plate="X", year="2021"))
    [failed] = engine.poll_once()
    uid = failed.new_uid
    assert uid is not None and failed.status == "failed"
    # The operator writes the German key; aliases map it to the canonical one.
    outcome = engine.resubmit(uid, {"Kennzeichen": "XY-987", "year": "2021"}, by="olga")
    assert outcome.status == "processed" and outcome.new_uid is not None
    assert calls[-1] == ("VEH-123", {"plate_number": "XY-987", "year": 2021})
    assert mailbox.uids(FOLDERS.failed) == []
    assert len(mailbox.uids(FOLDERS.processed)) == 1
    key = engine.inspect(outcome.new_uid, FOLDERS.processed).message_key
    kinds = [e.kind for e in history.timeline(key)]
    assert kinds.index("corrected") < kinds.index("resubmitted") < kinds.index("handled")
    [corrected] = [e for e in history.timeline(key) if e.kind == "corrected"]
    assert corrected.actor == "olga"
    assert corrected.before == {"plate_number": "X", "year": 2021}
    assert corrected.after == {"plate_number": "XY-987", "year": 2021}


def test_resubmit_that_fails_again_moves_nothing_and_keeps_the_new_reason(
    engine: Engine, mailbox: Mailbox, history: History
):
    deliver(mailbox, vehicle_mail(plate="X"))
    [failed] = engine.poll_once()
    assert failed.new_uid is not None
    outcome = engine.resubmit(failed.new_uid, {"plate_number": "REFUSE", "year": 2020}, by="olga")
    assert outcome.status == "failed" and outcome.reason == "plate refused by the fleet system"
    assert mailbox.uids(FOLDERS.failed) == [failed.new_uid]
    assert mailbox.uids(FOLDERS.processed) == []
    [item] = engine.failed_page().items
    assert item.reason == "plate refused by the fleet system"
    # The console shows what the operator last submitted, not the original.
    assert engine.inspect(failed.new_uid).payload == {"plate_number": "REFUSE", "year": 2020}
    bad = engine.resubmit(failed.new_uid, {"plate_number": "OK-1"}, by="olga")
    assert bad.status == "failed" and pairs(bad.errors) == [("$.year", "is required")]
    assert mailbox.uids(FOLDERS.failed) == [failed.new_uid]


def test_rerun_after_a_handler_fix(engine: Engine, mailbox: Mailbox, calls):
    deliver(mailbox, vehicle_mail(plate="CRASH"), vehicle_mail(plate="REFUSE"))
    engine.poll_once()
    failed = mailbox.uids(FOLDERS.failed)
    assert len(failed) == 2
    spec = engine.registry.get("vehicle")
    original = spec.func

    def fixed(ctx: Any) -> Any:
        calls.append((ctx.identifier, dict(ctx.payload)))
        if ctx.payload["plate_number"] == "REFUSE":
            return original(ctx)
        return {"stored": True}

    object.__setattr__(spec, "func", fixed)
    outcomes = engine.rerun(failed, by="olga")
    assert [o.status for o in outcomes] == ["processed", "failed"]
    assert len(mailbox.uids(FOLDERS.failed)) == 1 and len(mailbox.uids(FOLDERS.processed)) == 1


def test_reject_files_the_message_with_the_note(engine: Engine, mailbox: Mailbox, history):
    deliver(mailbox, vehicle_mail(ident="NOPE-1"))
    [failed] = engine.poll_once()
    assert failed.new_uid is not None
    outcome = engine.reject(failed.new_uid, "spam from a partner's test system", by="olga")
    assert outcome.status == "rejected"
    assert mailbox.uids(FOLDERS.failed) == []
    assert mailbox.uids(FOLDERS.rejected) == [outcome.new_uid]
    [event] = history.events(kind="rejected")
    assert event.reason == "spam from a partner's test system" and event.actor == "olga"


def test_failed_page_is_newest_first_paginated_and_filtered(engine: Engine, mailbox: Mailbox):
    deliver(
        mailbox,
        *(vehicle_mail(ident=f"NOPE-{i}", sender="alice@example.org") for i in range(3)),
        *(vehicle_mail(plate="REFUSE", sender="bob@partner.example") for _ in range(2)),
    )
    engine.poll_once()
    page1 = engine.failed_page(page=1, per_page=2)
    page3 = engine.failed_page(page=3, per_page=2)
    assert page1.total == 5 and len(page1.items) == 2 and len(page3.items) == 1
    uids = [i.summary.uid for i in page1.items] + [i.summary.uid for i in page3.items]
    assert uids[0] > uids[1] > uids[2]
    by_reason = engine.failed_page(reason="FLEET SYSTEM")
    assert by_reason.total == 2
    assert {i.summary.sender for i in by_reason.items} == {"bob@partner.example"}
    by_sender = engine.failed_page(sender="alice@")
    assert by_sender.total == 3 and all("NOPE" in (i.reason or "") for i in by_sender.items)
    assert engine.failed_page(handler="vehicle").total == 2
    assert engine.failed_page(handler="vehicle", sender="alice").total == 0


def test_crash_between_copy_and_delete_loses_nothing_and_handles_once(
    engine: Engine, mailbox: Mailbox, history: History, calls
):
    deliver(mailbox, vehicle_mail(plate="ONCE-1"), vehicle_mail(plate="X"))
    crashing = Engine(CrashAfterCopy(mailbox), engine.registry, history)
    with pytest.raises(ConnectionError):
        crashing.poll_once()
    assert len(calls) == 1
    # Copies exist in processed/failed AND the originals are still in the inbox.
    assert len(mailbox.uids("INBOX")) == 2
    outcomes = Engine(mailbox, engine.registry, history).poll_once()
    assert sorted(o.status for o in outcomes) == ["duplicate", "failed"]
    assert len(calls) == 1, "the handler must not run twice for the same message"
    assert mailbox.uids("INBOX") == []
    # Converged: the copies made before the crash are the only ones, nothing copied twice.
    [processed] = mailbox.fetch(FOLDERS.processed, mailbox.uids(FOLDERS.processed)).values()
    assert b"ONCE-1" in processed
    [failed] = mailbox.fetch(FOLDERS.failed, mailbox.uids(FOLDERS.failed)).values()
    assert b"plate_number: X" in failed
    by_status = {o.status: o for o in outcomes}
    assert by_status["duplicate"].new_uid == mailbox.uids(FOLDERS.processed)[0]
    assert history.state(message_key(processed)).folder == FOLDERS.processed  # type: ignore[union-attr]


def test_crash_between_copy_and_delete_converges_without_imap_move(
    dovecot: Any, make_imap_mailbox: Callable[..., ImapMailbox], history: History, calls
):
    """The COPY + STORE + UID EXPUNGE path (use_move=False) converges the same way."""
    mailbox = make_imap_mailbox(ready_account(dovecot), use_move=False)
    registry = make_registry(calls)
    deliver(mailbox, vehicle_mail(plate="ONCE-3"))
    with pytest.raises(ConnectionError):
        Engine(CrashAfterCopy(mailbox), registry, history).poll_once()
    [outcome] = Engine(mailbox, registry, history).poll_once()
    assert outcome.status == "duplicate" and len(calls) == 1
    assert mailbox.uids(FOLDERS.inbox) == []
    assert mailbox.uids(FOLDERS.processed) == [outcome.new_uid]


def test_same_bytes_twice_in_one_batch_are_filed_once(engine: Engine, mailbox: Mailbox, calls):
    raw = vehicle_mail(plate="TWICE")
    deliver(mailbox, raw, raw)
    outcomes = engine.poll_once()
    assert sorted(o.status for o in outcomes) == ["duplicate", "processed"]
    assert len(calls) == 1
    assert mailbox.uids(FOLDERS.inbox) == [] and len(mailbox.uids(FOLDERS.processed)) == 1


def test_crash_between_handling_and_moving_handles_once(
    engine: Engine, mailbox: Mailbox, history: History, calls
):
    deliver(mailbox, vehicle_mail(plate="ONCE-2"))
    with pytest.raises(ConnectionError):
        Engine(CrashBeforeMove(mailbox), engine.registry, history).poll_once()
    assert len(calls) == 1 and len(mailbox.uids("INBOX")) == 1
    [outcome] = engine.poll_once()
    assert outcome.status == "duplicate" and len(calls) == 1
    assert mailbox.uids("INBOX") == [] and len(mailbox.uids(FOLDERS.processed)) == 1


def test_engine_killed_mid_batch_never_runs_a_handler_twice(
    engine: Engine, mailbox: Mailbox, history: History, calls, tmp_path: Path
):
    """A real process, SIGKILLed as its fourth handler call begins: three handlers had
    returned, their batch was neither recorded nor moved. Once its claims' lease has run out,
    the next poll files those three without calling their handler again and handles the
    rest."""
    plates = [f"KILL-{i}" for i in range(6)]
    deliver(mailbox, *(vehicle_mail(ident=f"VEH-{i}", plate=p) for i, p in enumerate(plates)))
    log = tmp_path / "handled.log"
    spec: dict[str, Any] = {
        "history": str(history.engine.url),
        "log": str(log),
        "kill_at": 4,
        "lease": 0.5,
    }
    if isinstance(mailbox, MaildirMailbox):
        spec["maildir"] = str(mailbox.root)
    else:
        assert isinstance(mailbox, ImapMailbox)
        spec["imap"] = {**dataclasses.asdict(mailbox.config)}
    run = subprocess.run(
        [sys.executable, "-m", "tests.mailcore.crash_runner", json.dumps(spec)],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        timeout=60,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()[-2000:]
    first = log.read_text().split()
    assert first == plates[:3]
    assert len(mailbox.uids(FOLDERS.inbox)) == 6  # nothing moved
    assert history.events(kind="handled") == []  # nor recorded, apart from the marks
    assert engine.poll_once() == []  # the dead process's claims hold until their lease ends
    time.sleep(0.6)

    outcomes = engine.poll_once()

    again = [payload["plate_number"] for _, payload in calls]
    assert sorted(again) == plates[3:], "a handler that had returned ran again"
    assert sorted(o.status for o in outcomes) == ["duplicate"] * 3 + ["processed"] * 3
    assert mailbox.uids(FOLDERS.inbox) == [] and len(mailbox.uids(FOLDERS.processed)) == 6
    duplicates = history.events(kind="duplicate")
    assert sorted(e.subject or "" for e in duplicates) == [
        f"[VEH-{i}] Vehicle update" for i in range(3)
    ]


def test_poll_stops_when_a_success_cannot_be_recorded(
    mailbox: Mailbox, history: History, calls, monkeypatch: pytest.MonkeyPatch
):
    deliver(mailbox, vehicle_mail(plate="FIRST"), vehicle_mail(plate="SECOND"))

    def unwritable(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(history, "mark_handled", unwritable)
    with pytest.raises(MailcoreError, match="could not be recorded"):
        Engine(mailbox, make_registry(calls), history).poll_once()
    assert len(calls) == 1  # the second handler did not run unrecorded
    assert len(mailbox.uids(FOLDERS.inbox)) == 2 and mailbox.uids(FOLDERS.failed) == []


def test_inspect_and_validate(engine: Engine, mailbox: Mailbox):
    deliver(mailbox, vehicle_mail(plate="X"))
    [failed] = engine.poll_once()
    assert failed.new_uid is not None
    seen = engine.inspect(failed.new_uid)
    assert seen.handler == "vehicle" and seen.schema is not None
    assert seen.payload == {"plate_number": "X", "year": 2020}
    assert pairs(seen.errors) == [("$.plate_number", "'X' is too short")]
    assert seen.extraction.identifier == "VEH-123" and seen.raw.startswith(b"From:")
    assert engine.validate("vehicle", {"immatriculation": "AB-1", "year": "1999"}) == []
    assert pairs(engine.validate("vehicle", {"year": "x"})) == [
        ("$.plate_number", "is required"),
        ("$.year", "'x' is not of type 'integer'"),
    ]
    assert engine.validate("nope", {}) == [
        SchemaError("$", ErrorKind.HANDLER, "unknown handler 'nope'")
    ]


def test_inspect_without_payload_or_handler_is_never_valid(engine: Engine, mailbox: Mailbox):
    deliver(
        mailbox,
        message(subject="[VEH-1] no payload", body="Just saying hello.\r\n"),
        message(subject="Hello", body="plate_number: AB-1\r\nyear: 2001\r\n"),
    )
    no_payload, no_handler = engine.poll_once()
    assert no_payload.status == no_handler.status == "failed"
    assert no_payload.new_uid is not None and no_handler.new_uid is not None
    seen = engine.inspect(no_payload.new_uid)
    assert seen.handler == "vehicle" and seen.payload is None
    assert ("$.plate_number", "is required") in pairs(seen.errors)
    unrouted = engine.inspect(no_handler.new_uid)
    assert unrouted.handler is None
    assert unrouted.errors[0] == engine_module.NO_HANDLER
    assert pairs(engine.validate(None, {"plate_number": "AB-1", "year": 2001})) == [
        ("$", "no handler chosen: pick the handler this mail is for")
    ]


def test_history_records_the_trip_of_each_message(engine: Engine, mailbox: Mailbox, history):
    deliver(mailbox, vehicle_mail(plate="TRIP-1"))
    [outcome] = engine.poll_once()
    key = engine.inspect(outcome.new_uid or 0, FOLDERS.processed).message_key
    kinds = [e.kind for e in history.timeline(key)]
    assert kinds == ["received", "extracted", "routed", "handled", "moved"]
    state = history.state(key)
    assert state is not None and state.status == "processed" and state.handled
    assert state.folder == FOLDERS.processed and state.uid == outcome.new_uid
