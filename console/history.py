"""The processing history for admins: search (one row per message, its events on expand; or
the events of a kind), per-message timelines, a daily chart of mail, CSV export.

Answers "what happened to the mail from X last Tuesday, and who touched it". Filters are a GET
form (bookmarkable, htmx swaps only the results). This module holds the views; the filter form
is console.forms.HistoryFilter, the chart console.history_chart, the export
console.history_csv, the timeline's steps console.timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from wtforms import SelectChoice

from console.downloads import content_disposition
from console.folders import results_page
from console.forms import HistoryFilter
from console.history_chart import STATUS_COLOURS, bar_chart
from console.history_csv import csv_rows
from console.roles import role_required
from console.services import services
from console.timeline import TimelineStep, kind_title
from console.translations import status_name
from mailcore.processing.vocabulary import EventKind, Status

log = logging.getLogger(__name__)

bp = Blueprint("history", __name__, url_prefix="/history")

PER_PAGE = 50
EXPORT_BATCH = 1000
DEFAULT_DAYS = 14
STATUSES = tuple(Status)  # a message's current status (the rows are messages)
# The event kinds one may filter on (the steps every message goes through are left out).
KINDS = tuple(
    kind
    for kind in (
        *(EventKind.RECEIVED, EventKind.FAILED, EventKind.HANDLED, EventKind.MOVED),
        *(EventKind.CORRECTED, EventKind.RESUBMITTED, EventKind.REJECTED, EventKind.DUPLICATE),
        *(EventKind.AUTO_REPLY, EventKind.ADMIN, EventKind.AUTH, EventKind.TEMPLATE),
        EventKind.SENT,
    )
)


@dataclass
class Query:
    """The History.events keyword arguments a filter form stands for."""

    since: datetime | None = None
    until: datetime | None = None
    status: str | None = None
    handler: str | None = None
    sender: str | None = None
    identifier: str | None = None
    kind: str | None = None

    def kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


def _form() -> HistoryFilter:
    form = HistoryFilter(request.args, meta={"csrf": False})
    statuses = [SelectChoice(s, status_name(s)) for s in STATUSES]
    form.status.choices = [SelectChoice("", _("Any status")), *statuses]
    try:
        names = list(services().registry.names())
    except Exception:  # a console without handlers still shows the history
        names = []
    form.handler.choices = [SelectChoice("", _("Any handler")), *[SelectChoice(n) for n in names]]
    kinds = [SelectChoice(k, kind_title(k)) for k in KINDS]
    form.kind.choices = [SelectChoice("", _("Any event")), *kinds]
    return form


def query_from(form: HistoryFilter) -> Query:
    return make_query(
        form.since.data,
        form.until.data,
        status=form.status.data,
        handler=form.handler.data,
        sender=form.sender.data,
        identifier=form.identifier.data,
        kind=form.kind.data,
    )


def make_query(since: date | None, until: date | None, **fields: str | None) -> Query:
    """The query of a filter (the page's form, the API's arguments). Dates are whole days:
    "until" includes the whole of that day; blank fields filter nothing."""
    given: dict[str, Any] = {k: (v or "").strip() or None for k, v in fields.items()}
    q = Query(**given)
    if since:
        q.since = datetime.combine(since, time.min, tzinfo=UTC)
    if until:
        q.until = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
    return q


def search(query: Query, page: int, per_page: int) -> tuple[list[Any], bool]:
    """A page of the history: one row per message (a MessageState), or the events of the
    query's kind; and whether there is a next page (one extra row tells, without counting the
    whole table)."""
    history = services().history
    limit, offset = per_page + 1, (page - 1) * per_page
    find = history.events if query.kind else history.messages
    rows = find(**query.kwargs(), limit=limit, offset=offset)
    return rows[:per_page], len(rows) > per_page


@bp.get("/")
@role_required("admin")
def index() -> ResponseReturnValue:
    """The history, one row per message (its current state; its events on expand), or the
    events themselves when an event kind is chosen; the chart counts mail, each message once.
    htmx requests get the results only.

    Invalid filters list nothing (never everything, unfiltered, as if they applied): the
    errors are shown beside the fields and in the results, and the chart is not drawn."""
    form = _form()
    valid = form.validate()
    query = query_from(form) if valid else Query()
    page = (form.page.data or 1) if valid else 1
    per_page = (form.per_page.data or PER_PAGE) if valid else PER_PAGE
    history = services().history
    chart_until = (query.until or _tomorrow()).date()
    chart_since = query.since.date() if query.since else chart_until - timedelta(DEFAULT_DAYS)
    # The chart follows the same filters as the table (its own period when none is given).
    filters = {k: v for k, v in query.kwargs().items() if k not in ("since", "until", "kind")}
    grouped = not query.kind  # an event kind asked for: the events, not the messages
    rows: list[Any] = []
    counts: Iterable[tuple[date, str, int]] = []
    has_next = False
    if valid:
        rows, has_next = search(query, page, per_page)
        counts = history.message_counts_per_day(
            datetime.combine(chart_since, time.min, tzinfo=UTC),
            datetime.combine(chart_until, time.min, tzinfo=UTC),
            **filters,
        )
    chart = bar_chart(counts, chart_since, chart_until - timedelta(days=1)) if valid else None
    # The steps between "received" and the outcome carry only the message key: their sender,
    # subject and identifier are the message's.
    shown = [] if grouped else rows
    facts = history.states({e.message_key for e in shown if e.message_key}) if shown else {}
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    context = {
        "form": form,
        "problems": form.problems(),
        "grouped": grouped,
        "messages": rows if grouped else [],
        "events": shown,
        "facts": facts,
        "page": page,
        "per_page": per_page,
        "has_next": has_next,
        "args": args,
        "chart": chart,
        "chart_filtered": bool(filters),
        "colours": STATUS_COLOURS,
    }
    return results_page("history/index.html", "history/_results.html", context, valid)


@bp.get("/message/<path:key>/events")
@role_required("admin")
def message_events(key: str) -> ResponseReturnValue:
    """One message's events, oldest first: what a row of the history shows on expand."""
    steps = [TimelineStep.of(e) for e in services().history.timeline(key)]
    return render_template("history/_message_events.html", steps=steps, key=key)


def _tomorrow() -> datetime:
    return datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time.min, tzinfo=UTC)


@bp.get("/message/<path:key>")
@role_required("admin")
def timeline(key: str) -> ResponseReturnValue:
    """Everything that happened to one message, oldest first, with who did it."""
    events = services().history.timeline(key)
    if not events:
        abort(404)
    steps = [TimelineStep.of(e) for e in events]
    first = events[0]
    return render_template("history/timeline.html", key=key, steps=steps, first=first)


@bp.get("/export.csv")
@role_required("admin")
def export() -> ResponseReturnValue:
    """The filtered events as CSV, streamed in batches so a year of history needs no memory."""
    form = _form()
    if not form.validate():
        problems = "; ".join(f"{label}: {error}" for label, error in form.problems())
        return Response(
            _("Nothing exported, the filters are not valid: %(why)s", why=problems) + "\n",
            400,
            mimetype="text/plain",
        )
    query = query_from(form)
    history = services().history

    def batches() -> Iterator[list[Any]]:
        offset = 0
        while True:
            rows = history.events(**query.kwargs(), limit=EXPORT_BATCH, offset=offset)
            if not rows:
                return
            yield rows
            if len(rows) < EXPORT_BATCH:
                return
            offset += EXPORT_BATCH

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(csv_rows(batches())),
        mimetype="text/csv",
        headers={
            "Content-Disposition": content_disposition(f"mailcore-history-{stamp}.csv"),
            "Cache-Control": "no-store",
        },
    )
