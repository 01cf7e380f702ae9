"""The who/what facts of a message (Message-ID, sender, subject, identifier) as they go on its
history rows: read from a fresh extraction (`facts`) or from what the history holds
(`recorded_facts`), so the pipeline and the failed-mail actions write the same columns."""

from __future__ import annotations

from typing import Any

from mailcore.inbound.extract import Extraction
from mailcore.store.records import MessageState

__all__ = ["facts", "recorded_facts"]


def facts(ex: Extraction) -> dict[str, Any]:
    """The who/what facts of a message that go on its "received" and outcome rows."""
    h = ex.headers
    return {
        "message_id": h.message_id,
        "sender": h.from_[:512] or None,
        "subject": h.subject,
        "identifier": ex.identifier,
    }


def recorded_facts(state: MessageState | None) -> dict[str, Any]:
    """The who/what facts (as `facts` gives them) the history holds for a message."""
    if state is None:
        return dict.fromkeys(("message_id", "sender", "subject", "identifier"))
    return {
        "message_id": state.message_id,
        "sender": state.sender,
        "subject": state.subject,
        "identifier": state.identifier,
    }
