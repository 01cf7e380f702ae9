"""A handler that requires a valid, trusted signature by the sender: the engine files every
other mail in `failed` with the reason; encrypted mail is handled decrypted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailcore.mailboxes.memory import MemoryMailbox
from mailcore.processing.engine import Engine
from mailcore.processing.registry import HandlerContext, Registry
from mailcore.security.keyring import Keyring
from mailcore.security.unwrap import Unwrapper
from mailcore.store.history import History
from tests.mailcore.security import mails
from tests.mailcore.security.material import OTHER, OURS, Material

Poll = Callable[[bytes], tuple[str, str | None, list[HandlerContext]]]


@pytest.fixture
def run(tmp_path: Path, unwrapper: Unwrapper) -> Iterator[Poll]:
    seen: list[HandlerContext] = []
    registry = Registry()

    def handle(ctx: HandlerContext) -> None:
        seen.append(ctx)

    registry.add("vehicle", handle, prefix="VEH-", requires_signature=True)
    history = History(f"sqlite:///{tmp_path / 'h.db'}")

    def poll(raw: bytes) -> tuple[str, str | None, list[HandlerContext]]:
        box = MemoryMailbox()
        box.append("INBOX", raw)
        engine = Engine(box, registry, history, security=unwrapper.extract)
        (outcome,) = engine.poll_once()
        return str(outcome.status), outcome.reason, seen

    yield poll
    history.close()


def test_signed_by_the_sender_is_handled(run: Poll, material: Material) -> None:
    status, reason, seen = run(mails.smime_signed(material.partner))
    assert (status, reason) == ("processed", None)
    assert seen[0].payload == {"plate_number": "AB-123", "year": 2020}
    assert seen[0].extraction.security is not None and seen[0].extraction.security.verified


def test_unsigned_mail_is_refused(run: Poll) -> None:
    status, reason, seen = run(mails.plain())
    assert status == "failed" and not seen
    assert reason == (
        "handler 'vehicle' requires a valid, trusted signature by the sender:"
        " the mail is not signed"
    )


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda m: mails.smime_signed(m.stranger), "certificate not trusted"),
        (lambda m: mails.smime_signed(m.expired), "expired"),
        (lambda m: mails.smime_signed(m.partner).replace(b"AB-123", b"XX-999"), "does not match"),
        (lambda m: mails.smime_signed(m.other), f"signed for {OTHER}"),
        (lambda m: mails.pgp_signed(m.gpg_stranger), "not in the keyring"),
    ],
)
def test_bad_signatures_are_refused_with_the_reason(
    run: Poll, material: Material, make: Callable[[Material], bytes], why: str
) -> None:
    status, reason, seen = run(make(material))
    assert status == "failed" and not seen and reason is not None
    assert reason.startswith("handler 'vehicle' requires a valid, trusted signature")
    assert why in reason


def test_encrypted_and_signed_mail_is_handled(run: Poll, material: Material) -> None:
    status, _, seen = run(mails.pgp_encrypted(material.gpg_partner, OURS, sign=True))
    assert status == "processed" and seen[0].payload["plate_number"] == "AB-123"


def test_undecryptable_mail_fails_with_the_reason(tmp_path: Path, material: Material) -> None:
    registry = Registry()
    registry.add("vehicle", lambda ctx: None, prefix="VEH-")
    box = MemoryMailbox()
    box.append("INBOX", mails.smime_encrypted(material.ours_other))
    history = History(f"sqlite:///{tmp_path / 'h.db'}")
    u = Unwrapper(Keyring())
    (outcome,) = Engine(box, registry, history, security=u.extract).poll_once()
    history.close()
    assert outcome.reason == (
        "encrypted mail could not be decrypted: no S/MIME decryption key is configured"
    )
