"""The history's CSV export: events as CSV text, one chunk per batch, with every cell a
spreadsheet could run as a formula neutralised."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

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
