"""Hostile bounces stay bounded: huge reports, many recipients, long lines, deep nesting.

Each case is timed at two sizes: four times the input must cost well under sixteen times the
time (linear, not quadratic); a generous absolute guard catches a hang."""

from __future__ import annotations

import time
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.inbound.automatic import AutoKind, BounceReport
from mailcore.inbound.bounces import text_bounce as read_text_bounce
from mailcore.inbound.dsn import MAX_RECIPIENTS, parse_delivery_status
from mailcore.inbound.extract import extract

REPORT = "multipart/report; report-type=delivery-status"
FLOOR = 0.05  # seconds: below this, timer noise decides the ratio


def seconds(build: Callable[[int], bytes], n: int) -> float:
    raw = build(n)
    start = time.perf_counter()
    extract(raw)
    return time.perf_counter() - start


def assert_linear(build: Callable[[int], bytes], n: int) -> None:
    small = max(seconds(build, n), FLOOR)
    big = seconds(build, 4 * n)
    assert big < 10, f"{big:.1f}s for {4 * n}"
    assert big < 8 * small, f"{big:.2f}s for {4 * n} against {small:.2f}s for {n}"


def dsn(recipients: int) -> bytes:
    blocks = "".join(
        f"Final-Recipient: rfc822; user{k}@example.org\nAction: failed\nStatus: 5.1.1\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 user{k}: no such user\n\n"
        for k in range(recipients)
    )
    return (
        "From: MAILER-DAEMON@mx.example.net\nTo: ops@acme.example\nSubject: Undelivered\n"
        f"MIME-Version: 1.0\nContent-Type: {REPORT}; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\nThe mail system\n\n"
        f"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\n{blocks}--b--\n"
    ).encode()


def text_bounce(lines: int) -> bytes:
    body = "".join(
        f"<user{k}@example.org>:\nSorry, no mailbox here by that name. (#5.1.1)\n"
        for k in range(lines)
    )
    return (
        "From: MAILER-DAEMON@mx.example.net\nTo: ops@acme.example\nSubject: failure notice\n\n"
        f"Hi. This is the qmail-send program at mx.example.net.\n\n{body}"
    ).encode()


def long_line(chars: int) -> bytes:
    return (
        "From: postmaster@mx.example.net\nTo: ops@acme.example\nSubject: Undeliverable: x\n\n"
        + "a@" * chars
        + "\n"
        + ("x" * chars)
        + "\n"
    ).encode()


def nested(depth: int) -> bytes:
    head = "".join(f"--b{k}\nContent-Type: {REPORT}; boundary=b{k + 1}\n\n" for k in range(depth))
    return (
        "From: MAILER-DAEMON@mx.example.net\nTo: ops@acme.example\nSubject: Undelivered\n"
        f"MIME-Version: 1.0\nContent-Type: {REPORT}; boundary=b0\n\n"
        + head
        + f"--b{depth}\nContent-Type: message/delivery-status\n\n"
        "Final-Recipient: rfc822; deep@example.org\nAction: failed\nStatus: 5.1.1\n\n"
    ).encode()


def test_many_recipients_are_linear_and_capped() -> None:
    found = extract(dsn(5000))
    assert found.auto_kind is AutoKind.BOUNCE and found.bounce is not None
    assert len(found.bounce.recipients) == MAX_RECIPIENTS
    assert found.bounce.defects
    assert_linear(dsn, 2000)


def test_text_bounce_with_many_addresses_is_linear() -> None:
    found = extract(text_bounce(3000))
    assert found.bounce is not None and 0 < len(found.bounce.recipients) <= MAX_RECIPIENTS
    assert_linear(text_bounce, 3000)


def test_long_lines_are_linear() -> None:
    assert extract(long_line(100_000)).auto_kind is AutoKind.BOUNCE
    assert_linear(long_line, 200_000)


def test_deep_nesting_is_bounded() -> None:
    found = extract(nested(40))
    assert found.auto_reply
    assert_linear(nested, 30)


def test_huge_field_value_is_cut() -> None:
    report = parse_delivery_status(
        "Final-Recipient: rfc822; x@example.org\nDiagnostic-Code: smtp; 550\n"
        + "    more words\n" * 200_000
    )
    [record] = report.recipients
    assert record.diagnostic is not None and len(record.diagnostic) <= 2000


_LINES = st.lists(
    st.one_of(
        st.sampled_from(
            ["Final-Recipient: rfc822; a@b.example", "Action: failed", "Status: 5.1.1", "",
             "Diagnostic-Code: smtp; 550 x", "  continued", "Original-Recipient: x400; /S=a/",
             "<a@b.example>:", "Status: 9.9", "Final-Recipient:", "Reporting-MTA: dns; mx"]
        ),
        st.text(max_size=40),
    ),
    max_size=60,
).map("\n".join)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(text=_LINES)
def test_any_report_text_parses_within_bounds(text: str) -> None:
    report = parse_delivery_status(text)
    assert len(report.recipients) <= MAX_RECIPIENTS
    for r in report.recipients:
        assert r.status is None or r.status[0] in "245"
    bounce: BounceReport = read_text_bounce(text, "generic", set())
    assert len(bounce.recipients) <= MAX_RECIPIENTS
