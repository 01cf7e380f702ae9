"""The processing history for admins: search, per-message timelines, a daily chart, CSV export.

Answers "what happened to the mail from X last Tuesday, and who touched it". Filters are a GET
form (bookmarkable, htmx swaps only the results); the chart is inline SVG drawn here, since
the console's CSP forbids inline scripts and a chart library would be the only JS we need.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import DateField, Field, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from console.downloads import content_disposition
from console.roles import role_required
from console.services import services

log = logging.getLogger(__name__)

bp = Blueprint("history", __name__, url_prefix="/history")

PER_PAGE = 50
# Query-string bounds: anything outside is a form error, never a database overflow or a 500.
MAX_PER_PAGE = 500
# Deep OFFSETs scan every row before them; older events are reached by narrowing the dates.
MAX_PAGE = 10_000
DATE_MIN = date(1970, 1, 1)
DATE_MAX = date(2999, 12, 31)
EXPORT_BATCH = 1000
DEFAULT_DAYS = 14
STATUSES = ("processed", "failed", "auto", "duplicate", "rejected", "resubmitted", "moved")
# Colour-blind safe palette (Okabe-Ito), one colour per status; unknown statuses get grey.
STATUS_COLOURS = {
    "processed": "#009E73",
    "failed": "#D55E00",
    "auto": "#56B4E9",
    "duplicate": "#999999",
    "rejected": "#CC79A7",
    "resubmitted": "#0072B2",
    "moved": "#E69F00",
}
# The event kinds one may filter on (the steps every message goes through are left out).
KINDS = (
    ("received", "Received"),
    ("failed", "Failed"),
    ("handled", "Handled"),
    ("moved", "Moved"),
    ("corrected", "Corrected"),
    ("resubmitted", "Re-submitted"),
    ("rejected", "Rejected"),
    ("duplicate", "Duplicate"),
    ("auto-reply", "Auto-reply"),
    ("admin", "Account changes"),
    ("auth", "Logins (failures, lockouts)"),
    ("template", "Template changes"),
)
CSV_COLUMNS = (
    "at",
    "kind",
    "status",
    "handler",
    "sender",
    "subject",
    "identifier",
    "message_key",
    "message_id",
    "folder",
    "uid",
    "actor",
    "reason",
    "before",
    "after",
)


def _plausible_date(form: FlaskForm, field: Field) -> None:
    # Dates near the ends of the calendar overflow date arithmetic (the chart's period).
    if field.data and not DATE_MIN <= field.data <= DATE_MAX:
        raise ValidationError(f"Enter a date between {DATE_MIN} and {DATE_MAX}.")


class HistoryFilter(FlaskForm):
    """Search filters (GET: they change nothing, so no CSRF token in bookmarkable URLs).

    Every query-string parameter the page reads is a field here, so each is validated and a
    bad one is shown back with what to fix."""

    class Meta:
        csrf = False

    since = DateField("From", validators=[Optional(), _plausible_date])
    until = DateField("To (inclusive)", validators=[Optional(), _plausible_date])
    status = SelectField("Status", choices=[], validators=[Optional()])
    handler = SelectField("Handler", choices=[], validators=[Optional()])
    kind = SelectField("Event", choices=[], validators=[Optional()])
    sender = StringField("Sender", validators=[Optional(), Length(max=200)])
    identifier = StringField("Identifier", validators=[Optional(), Length(max=200)])
    page = IntegerField(
        "Page",
        validators=[
            Optional(),
            NumberRange(
                1,
                MAX_PAGE,
                message=f"Enter a page from 1 to {MAX_PAGE}; narrow the dates to see older events.",
            ),
        ],
    )
    per_page = IntegerField(
        "Events per page",
        validators=[
            Optional(),
            NumberRange(1, MAX_PER_PAGE, message=f"Enter a number from 1 to {MAX_PER_PAGE}."),
        ],
    )

    def problems(self) -> list[tuple[str, str]]:
        """(field label, message) of every error, for the results pane (htmx swaps only it)."""
        return [(f.label.text, e) for f in self for e in f.errors]

    def validate_until(self, field: DateField) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date: swap them.")


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
    form.status.choices = [SelectChoice("", "Any status"), *[SelectChoice(s) for s in STATUSES]]
    try:
        names = list(services().registry.names())
    except Exception:  # a console without handlers still shows the history
        names = []
    form.handler.choices = [SelectChoice("", "Any handler"), *[SelectChoice(n) for n in names]]
    form.kind.choices = [SelectChoice("", "Any event"), *[SelectChoice(k, t) for k, t in KINDS]]
    return form


def query_from(form: HistoryFilter) -> Query:
    """Dates are whole local days: "until" includes the whole of that day."""
    q = Query(
        status=form.status.data or None,
        handler=form.handler.data or None,
        sender=(form.sender.data or "").strip() or None,
        identifier=(form.identifier.data or "").strip() or None,
        kind=form.kind.data or None,
    )
    if form.since.data:
        q.since = datetime.combine(form.since.data, time.min, tzinfo=UTC)
    if form.until.data:
        q.until = datetime.combine(form.until.data + timedelta(days=1), time.min, tzinfo=UTC)
    return q


@bp.get("/")
@role_required("admin")
def index() -> ResponseReturnValue:
    """The searchable event table and the per-day chart; htmx requests get the results only.

    Invalid filters list nothing (never everything, unfiltered, as if they applied): the
    errors are shown beside the fields and in the results."""
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
    rows: list[Any] = []
    counts: Iterable[tuple[date, str, int]] = []
    if valid:
        # One extra row tells whether there is a next page without counting the whole table.
        rows = history.events(**query.kwargs(), limit=per_page + 1, offset=(page - 1) * per_page)
        counts = history.counts_per_day(
            datetime.combine(chart_since, time.min, tzinfo=UTC),
            datetime.combine(chart_until, time.min, tzinfo=UTC),
            **filters,
        )
    chart = bar_chart(counts, chart_since, chart_until - timedelta(days=1))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    context = {
        "form": form,
        "problems": form.problems(),
        "events": rows[:per_page],
        "page": page,
        "per_page": per_page,
        "has_next": len(rows) > per_page,
        "args": args,
        "chart": chart,
        "chart_filtered": bool(filters),
        "colours": STATUS_COLOURS,
    }
    htmx = request.headers.get("HX-Request") and request.headers.get("HX-Target") == "results"
    # htmx swaps only 2xx answers: the results pane must arrive to show the errors.
    status = 200 if valid or htmx else 400
    if htmx:
        return render_template("history/_results.html", **context), status
    return render_template("history/index.html", **context), status


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
            f"Nothing exported, the filters are not valid: {problems}\n", 400, mimetype="text/plain"
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


def csv_rows(batches: Iterable[Sequence[Any]]) -> Iterator[str]:
    """CSV text, one chunk per batch of events, header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield _drain(buffer)
    for batch in batches:
        for event in batch:
            writer.writerow([_csv_value(getattr(event, c, None)) for c in CSV_COLUMNS])
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    text = str(value)
    # A cell starting with = + - @ is a formula to spreadsheet software: neutralise it.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


# -- timeline ----------------------------------------------------------------------------


@dataclass
class Change:
    """One payload field that differs between before and after."""

    path: str
    before: str | None  # None: the field was added
    after: str | None  # None: the field was removed


@dataclass
class TimelineStep:
    """An event as the timeline shows it: a title, who, and what changed."""

    event: Any
    title: str
    changes: list[Change] = field(default_factory=list)
    diff: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, event: Any) -> TimelineStep:
        before, after = event.before, event.after
        changes: list[Change] = []
        diff: list[tuple[str, str]] = []
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            changes = payload_changes(before, after)
            diff = diff_lines(before, after)
        return cls(event=event, title=_title(event), changes=changes, diff=diff)


_TITLES = {
    "received": "Received",
    "extracted": "Extracted",
    "routed": "Routed",
    "handled": "Handled",
    "auto-reply": "Filed as auto-reply",
    "processed": "Processed",
    "failed": "Failed",
    "corrected": "Corrected",
    "resubmitted": "Re-submitted",
    "rerun": "Re-run",
    "moved": "Moved",
    "rejected": "Rejected",
    "auto": "Filed as auto-reply",
    "duplicate": "Duplicate",
    "admin": "Account change",
    "auth": "Login",
    "template": "Template change",
}


def _title(event: Any) -> str:
    title = _TITLES.get(event.kind, str(event.kind).replace("_", " ").capitalize())
    if event.kind == "moved" and event.folder:
        title += f" to {event.folder}"
    return title


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def payload_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """Field-level changes from `before` to `after` (nested keys as dotted paths)."""
    old, new = _flatten(before), _flatten(after)
    changes = []
    for path in sorted(old.keys() | new.keys()):
        if path in old and path in new:
            if old[path] != new[path]:
                changes.append(Change(path, _show(old[path]), _show(new[path])))
        elif path in old:
            changes.append(Change(path, _show(old[path]), None))
        else:
            changes.append(Change(path, None, _show(new[path])))
    return changes


def diff_lines(before: Any, after: Any) -> list[tuple[str, str]]:
    """A unified line diff of two JSON values as (kind, line), kind in '+', '-', ' '."""
    import difflib

    a = json.dumps(before, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    b = json.dumps(after, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    out: list[tuple[str, str]] = []
    for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=2):
        if line.startswith(("---", "+++", "@@")):
            continue
        out.append((line[:1] or " ", line[1:]))
    return out


# -- chart -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One stacked segment: a status's count on a day, in SVG coordinates."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str


@dataclass
class Chart:
    """What the SVG template draws: segments, day labels, a y-axis scale and a legend."""

    width: int
    height: int
    bars: list[Bar]
    days: list[tuple[float, str]]  # x of the label, text
    ticks: list[tuple[float, int]]  # y of the gridline, value
    legend: list[tuple[str, str, int]]  # status, colour, total
    total: int
    top: int = 10
    left: int = 40
    plot_height: int = 160


def bar_chart(
    counts: Iterable[tuple[date, str, int]],
    first: date,
    last: date,
    width: int = 1000,
    plot_height: int = 160,
) -> Chart:
    """Stacked bars of events per day and status, from `first` to `last` inclusive.

    Days without events are drawn as gaps (not skipped), so the x axis is a true time axis.
    """
    if last < first:
        first, last = last, first
    ndays = min((last - first).days + 1, 366)
    per_day: dict[date, dict[str, int]] = defaultdict(dict)
    totals: dict[str, int] = defaultdict(int)
    for day, status, n in counts:
        day = day.date() if isinstance(day, datetime) else day
        per_day[day][status] = per_day[day].get(status, 0) + n
        totals[status] += n
    order = [s for s in STATUS_COLOURS if s in totals] + sorted(set(totals) - set(STATUS_COLOURS))
    peak = max((sum(v.values()) for v in per_day.values()), default=0)
    scale_max = _nice_ceiling(peak)
    left, top, bottom = 40, 10, 24
    plot_width = width - left - 10
    slot = plot_width / ndays
    bar_width = max(1.0, slot * 0.8)
    bars: list[Bar] = []
    days: list[tuple[float, str]] = []
    label_every = max(1, round(ndays / 10))
    for i in range(ndays):
        day = first + timedelta(days=i)
        x = left + i * slot + (slot - bar_width) / 2
        y = float(top + plot_height)
        for status in order:
            n = per_day.get(day, {}).get(status, 0)
            if not n:
                continue
            h = plot_height * n / scale_max
            y -= h
            colour = STATUS_COLOURS.get(status, "#777777")
            bars.append(
                Bar(
                    round(x, 2),
                    round(y, 2),
                    round(bar_width, 2),
                    round(h, 2),
                    colour,
                    f"{day.isoformat()}: {n} {status}",
                )
            )
        if i % label_every == 0:
            days.append((round(left + i * slot + slot / 2, 2), day.strftime("%d %b")))
    ticks = [
        (round(top + plot_height - plot_height * v / scale_max, 2), v)
        for v in range(0, scale_max + 1, max(1, scale_max // 4))
    ]
    legend = [(s, STATUS_COLOURS.get(s, "#777777"), totals[s]) for s in order]
    return Chart(
        width=width,
        height=top + plot_height + bottom,
        bars=bars,
        days=days,
        ticks=ticks,
        legend=legend,
        total=sum(totals.values()),
        top=top,
        left=left,
        plot_height=plot_height,
    )


def _nice_ceiling(n: int) -> int:
    """The smallest of 4, 8, 20, 40, 80, 200... at least `n`: round gridlines in quarters."""
    step = 4
    while step < n:
        for factor in (2, 2.5, 2):
            step = int(step * factor)
            if step >= n:
                break
    return step
