"""Sample data for a new template: the last payload its handler really processed, or an
example built from the handler's schema (`sample_for`)."""

from __future__ import annotations

from typing import Any

from console.services import services
from mailcore import sample_from_schema
from mailcore.errors import MailcoreError


def _schema_of(handler: str | None) -> dict[str, Any] | None:
    if not handler:
        return None
    try:
        spec = services().registry.get(handler)
    except (KeyError, MailcoreError):
        return None
    return spec.schema


def last_payload(handler: str) -> dict[str, Any] | None:
    """The newest payload the handler really processed (None if none is found).

    The history keeps where each processed message is filed, and the payload an operator
    submitted; otherwise the payload is extracted again from the filed message.
    """
    svc = services()
    for state in svc.history.messages(handler=handler, status="processed", limit=10):
        if isinstance(state.payload, dict) and state.payload:
            return dict(state.payload)
        if state.folder is None or state.uid is None:
            continue
        try:
            found = svc.engine.inspect(int(state.uid), state.folder)
        except MailcoreError:  # moved or deleted since: try an older one
            continue
        if found.message_key == state.message_key and isinstance(found.payload, dict):
            return dict(found.payload)
    return None


def sample_for(handler: str | None, source: str = "schema") -> dict[str, Any]:
    """Sample data for a new template: the last real payload or an example from the schema."""
    if handler and source == "history":
        found = last_payload(handler)
        if found is not None:
            return found
    schema = _schema_of(handler)
    if schema:
        value = sample_from_schema(schema)
        if isinstance(value, dict):
            return value
    return {"name": "Ada Lovelace"}
