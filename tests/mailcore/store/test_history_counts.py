"""History.counts_per_day: the chart's figures, filtered like the events table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from mailcore.store.history import EventKind, History, LogEvent

DAY1 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture
def history(database_url: str) -> Iterator[History]:
    h = History(database_url)
    h.record_batch(
        [
            LogEvent(EventKind.HANDLED, at=DAY1, status="processed", handler="vehicle",
             sender="Alice@A.example", identifier="VEH-1"),
            LogEvent(EventKind.FAILED, at=DAY1, status="failed", handler="orders",
             sender="bob@b.example", identifier="ORD-7"),
            LogEvent(EventKind.HANDLED, at=DAY2, status="processed", handler="orders",
             sender="bob@b.example", identifier="ORD-8"),
            LogEvent(EventKind.FAILED, at=DAY2, status="failed", handler="vehicle",
             sender="a_b@c.example", identifier="VEH-2"),
            LogEvent(EventKind.RECEIVED, at=DAY2, sender="bob@b.example"),  # no status: no outcome
        ]
    )  # fmt: skip
    yield h
    h.close()


def counts(h: History, **filters: str) -> list[tuple[str, str, int]]:
    rows = h.counts_per_day(DAY1 - timedelta(hours=10), DAY2 + timedelta(days=1), **filters)
    return [(d.isoformat(), status, n) for d, status, n in rows]


def test_without_filters_every_outcome_counts(history: History) -> None:
    assert counts(history) == [
        ("2026-03-02", "failed", 1),
        ("2026-03-02", "processed", 1),
        ("2026-03-03", "failed", 1),
        ("2026-03-03", "processed", 1),
    ]


def test_status_and_handler_filter_exactly(history: History) -> None:
    assert counts(history, status="failed") == [
        ("2026-03-02", "failed", 1),
        ("2026-03-03", "failed", 1),
    ]
    assert counts(history, handler="vehicle") == [
        ("2026-03-02", "processed", 1),
        ("2026-03-03", "failed", 1),
    ]
    assert counts(history, handler="vehicle", status="processed") == [
        ("2026-03-02", "processed", 1)
    ]
    assert counts(history, handler="vehic") == []


def test_sender_is_a_case_insensitive_substring_with_wildcards_taken_literally(
    history: History,
) -> None:
    assert counts(history, sender="alice@a") == [("2026-03-02", "processed", 1)]
    assert counts(history, sender="B.EXAMPLE") == [
        ("2026-03-02", "failed", 1),
        ("2026-03-03", "processed", 1),
    ]
    # "_" is a LIKE wildcard: taken literally, it matches only a_b@, not e.g. "bob".
    assert counts(history, sender="a_b") == [("2026-03-03", "failed", 1)]


def test_identifier_filters_exactly(history: History) -> None:
    assert counts(history, identifier="ORD-8") == [("2026-03-03", "processed", 1)]
