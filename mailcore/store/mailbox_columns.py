"""The `mailbox` column of mc_events, mc_messages and mc_claims, added to a database made by a
version that had one mailbox only (ALTER TABLE ... ADD, as template_table does for its own):
its rows keep NULL there, which is the default mailbox, so their keys and timelines hold.

`in_mailbox` is how every read by location says "in this mailbox": NULL for the default one.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from mailcore.store.claims import claims_table
from mailcore.store.tables import events_table, messages_table

__all__ = ["add_mailbox_columns", "in_mailbox"]

_TABLES = (events_table, messages_table, claims_table)


def add_mailbox_columns(engine: sa.Engine) -> list[str]:
    """Add the column where it is missing; returns the tables changed. Pollers opening an old
    database together race to add it: the loser finds it there and goes on."""
    changed: list[str] = []
    for table in _TABLES:
        if _has_column(engine, table.name) is not False:
            continue
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(f"ALTER TABLE {table.name} ADD mailbox VARCHAR(64)"))
            changed.append(table.name)
        except sa.exc.DBAPIError:
            if not _has_column(engine, table.name):
                raise
    return changed


def _has_column(engine: sa.Engine, table: str) -> bool | None:
    """Whether `table` has the column; None when there is no such table."""
    inspector = sa.inspect(engine)
    if not inspector.has_table(table):
        return None
    return any(c["name"] == "mailbox" for c in inspector.get_columns(table))


def in_mailbox(table: sa.Table, mailbox: str | None) -> sa.ColumnElement[bool]:
    """The rows of `table` recorded in `mailbox` (None: the default mailbox)."""
    column: Any = table.c.mailbox
    return column.is_(None) if mailbox is None else column == mailbox
