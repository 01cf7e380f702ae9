"""The `mailbox` column of mc_events, mc_messages and mc_claims: NULL for the default mailbox,
so the rows of a database made with one mailbox (added by migration 0002) keep their keys and
timelines. `in_mailbox` is how every read by location says "in this mailbox"."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = ["in_mailbox"]


def in_mailbox(table: sa.Table, mailbox: str | None) -> sa.ColumnElement[bool]:
    """The rows of `table` recorded in `mailbox` (None: the default mailbox)."""
    column: Any = table.c.mailbox
    return column.is_(None) if mailbox is None else column == mailbox
