"""The admins' history: search, timelines with who corrected what, the chart, CSV export."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.demo import MAILS_DIR
from console.history import bar_chart
from console.history_csv import _csv_value
from console.timeline import diff_lines
from tests.console.conftest import ConsoleEnv, failed_uid

CORRECTED = {
    "plate_number": "AB-123-CD",
    "vin": "VF3ABCDEF12345678",
    "owner": "Hugo Petit",
    "category": "motorcycle",
    "mileage_km": 23000,
}


@dataclass
class Seeded:
    message_key: str
    uid: int


def seed_correction(env: ConsoleEnv, by: str = "alice") -> Seeded:
    """A mail that fails its schema, then corrected and re-submitted by `by` through the Engine."""
    svc = env.services
    if svc.accounts.by_name(by) is None:
        svc.accounts.create(by, f"{by}-operator-pw", "operator", by="test")
    svc.mailbox.ensure_folder("INBOX")
    for name in ("01-thunderbird-json-attachment.eml", "06-thunderbird-schema-error.eml"):
        svc.mailbox.append("INBOX", (MAILS_DIR / name).read_bytes())
    outcomes = svc.engine.poll_once()
    [failed] = [o for o in outcomes if o.status == "failed"]
    assert failed.new_uid is not None  # its UID in the failed folder
    outcome = svc.engine.resubmit(failed.new_uid, dict(CORRECTED), by=by)
    assert outcome.status == "processed", outcome
    [event] = svc.history.events(kind="corrected")
    assert event.message_key is not None
    return Seeded(event.message_key, failed.new_uid)


@pytest.fixture
def seeded(console_env: ConsoleEnv) -> Seeded:
    return seed_correction(console_env)


def test_only_admins_see_the_history(console_env: ConsoleEnv, seeded: Seeded) -> None:
    for user in ("olivia", "arthur"):
        client = console_env.client(user)
        assert client.get("/history/").status_code == 403
        assert client.get(f"/history/message/{seeded.message_key}").status_code == 403
        assert client.get("/history/export.csv").status_code == 403


def test_the_table_filters_by_sender_and_status(console_env: ConsoleEnv, seeded: Seeded) -> None:
    admin = console_env.client("ada")
    html = admin.get("/history/?sender=carrosserie-petit&status=processed").get_data(as_text=True)
    # One row per message, in its current state (it failed, then was corrected).
    assert html.count("contact@carrosserie-petit.fr") == 1
    assert html.count('<tbody class="message"') == 1
    assert 'class="status status-failed"' not in html
    assert (
        admin.get("/history/?status=failed").get_data(as_text=True).count('<tbody class="message"')
        == 0
    )
    other = admin.get("/history/?sender=nobody-at-all").get_data(as_text=True)
    assert "No message matches these filters." in other


def test_a_message_row_opens_on_its_events(console_env: ConsoleEnv, seeded: Seeded) -> None:
    admin = console_env.client("ada")
    html = admin.get("/history/").get_data(as_text=True)
    assert f'data-key="{seeded.message_key}"' in html
    events = admin.get(f"/history/message/{seeded.message_key}/events").get_data(as_text=True)
    titles = [
        t for t in ("Received", "Failed", "Corrected", "Re-submitted", "Handled") if t in events
    ]
    assert titles == ["Received", "Failed", "Corrected", "Re-submitted", "Handled"]
    assert events.index("Failed") < events.index("Corrected") < events.index("Handled")
    assert "alice" in events


def test_htmx_filtering_returns_only_the_results(console_env: ConsoleEnv, seeded: Seeded) -> None:
    admin = console_env.client("ada")
    response = admin.get(
        "/history/?status=failed", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="results"')
    assert "<html" not in html


def test_a_reversed_date_range_is_explained_next_to_the_field(console_env: ConsoleEnv) -> None:
    admin = console_env.client("ada")
    html = admin.get("/history/?since=2025-11-20&until=2025-11-10").get_data(as_text=True)
    assert "The end date is before the start date: swap them." in html


def test_the_timeline_shows_who_corrected_the_payload_and_how(
    console_env: ConsoleEnv, seeded: Seeded
) -> None:
    admin = console_env.client("ada")
    html = admin.get(f"/history/message/{seeded.message_key}").get_data(as_text=True)
    for step in (
        "Received",
        "Failed",
        "Corrected",
        "Re-submitted",
        "Handled",
        "Moved to processed",
    ):
        assert f"<strong>{step}" in html, step
    corrected = html.split("<strong>Corrected</strong>")[1].split("</li>")[0]
    assert '<span class="actor">alice</span>' in corrected
    assert "<code>plate_number</code>" in corrected
    assert "<del>AB123CD</del>" in corrected and "<ins>AB-123-CD</ins>" in corrected
    assert "<del>motorbike</del>" in corrected and "<ins>motorcycle</ins>" in corrected
    assert '<span class="diff-add">+  &#34;category&#34;: &#34;motorcycle&#34;,</span>' in corrected


def test_csv_export_streams_the_filtered_events(console_env: ConsoleEnv, seeded: Seeded) -> None:
    admin = console_env.client("ada")
    response = admin.get("/history/export.csv?sender=carrosserie")
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows and all("carrosserie-petit.fr" in r["sender"] for r in rows)
    [corrected] = [r for r in rows if r["kind"] == "corrected"]
    assert corrected["actor"] == "alice"
    assert '"plate_number": "AB-123-CD"' in corrected["after"]


def test_csv_cells_that_spreadsheets_would_run_as_formulas_are_neutralised() -> None:
    assert _csv_value('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert _csv_value("-1") == "'-1"
    assert _csv_value("alice") == "alice"
    assert _csv_value({"a": 1}) == '{"a": 1}'


def test_the_chart_stacks_statuses_per_day_and_keeps_empty_days() -> None:
    first = date(2025, 11, 10)
    counts = [(first, "processed", 3), (first, "failed", 1), (first + timedelta(2), "failed", 4)]
    chart = bar_chart(counts, first, first + timedelta(3))
    assert chart.total == 8
    assert [(s, n) for s, _c, n in chart.legend] == [("processed", 3), ("failed", 5)]
    day0 = [b for b in chart.bars if b.label.startswith("2025-11-10")]
    assert len(day0) == 2
    processed, failed = day0
    assert processed.y + processed.height == pytest.approx(chart.top + chart.plot_height)
    assert failed.y + failed.height == pytest.approx(processed.y)  # stacked on top
    assert len({b.x for b in chart.bars}) == 2  # day 11 and 13 have no bar, but keep their slot
    tallest = max(b.height for b in chart.bars)
    assert tallest <= chart.plot_height
    assert [label for _x, label in chart.days][:2] == ["10 Nov", "11 Nov"]


def test_the_history_page_draws_the_chart_as_inline_svg(
    console_env: ConsoleEnv, seeded: Seeded
) -> None:
    admin = console_env.client("ada")
    html = admin.get("/history/").get_data(as_text=True)
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html
    assert "<rect" in html and "processed" in html
    assert "<script" not in html.split("<main")[1]  # nothing the CSP would block


def chart_html(html: str) -> str:
    return html.split('<figure class="chart')[1].split("</figure>")[0]


def test_the_chart_follows_the_page_filters(console_env: ConsoleEnv, seeded: Seeded) -> None:
    admin = console_env.client("ada")
    everything = chart_html(admin.get("/history/").get_data(as_text=True))
    # Mail, each message once under its current status: both mails are processed now.
    assert "processed <strong>2</strong>" in everything and "failed <strong>" not in everything
    assert "all mail" in everything and "each message counted once" in everything
    by_sender = chart_html(admin.get("/history/?sender=carrosserie").get_data(as_text=True))
    assert "processed <strong>1</strong>" in by_sender
    assert "matching the filters" in by_sender
    failed_only = chart_html(admin.get("/history/?status=failed").get_data(as_text=True))
    assert "<rect x=" not in failed_only and ">0</span> messages in the period" in failed_only
    nobody = chart_html(admin.get("/history/?sender=nobody-at-all").get_data(as_text=True))
    assert "<rect x=" not in nobody and ">0</span> messages in the period" in nobody


def test_admins_find_failed_logins_and_lockouts_in_the_history(console_env: ConsoleEnv) -> None:
    client = console_env.app.test_client()
    for _ in range(5):
        console_env.log_in(client, "olivia", "not-her-password")
    html = console_env.client("ada").get("/history/?kind=auth").get_data(as_text=True)
    assert html.count("failed login for olivia from 127.0.0.1") == 5
    assert "locked out olivia for 1 minute" in html
    assert "not-her-password" not in html


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("page=" + "1" * 30, "Page", "Enter a page from 1 to 10000"),
        ("page=0", "Page", "Enter a page from 1 to 10000"),
        ("page=-3", "Page", "Enter a page from 1 to 10000"),
        ("page=abc", "Page", "Not a valid integer value."),
        ("page=" + "9" * 5000, "Page", "Not a valid integer value."),
        ("per_page=100000", "Events per page", "Enter a number from 1 to 500."),
        ("since=9999-12-31", "From", "Enter a date between 1970-01-01 and 2999-12-31."),
        ("until=9999-12-31", "To (inclusive)", "Enter a date between 1970-01-01 and 2999-12-31."),
        ("until=0001-01-01", "To (inclusive)", "Enter a date between 1970-01-01 and 2999-12-31."),
        ("since=2025-02-30", "From", "Not a valid date value."),
        ("status=exploded", "Status", "Not a valid choice."),
    ],
)
def test_a_bad_query_parameter_is_a_form_error_with_no_results(
    console_env: ConsoleEnv, seeded: Seeded, query: str, field: str, message: str
) -> None:
    admin = console_env.client("ada")
    response = admin.get(f"/history/?{query}")
    assert response.status_code == 400  # was a 500 for the huge page and the far dates
    html = response.get_data(as_text=True)
    assert f"<strong>{field}</strong>: {message}" in html
    assert "No events: the filters are not valid." in html
    assert '<table class="events">' not in html  # never the whole history, unfiltered
    partial = admin.get(
        f"/history/?{query}", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert partial.status_code == 200  # htmx swaps only 2xx: the errors must reach the page
    assert f"<strong>{field}</strong>: {message}" in partial.get_data(as_text=True)
    export = admin.get(f"/history/export.csv?{query}")
    assert export.status_code == 400 and message in export.get_data(as_text=True)


def test_a_reversed_date_range_lists_nothing(console_env: ConsoleEnv, seeded: Seeded) -> None:
    admin = console_env.client("ada")
    assert '<table class="messages">' in admin.get("/history/").get_data(as_text=True)
    html = admin.get("/history/?since=2999-01-02&until=1970-01-01").get_data(as_text=True)
    assert "The end date is before the start date: swap them." in html
    assert '<table class="messages">' not in html and '<table class="events">' not in html
    assert '<figure class="chart' not in html  # no chart of everything either


def test_page_and_per_page_choose_the_slice(console_env: ConsoleEnv, seeded: Seeded) -> None:
    admin = console_env.client("ada")
    moves = len(console_env.services.history.events(kind="moved", limit=1000))
    assert moves == 3  # two polled, one re-submitted
    html = admin.get("/history/?kind=moved&per_page=2&page=2").get_data(as_text=True)
    assert html.count("<tr>") - 1 == 1  # the header row, then the third event
    assert "Events 3–3, newest first" in html
    first = admin.get("/history/?kind=moved&per_page=2").get_data(as_text=True)
    assert 'href="/history/?page=2&amp;kind=moved&amp;per_page=2"' in first
    messages = admin.get("/history/?per_page=1&page=2").get_data(as_text=True)
    assert messages.count('<tbody class="message"') == 1 and "Messages 2–2" in messages
    far = admin.get("/history/?page=10000&since=1970-01-01&until=2999-12-31")
    assert far.status_code == 200 and "No message matches these filters." in far.get_data(True)


QUERY_KEYS = st.sampled_from(
    [
        "page",
        "per_page",
        "since",
        "until",
        "status",
        "handler",
        "kind",
        "sender",
        "identifier",
        "reason",
        "inline",
        "x",
    ]
)
QUERY_VALUES = st.one_of(
    st.text(max_size=40),
    st.integers().map(str),
    st.integers(min_value=2**62, max_value=10**40).map(str),  # past the database's integers
    st.dates().map(str),
    st.dates(max_value=date(1, 1, 31)).map(str),  # the ends of the calendar
    st.dates(min_value=date(9999, 12, 1)).map(str),
    st.sampled_from(["", "0", "-1", "1e9", "9999-12-31", "0001-01-01", "nan", "\x00", "%"]),
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.tuples(QUERY_KEYS, QUERY_VALUES), max_size=6), st.booleans())
def test_no_query_string_makes_the_history_or_failed_list_fail(
    console_env: ConsoleEnv, seeded: Seeded, pairs: list[tuple[str, str]], htmx: bool
) -> None:
    clients = _logged_in(console_env)
    query = urlencode(pairs)
    headers = {"HX-Request": "true", "HX-Target": "results"} if htmx else {}
    for user, path in (
        ("ada", "/history/"),
        ("ada", "/history/export.csv"),
        ("olivia", "/failed/"),
        ("olivia", "/mail/processed/"),
    ):
        response = clients[user].get(f"{path}?{query}", headers=headers)
        assert response.status_code in (200, 400), (path, query, response.status_code)
        response.get_data()  # a streamed export must not fail half-way either


_CLIENTS: dict[int, dict[str, FlaskClient]] = {}


def _logged_in(env: ConsoleEnv) -> dict[str, FlaskClient]:
    # Hypothesis runs the test body many times on one fixture: log in once per app.
    key = id(env.app)
    if key not in _CLIENTS:
        _CLIENTS.clear()
        _CLIENTS[key] = {"ada": env.client("ada"), "olivia": env.client("olivia")}
    return _CLIENTS[key]


def _diff_spans(html: str) -> list[str]:
    """The lines of the first payload diff in `html`, with their kind: ['add:+  "a": 1', ...]."""
    pre = html.split('<pre class="diff">', 1)[1].split("</pre>", 1)[0]
    return [
        f"{kind}:{text}"
        for kind, text in re.findall(r'<span class="(?:diff-)?(\w+)">(.*?)</span>', pre)
    ]


def test_the_operator_and_the_admin_timelines_show_the_same_diff(demo_env: ConsoleEnv) -> None:
    """One diff of an event on both pages: its keys sorted, so a reordering is no change."""
    svc = demo_env.services
    uid = failed_uid(demo_env, "VEH-9913")
    payload = svc.engine.inspect(uid).payload
    assert isinstance(payload, dict) and "owner" in payload
    reordered = dict(reversed([*payload.items()]))
    outcome = svc.engine.resubmit(uid, {**reordered, "owner": "Hugo Petit-Durand"}, by="olivia")
    assert outcome.status == "failed"  # unknown identifier: it stays in failed for the operator
    [event] = svc.history.events(kind="corrected")

    operator_html = demo_env.client("olivia").get(f"/failed/{failed_uid(demo_env, 'VEH-9913')}")
    operator = operator_html.get_data(as_text=True).split("<b>Corrected</b>", 1)[1]
    admin_html = demo_env.client("ada").get(f"/history/message/{event.message_key}")
    whole = admin_html.get_data(as_text=True)
    admin = whole.split("<strong>Corrected</strong>", 1)[1]
    extracted = whole.split("<strong>Extracted</strong>", 1)[1].split("</li>", 1)[0]
    assert "How it was read" in extracted and "Payload" not in extracted  # not a payload

    lines = _diff_spans(operator)
    assert lines == _diff_spans(admin)
    changed = [line for line in lines if not line.startswith("ctx:")]
    assert len(changed) == 2, lines  # the owner only: the new key order is not a change
    assert changed[0].startswith("del:-  &#34;owner&#34;: ")
    assert changed[1] == "add:+  &#34;owner&#34;: &#34;Hugo Petit-Durand&#34;,"
    # Each line is a block of its own: a newline between them would double-space the diff.
    for page in (operator, admin):
        diff = page.split('<pre class="diff">', 1)[1].split("</pre>", 1)[0]
        assert "\n" not in diff.replace("</span><span", "")


def test_the_payload_diff_sorts_keys_and_shows_a_missing_side_as_empty() -> None:
    assert diff_lines({"a": 1, "b": 2}, {"b": 2, "a": 1}) == []
    assert diff_lines(None, {"a": 1}) == [("+", "{"), ("+", '  "a": 1'), ("+", "}")]
    assert diff_lines({"a": 1}, None) == [("-", "{"), ("-", '  "a": 1'), ("-", "}")]
    assert diff_lines({1: "x", "a": "y"}, {1: "x", "a": "z"})  # unsortable keys: still a diff


def _legend(html: str) -> dict[str, int]:
    chart = chart_html(html)
    found = re.findall(r'<li data-status="(\w+)">.*?<strong>(\d+)</strong>', chart, re.S)
    return {status: int(n) for status, n in found}


def test_the_chart_counts_the_demo_mail_once_each_under_its_outcome(
    demo_env: ConsoleEnv,
) -> None:
    """The 10 demo mails: the chart's numbers are the poll's outcomes, message by message, and
    stay 10 when a failed mail is fixed (it moves from failed to processed)."""
    from collections import Counter

    from console.demo import sample_mails

    svc = demo_env.services
    folders = svc.engine.folders
    # What the mailbox holds (not what the history says): the demo's known outcomes.
    outcomes = Counter(
        {k: len(svc.mailbox.uids(getattr(folders, k))) for k in ("processed", "failed", "auto")}
    )
    assert sum(outcomes.values()) == len(sample_mails()) and outcomes["failed"] == 5
    admin = demo_env.client("ada")
    html = admin.get("/history/").get_data(as_text=True)
    assert _legend(html) == dict(outcomes)
    assert f'<span id="chart-total">{len(sample_mails())}</span> messages' in html
    assert html.count('<tbody class="message"') == len(sample_mails())  # one row per mail
    uid = failed_uid(demo_env, "VEH-1046")
    fixed = dict(svc.engine.inspect(uid).payload or {})
    fixed["plate_number"] = fixed.pop("plate_numbr")
    assert svc.engine.resubmit(uid, fixed, by="olivia").status == "processed"
    after = _legend(admin.get("/history/").get_data(as_text=True))
    assert after["processed"] == outcomes["processed"] + 1
    assert after["failed"] == outcomes["failed"] - 1
    assert sum(after.values()) == len(sample_mails())


def test_events_listed_by_kind_show_their_messages_sender_and_subject(
    console_env: ConsoleEnv, seeded: Seeded
) -> None:
    moves = console_env.services.history.events(kind="moved", limit=10)
    assert moves and all(e.sender is None for e in moves)  # the log keeps only the key
    html = console_env.client("ada").get("/history/?kind=moved").get_data(as_text=True)
    rows = html.split('<table class="events">', 1)[1].split("</table>", 1)[0]
    assert rows.count("<tr>") - 1 == len(moves)
    assert "contact@carrosserie-petit.fr" in rows and "Registration request" in rows
    assert '<td class="sender"></td>' not in rows
