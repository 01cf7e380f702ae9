"""/api/v1/history: the admins' history as JSON -- a page of messages (or of events of one
kind) filtered like the history page (console.history's make_query and search), and one
message's timeline."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate as v

from console import history
from console.api import convert
from console.api.auth import require
from console.api.errors import ApiError, blueprint
from console.api.schemas import EventOut, PageArgs, Strict
from console.services import services
from mailcore.processing.vocabulary import Status

blp = blueprint(
    "api_history", __name__, url_prefix="/api/v1/history", description="The history (admin)"
)


class Filters(Strict):
    """The history page's filters (console.history.make_query takes them)."""

    since = f.Date(metadata={"description": "First day (UTC)"})
    until = f.Date(metadata={"description": "Last day, included (UTC)"})
    status = f.String(validate=v.OneOf([str(s) for s in Status]))
    handler = f.String(validate=v.Length(max=200))
    sender = f.String(validate=v.Length(max=200))
    identifier = f.String(validate=v.Length(max=200))


class HistoryArgs(Filters, PageArgs):
    kind = f.String(
        validate=v.OneOf([str(k) for k in history.KINDS]),
        metadata={"description": "Events of this kind instead of one row per message"},
    )


class HistoryPage(ma.Schema):
    page = f.Integer(required=True)
    per_page = f.Integer(required=True)
    messages = f.List(f.Dict(), required=True, metadata={"description": "Without a kind"})
    events = f.List(f.Nested(EventOut), required=True, metadata={"description": "With a kind"})
    has_next = f.Boolean(required=True)


class Timeline(ma.Schema):
    message_key = f.String(required=True)
    events = f.List(f.Nested(EventOut), required=True)


@blp.get("/")
@require("admin")
@blp.arguments(HistoryArgs, location="query")
@blp.response(200, HistoryPage)
def search(args: dict[str, Any]) -> dict[str, Any]:
    """The history, one row per message (its state now), or the events of `kind`."""
    page, per_page = args.pop("page"), args.pop("per_page")
    since, until = args.pop("since", None), args.pop("until", None)
    query = history.make_query(since, until, **args)
    rows, has_next = history.search(query, page, per_page)
    grouped = not query.kind
    return {
        "page": page,
        "per_page": per_page,
        "messages": [dataclasses.asdict(r) for r in rows] if grouped else [],
        "events": [] if grouped else [convert.event(e) for e in rows],
        "has_next": has_next,
    }


class DayCount(ma.Schema):
    day = f.Date(required=True)
    status = f.String(required=True)
    count = f.Integer(required=True)


class Counts(ma.Schema):
    counts = f.List(f.Nested(DayCount), required=True)


@blp.get("/counts")
@require("admin")
@blp.arguments(Filters, location="query")
@blp.response(200, Counts)
def counts(args: dict[str, Any]) -> dict[str, Any]:
    """Messages per day and current status (the history page's chart), each message once;
    by default the 14 days up to today."""
    until = args.pop("until", None) or datetime.now(UTC).date()
    since = args.pop("since", None) or until - timedelta(days=history.DEFAULT_DAYS)
    query = history.make_query(since, until, **args)
    assert query.since is not None and query.until is not None  # both days were given
    filters = {k: v for k, v in query.kwargs().items() if k not in ("since", "until")}
    found = services().history.message_counts_per_day(query.since, query.until, **filters)
    return {"counts": [{"day": d, "status": s, "count": n} for d, s, n in found]}


@blp.get("/messages/<path:key>")
@require("admin")
@blp.response(200, Timeline)
def timeline(key: str) -> dict[str, Any]:
    """Everything that happened to one message, oldest first, with who did it."""
    events = services().history.timeline(key)
    if not events:
        raise ApiError(404, f"no message {key!r} in the history")
    return {"message_key": key, "events": [convert.event(e) for e in events]}
