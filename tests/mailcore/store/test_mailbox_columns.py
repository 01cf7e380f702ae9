"""A history made by a version with one mailbox (schema revision 0001) gains the `mailbox`
column on open (migration 0002, SQLite upgraded at start-up), its rows keep NULL there (the
default mailbox), and reads by location keep mailboxes apart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from mailcore.store.history import EventKind, History


def _old_database(path: Path) -> None:
    """mc_events, mc_messages and mc_claims as they were before several mailboxes."""
    History(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        for table in ("mc_events", "mc_messages", "mc_claims"):
            db.execute(f"ALTER TABLE {table} DROP COLUMN mailbox")
        db.execute("UPDATE alembic_version SET version_num = '0001'")
        db.execute(
            "INSERT INTO mc_messages (message_key, handled, folder, uidvalidity, uid, status,"
            " updated_at) VALUES ('old', 0, 'failed', 7, 3, 'failed', '2026-01-01 00:00:00')"
        )


def test_an_old_database_gains_the_column_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_database(path)
    history = History(f"sqlite:///{path}")
    try:
        columns = {
            t: {c["name"] for c in sa.inspect(history.engine).get_columns(t)}
            for t in ("mc_events", "mc_messages", "mc_claims")
        }
        assert all("mailbox" in names for names in columns.values())
        assert history.states_at("failed", 7, [3])[3].message_key == "old"  # default mailbox
        assert history.states_at("failed", 7, [3], mailbox="orders") == {}
    finally:
        history.close()
    History(f"sqlite:///{path}").close()  # opened again: nothing left to add


def test_the_same_location_in_two_mailboxes_is_two_messages(tmp_path: Path) -> None:
    history = History(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        where = {"folder": "failed", "uidvalidity": 1, "uid": 5, "status": "failed"}
        history.record(EventKind.FAILED, message_key="a", reason="of default", **where)
        history.record(
            EventKind.FAILED, message_key="b", reason="of orders", mailbox="orders", **where
        )
        assert history.states_at("failed", 1, [5])[5].reason == "of default"
        assert history.states_at("failed", 1, [5], mailbox="orders")[5].reason == "of orders"
        assert history.uids_where("failed", 1, reason="orders") == set()
        assert history.uids_where("failed", 1, reason="orders", mailbox="orders") == {5}
        state = history.state("b")
        assert state is not None and state.mailbox == "orders"
        assert history.timeline("b")[0].mailbox == "orders"
    finally:
        history.close()


def test_claims_on_the_same_slot_of_two_mailboxes_are_apart(tmp_path: Path) -> None:
    from mailcore.store.claims import Claims

    history = History(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        orders, default, other = (
            Claims(history.engine, mailbox="orders"),
            Claims(history.engine),
            Claims(history.engine, mailbox="orders"),
        )
        assert orders.claim({"k1": ("INBOX", 7, 1), "k2": ("INBOX", 7, 2)}) == {"k1", "k2"}
        assert default.busy("INBOX", 7) == set()  # the default mailbox's INBOX is another
        assert other.busy("INBOX", 7) == {1, 2}
    finally:
        history.close()
