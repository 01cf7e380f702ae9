"""The history's tables on `mailcore.store.db.METADATA`, and how values are fitted to them.

`mc_events` is the event log, `mc_messages` one current-state row per message, `mc_handled`
the "handler succeeded" marks of databases other than a SQLite file (see `handled_marks`).
Beside them: the column sets a write may name, each text column's length, `fit` (text as
PostgreSQL takes it), `utc`/`now` (times are stored in UTC) and `chunks` (IN-lists of a size
every database takes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from mailcore.store.db import METADATA

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only
_UTC_DT = sa.DateTime(timezone=True)


def _message_names(*, primary_key: bool = False) -> tuple[sa.Column[Any], sa.Column[Any]]:
    """The two names of a message, first in every table: `message_key` (a digest of the raw
    bytes, so a copy of the same message is the same key) and its Message-ID header."""
    return (
        sa.Column("message_key", sa.String(64), primary_key=primary_key),
        sa.Column("message_id", sa.String(998)),
    )


def mailbox_column() -> sa.Column[Any]:
    """Which configured mailbox a folder name belongs to, wherever one is recorded: the name
    of a `[[mailboxes]]` entry, NULL for the default mailbox (and every row written before
    there were several)."""
    return sa.Column("mailbox", sa.String(64))


events_table = sa.Table(
    "mc_events",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("at", _UTC_DT, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    *_message_names(),
    sa.Column("status", sa.String(16)),
    sa.Column("handler", sa.String(128)),
    sa.Column("sender", sa.String(512)),
    sa.Column("subject", sa.Text),
    sa.Column("identifier", sa.String(128)),
    mailbox_column(),
    sa.Column("folder", sa.String(255)),
    sa.Column("uidvalidity", sa.BigInteger),
    sa.Column("uid", sa.BigInteger),
    sa.Column("reason", sa.Text),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("before", sa.JSON),
    sa.Column("after", sa.JSON),
    sa.Column("errors", sa.JSON),
    sa.Column("failure", sa.String(32)),  # a failed event's FailureKind (migration 0006)
    sa.Index("ix_mc_events_key", "message_key", "id"),
    sa.Index("ix_mc_events_at", "at"),
    # Partial indexes: most rows (extracted, routed, moved) have no status or identifier, and
    # the engine writes about five rows per message, so every index entry saved counts.
    *(
        sa.Index(
            f"ix_mc_events_{col}",
            col,
            "at",
            sqlite_where=sa.text(f"{col} IS NOT NULL"),
            postgresql_where=sa.text(f"{col} IS NOT NULL"),
        )
        for col in ("status", "handler", "identifier")
    ),
)

messages_table = sa.Table(
    "mc_messages",
    METADATA,
    *_message_names(primary_key=True),
    sa.Column("sender", sa.String(512)),
    sa.Column("subject", sa.Text),
    sa.Column("identifier", sa.String(128)),
    sa.Column("handler", sa.String(128)),
    sa.Column("status", sa.String(16)),
    sa.Column("reason", sa.Text),
    sa.Column("errors", sa.JSON),
    sa.Column("failure", sa.String(32)),  # why it failed, a FailureKind (migration 0006)
    sa.Column("payload", sa.JSON),  # the last payload an operator submitted, if any
    sa.Column("handled", sa.Boolean, nullable=False, default=False),
    mailbox_column(),
    sa.Column("folder", sa.String(255)),
    sa.Column("uidvalidity", sa.BigInteger),
    sa.Column("uid", sa.BigInteger),
    sa.Column("received_at", _UTC_DT),
    sa.Column("updated_at", _UTC_DT, nullable=False),
    sa.Index("ix_mc_messages_location", "folder", "uidvalidity", "uid"),
    sa.Index("ix_mc_messages_message_id", "message_id"),
    sa.Index("ix_mc_messages_status", "status", "updated_at"),
    sa.Index("ix_mc_messages_handler", "handler"),
    sa.Index("ix_mc_messages_identifier", "identifier"),
)

# "This message's handler succeeded", written and committed on its own the moment the handler
# returns: the engine's batch write and the move come later, and a crash in between must not
# make the handler run again. Kept apart from mc_messages so the write is one small row.
handled_table = sa.Table(
    "mc_handled",
    METADATA,
    *_message_names(primary_key=True),
    sa.Column("handler", sa.String(128)),
    sa.Column("at", _UTC_DT, nullable=False),
    sqlite_with_rowid=False,
)

EVENT_COLUMNS = frozenset(c.name for c in events_table.columns) - {"id"}
STATE_COLUMNS = frozenset(c.name for c in messages_table.columns)
# Statuses still subject to action; their state rows outlive the retention period.
OPEN_STATUSES = ("failed",)

JSON_COLUMNS = frozenset(
    c.name for t in (events_table, messages_table) for c in t.columns if isinstance(c.type, sa.JSON)
)


def _text_lengths(table: sa.Table) -> dict[str, int | None]:
    """Each text column of `table` by name, with its length (None: unlimited)."""
    return {c.name: c.type.length for c in table.columns if isinstance(c.type, sa.String)}


EVENT_TEXT = _text_lengths(events_table)
STATE_TEXT = _text_lengths(messages_table)
HANDLED_TEXT = _text_lengths(handled_table)


def fit_text(value: str, length: int | None) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    return value[:length] if length is not None and len(value) > length else value


def fit(row: dict[str, Any], limits: Mapping[str, int | None]) -> dict[str, Any]:
    """`row` with its text as PostgreSQL takes it: no NUL characters, cut to the column's
    length. SQLite would store anything; a hostile header must not stop the history."""
    for name, value in row.items():
        # Checked inline: this runs for every value the engine writes (~70 per message).
        if value.__class__ is str and name in limits:
            length = limits[name]
            if "\x00" in value or (length is not None and len(value) > length):
                row[name] = fit_text(value, length)
    return row


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)


def chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def one_of(
    dialect: str, column: sa.ColumnElement[Any], keys: Sequence[str]
) -> Iterable[sa.ColumnElement[bool]]:
    """WHERE clauses that together select the rows whose text `column` is one of `keys`, for
    a database of `dialect`: on PostgreSQL one ``= ANY(array)``, a single parameter whatever
    the count (an IN-list of 500 is 500 parameters for the driver to send and the server to
    parse: a few ms a read); elsewhere IN-lists of 500 (`chunks`), a size every database takes."""
    if dialect == "postgresql":
        if keys:
            yield column == sa.any_(sa.bindparam(None, list(keys), type_=_TEXT_ARRAY))
        return
    for chunk in chunks(keys):
        yield column.in_(chunk)


_TEXT_ARRAY = postgresql.ARRAY(sa.Text)
