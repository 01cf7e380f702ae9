"""A handler asking for a sure reply cut: the engine files a mail cut less surely in `failed`
with the reason, and the history's "extracted" event records every mail's confidence."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailcore.errors import RegistrationError
from mailcore.mailboxes.memory import MemoryMailbox
from mailcore.processing.engine import Engine
from mailcore.processing.registry import HandlerContext, Registry
from mailcore.store.history import EventKind, History


def _mail(body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "jane@customer.example"
    msg["To"] = "fleet+VEH-1@example.com"
    msg["Subject"] = "Re: [VEH-1] plate"
    msg.set_content(body)
    return msg.as_bytes()


# The table has no Icelandic: nothing is cut, and the cut is flagged unsure.
UNSURE = "Plate: AB-123\n\n4.3.2024 17:02 Desk <d@example.com> skrifaði:\nPlate: old\n"
CERTAIN = "Plate: AB-123\n\nOn Mon, Mar 4, 2024 at 5:02 PM Desk <d@example.com> wrote:\n> old\n"


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    h = History(f"sqlite:///{tmp_path / 'h.db'}")
    yield h
    h.close()


def _poll(history: History, raw: bytes) -> tuple[str, str | None, list[HandlerContext]]:
    seen: list[HandlerContext] = []
    registry = Registry()
    registry.add("vehicle", seen.append, prefix="VEH-", min_reply_confidence="certain")
    box = MemoryMailbox()
    box.append("INBOX", raw)
    (outcome,) = Engine(box, registry, history).poll_once()
    return str(outcome.status), outcome.reason, seen


def test_a_sure_cut_reaches_the_handler(history: History) -> None:
    status, reason, seen = _poll(history, _mail(CERTAIN))
    assert (status, reason) == ("processed", None)
    assert seen[0].payload == {"plate": "AB-123"}


def test_an_unsure_cut_is_filed_in_failed_with_the_reason(history: History) -> None:
    status, reason, seen = _poll(history, _mail(UNSURE))
    assert status == "failed" and not seen and reason is not None
    assert reason.startswith("the reply cut is unsure")
    assert "handler 'vehicle' wants it certain" in reason
    extracted = [e for e in history.events(limit=50) if e.kind == EventKind.EXTRACTED]
    assert extracted[0].after is not None
    assert extracted[0].after["reply_confidence"] == "unsure"
    assert "not recognised" in extracted[0].after["reply_confidence_reason"]


def test_an_unknown_confidence_is_refused_at_registration() -> None:
    with pytest.raises(RegistrationError, match="one of certain, likely, unsure"):
        Registry().add("v", print, prefix="V-", min_reply_confidence="sure")
