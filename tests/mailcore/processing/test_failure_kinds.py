"""Each kind of failure is recorded beside its English reason, for real failing mail through the
engine (a Maildir and the SQLite history): on the message's state, on its "failed" event and
on the console's views of it (the failed list's item, the detail's inspection). A mail that
later succeeds keeps no kind; a rejected one taken back to `failed` keeps its kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcore.errors import HandlerFailed
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing.engine import Engine, Folders
from mailcore.processing.outcomes import Limits, Outcome, Status
from mailcore.processing.registry import HandlerContext, Registry
from mailcore.processing.vocabulary import EventKind, FailureKind
from mailcore.security.keyring import Keyring
from mailcore.security.unwrap import Unwrapper
from mailcore.store.history import History
from mailcore.webhooks.signing import WebhookSecret
from tests.mailcore.engine_support import Calls, deliver, make_registry, vehicle_mail
from tests.mailcore.security import mails
from tests.mailcore.security.fixtures import material as material  # noqa: F401 (a fixture)
from tests.mailcore.security.material import Material
from tests.mailcore.webhooks.conftest import EngineFactory
from tests.mailcore.webhooks.conftest import receiver as receiver  # noqa: F401 (fixtures)
from tests.mailcore.webhooks.conftest import secret as secret  # noqa: F401
from tests.mailcore.webhooks.conftest import webhook_engine as webhook_engine  # noqa: F401
from tests.servers import message
from tests.webhook_receiver import WebhookReceiver

FOLDERS = Folders()


@pytest.fixture
def maildir(tmp_path: Path) -> Iterator[MaildirMailbox]:
    box = MaildirMailbox(tmp_path / "mail")
    box.ensure_folder("INBOX")
    yield box


def recorded(history: History, box: MaildirMailbox) -> list[tuple[str | None, str | None]]:
    """(state's failure, its "failed" event's failure) of each mail in `failed`, by UID."""
    folder = FOLDERS.failed
    uids = box.uids(folder)
    states = history.states_at(folder, box.uidvalidity(folder), uids)
    out = []
    for uid in uids:
        state = states[uid]
        [event] = history.events(message_key=state.message_key, kind=EventKind.FAILED, limit=1)
        out.append((state.failure, event.failure))
    return out


def moved(outcome: Outcome) -> int:
    """The UID the action's mail has in its new folder."""
    assert outcome.new_uid is not None
    return outcome.new_uid


def kinds_of(engine: Engine, *raws: bytes) -> list[str]:
    """The failure kind each of `raws` is recorded with, polled by `engine` (all must fail)."""
    box, history = engine.mailbox, engine.history
    assert isinstance(box, MaildirMailbox)
    deliver(box, *raws)
    outcomes = engine.poll_once()
    assert [o.status for o in outcomes] == [Status.FAILED] * len(raws)
    pairs = recorded(history, box)
    assert all(state == event for state, event in pairs), pairs
    return [str(state) for state, _ in pairs]


def test_the_engines_failures_each_record_their_kind(
    maildir: MaildirMailbox, history: History
) -> None:
    registry = make_registry(Calls())

    @registry.handler("signed", subject_keyword="SIGNED", requires_signature=True)
    def signed(ctx: HandlerContext) -> None:
        raise AssertionError("never called: the mail is not signed")

    engine = Engine(maildir, registry, history)
    kinds = kinds_of(
        engine,
        message(subject="[VEH-1] no payload", body="Just saying hello.\r\n"),
        vehicle_mail(ident="ZZZ-9"),
        message(subject="hello", body="plate_number: AB-1\r\n"),
        vehicle_mail(plate="X", year="1800"),
        vehicle_mail(plate="REFUSE"),
        vehicle_mail(plate="CRASH"),
        message(subject="SIGNED order", body="qty: 1\r\n"),
    )
    assert kinds == [
        FailureKind.NO_PAYLOAD,
        FailureKind.UNKNOWN_IDENTIFIER,
        FailureKind.NO_HANDLER,
        FailureKind.SCHEMA,
        FailureKind.HANDLER_REFUSED,
        FailureKind.HANDLER_ERROR,
        FailureKind.SIGNATURE_REQUIRED,
    ]


def test_too_large_and_reply_unsure_mail_record_their_kind(
    maildir: MaildirMailbox, history: History
) -> None:
    registry = Registry()
    registry.add("vehicle", print, prefix="VEH-", min_reply_confidence="certain")
    engine = Engine(maildir, registry, history, limits=Limits(max_message_size=8192))
    # No Icelandic in the attribution table: nothing is cut, and the cut is flagged unsure.
    unsure = (
        "Plate: AB-2\r\n\r\n4.3.2024 17:02 Desk <d@example.com> skrifa\u00f0i:\r\nPlate: old\r\n"
    )
    reply = message(subject="Re: [VEH-2] update", body=unsure)
    huge = vehicle_mail(ident="VEH-3", extra="x" * 20_000)
    assert kinds_of(engine, reply, huge) == [
        FailureKind.REPLY_UNSURE,
        FailureKind.TOO_LARGE,
    ]


def test_a_handler_may_name_the_kind_of_its_refusal(
    maildir: MaildirMailbox, history: History
) -> None:
    registry = Registry()

    def files(ctx: HandlerContext) -> None:
        kind = ctx.payload["say"]
        raise HandlerFailed(f"unknown file {ctx.identifier}: check the reference", failure=kind)

    registry.add("files", files, prefix="F-")
    engine = Engine(maildir, registry, history)
    kinds = kinds_of(
        engine,
        message(subject="[F-1] a", body="say: unknown_identifier\r\n"),
        message(subject="[F-2] b", body="say: a kind of a later version\r\n"),
    )
    assert kinds == [FailureKind.UNKNOWN_IDENTIFIER, FailureKind.HANDLER_REFUSED]


def test_an_engine_bug_is_recorded_as_internal(maildir: MaildirMailbox, history: History) -> None:
    def broken(raw: bytes, scheme: object) -> object:
        raise RuntimeError("extraction bug")

    engine = Engine(maildir, make_registry(Calls()), history, security=broken)  # type: ignore[arg-type]
    assert kinds_of(engine, vehicle_mail()) == [FailureKind.INTERNAL]


def test_an_undecryptable_mail_is_recorded_as_undecrypted(
    maildir: MaildirMailbox,
    history: History,
    material: Material,  # noqa: F811
) -> None:
    engine = Engine(maildir, make_registry(Calls()), history, security=Unwrapper(Keyring()).extract)
    encrypted = mails.smime_encrypted(material.ours_other)
    assert kinds_of(engine, encrypted) == [FailureKind.UNDECRYPTED]


def test_webhook_refusals_and_unreachable_endpoints_have_their_own_kinds(
    webhook_engine: EngineFactory,  # noqa: F811
    receiver: WebhookReceiver,  # noqa: F811
    maildir: MaildirMailbox,
    history: History,
) -> None:
    receiver.script((422, {"reason": "order ORD-7 is closed"}))
    refused = message(subject="[ORD-7] Order", body="qty: 3\r\n")
    assert kinds_of(webhook_engine(receiver.url), refused) == [FailureKind.WEBHOOK_REFUSED]
    with WebhookReceiver(WebhookSecret.generate()) as gone:
        url = gone.url
    deliver(maildir, message(subject="[ORD-8] Order", body="qty: 3\r\n"))
    [outcome] = webhook_engine(url).poll_once()
    assert outcome.status == Status.FAILED
    assert sorted(str(s) for s, _ in recorded(history, maildir)) == [
        FailureKind.WEBHOOK_REFUSED,
        FailureKind.WEBHOOK_UNREACHABLE,
    ]


def test_the_console_views_carry_the_kind_and_a_fixed_mail_drops_it(
    maildir: MaildirMailbox, history: History
) -> None:
    calls = Calls()
    engine = Engine(maildir, make_registry(calls), history)
    deliver(maildir, vehicle_mail(plate="X", year="1800"))
    [failed] = engine.poll_once()
    uid = moved(failed)
    [item] = engine.failed_page().items
    assert item.failure == FailureKind.SCHEMA
    assert engine.inspect(uid).failure == FailureKind.SCHEMA
    fixed = engine.resubmit(uid, {"plate_number": "AB-12", "year": 2001}, by="op")
    assert fixed.status == Status.PROCESSED
    [state] = history.states([engine.inspect(moved(fixed), FOLDERS.processed).message_key]).values()
    assert state.failure is None


def test_a_reject_undone_keeps_the_kind(maildir: MaildirMailbox, history: History) -> None:
    engine = Engine(maildir, make_registry(Calls()), history)
    deliver(maildir, vehicle_mail(ident="ZZZ-9"))
    [failed] = engine.poll_once()
    rejected = engine.reject(moved(failed), "spam?", by="op")
    assert engine.failed_page(folder=FOLDERS.rejected).items[0].failure is None  # not failed
    back = engine.unreject(moved(rejected), "my mistake", by="op")
    assert engine.inspect(moved(back)).failure == FailureKind.UNKNOWN_IDENTIFIER


def test_the_kind_is_stored_on_both_databases(maildir: MaildirMailbox, database_url: str) -> None:
    history = History(database_url)  # PostgreSQL writes events by COPY, SQLite by plain SQL
    try:
        engine = Engine(maildir, make_registry(Calls()), history)
        raws = (vehicle_mail(ident="ZZZ-9"), vehicle_mail(plate="X"))
        assert kinds_of(engine, *raws) == [
            FailureKind.UNKNOWN_IDENTIFIER,
            FailureKind.SCHEMA,
        ]
    finally:
        history.close()
