"""mailcore's objects as the API's JSON (the schemas in console.api.schemas describe them)."""

from __future__ import annotations

import dataclasses
from typing import Any


def schema_errors(errors: Any) -> list[dict[str, str]]:
    """SchemaErrors (or (path, message) pairs) as {path, kind, message}."""
    out = []
    for e in errors or []:
        if isinstance(e, tuple):
            out.append({"path": str(e[0]), "kind": "other", "message": str(e[1])})
        else:
            out.append({"path": e.path, "kind": str(e.kind), "message": e.message})
    return out


def outcome(o: Any) -> dict[str, Any]:
    return {
        "uid": o.uid,
        "status": str(o.status),
        "handler": o.handler,
        "reason": o.reason,
        "new_uid": o.new_uid,
        "errors": schema_errors(o.errors),
    }


def event(e: Any) -> dict[str, Any]:
    data = dataclasses.asdict(e)
    data["kind"] = str(data["kind"])
    data.pop("errors", None)
    data.pop("message_id", None)
    data.pop("uidvalidity", None)
    return data


def listed(item: Any) -> dict[str, Any]:
    s = item.summary
    return {
        "uid": s.uid,
        "mailbox": getattr(item, "mailbox", None) or "default",
        "subject": s.subject,
        "sender": s.sender,
        "date": s.date,
        "size": s.size,
        "message_id": s.message_id,
        "handler": item.handler,
        "reason": item.reason,
        "failure": getattr(item, "failure", None),
    }
