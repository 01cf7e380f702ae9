"""Claims: which engine process works which message, so that any number of them -- on one
machine (SQLite) or several (PostgreSQL) -- can poll the same mailbox and the same history.

A claim is a row of `mc_claims` in the history's database: the message's key, the process
holding it (`owner`) and until when (`expires`, seconds on the database's own clock, so the
machines' clocks need not agree). `Claims.claim` takes the given messages that nobody holds, or
whose holder's lease ran out (a process that died: killed, its machine gone), in ONE statement
per chunk: ``INSERT ... ON CONFLICT (message_key) DO UPDATE ... WHERE expires < now RETURNING``.
PostgreSQL runs it row by row under the key's index lock; SQLite under its single writer lock
(the statement's transaction takes it at once, as BEGIN IMMEDIATE would). Keys are claimed in
sorted order, so two processes claiming overlapping sets never deadlock.

A holder keeps its claims alive with `keep_alive` (a renewal every third of the lease, at most)
and gives them up with `release` once the messages are filed; `busy` lists the UIDs other live
processes hold in a folder, so a poller takes the next messages instead of waiting for those.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mailcore.errors import ConfigError
from mailcore.store.db import METADATA
from mailcore.store.tables import chunks, mailbox_column

__all__ = ["DEFAULT_LEASE_SECONDS", "Claims", "claims_table"]

# How long a claim lasts without renewal: a process that died is taken over after this.
DEFAULT_LEASE_SECONDS = 120.0

# A claim whose lease ran out this long ago is deleted (its message was never seen again).
_FORGET_SECONDS = 86_400.0

claims_table = sa.Table(
    "mc_claims",
    METADATA,
    sa.Column("message_key", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("expires", sa.Float, nullable=False),  # seconds since 1970, database clock
    mailbox_column(),
    sa.Column("folder", sa.String(255)),
    sa.Column("uidvalidity", sa.BigInteger),
    sa.Column("uid", sa.BigInteger),
    sa.Index("ix_mc_claims_slot", "folder", "uidvalidity"),
)

Slot = tuple[str, int, int]  # folder, UIDVALIDITY, UID
# What a claim taken (or renewed) sets: everything but its key.
_TAKEN_OVER = ("owner", "expires", "mailbox", "folder", "uidvalidity", "uid")


def _clock(dialect: str) -> sa.ColumnElement[float]:
    """The database's current time in seconds since 1970 (its clock, shared by every machine),
    as SQL text without parameters (the claim statement runs once per row)."""
    if dialect == "postgresql":
        return sa.literal_column("extract(epoch from clock_timestamp())::float8", sa.Float)
    if dialect == "sqlite":
        return sa.literal_column("((julianday('now') - 2440587.5) * 86400.0)", sa.Float)
    raise ConfigError(f"claims need SQLite or PostgreSQL, not {dialect}")


class Claims:
    """One process's claims on messages (see the module docstring)."""

    def __init__(
        self, engine: sa.Engine, lease: float = DEFAULT_LEASE_SECONDS, mailbox: str | None = None
    ) -> None:
        """`mailbox`: the configured mailbox whose folders the claimed slots name (None: the
        default one); `busy` looks at that mailbox's slots only."""
        if lease <= 0:
            raise ValueError("the claim lease must be positive")
        self._engine = engine
        self.lease = lease
        self.mailbox = mailbox
        claims_table.create(engine, checkfirst=True)  # a History made before this was imported
        host = socket.gethostname()[:64]
        self.owner = f"{host}:{os.getpid()}:{secrets.token_hex(4)}"
        self._held: set[str] = set()
        self._renewed = 0.0
        self._now = _clock(engine.dialect.name)
        self._statement: sa.Executable | None = None
        # PostgreSQL with psycopg: claims and releases send the keys as one array each.
        self._arrays = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        self._lock = threading.Lock()

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._held)

    def claim(self, keys: Mapping[str, Slot]) -> set[str]:
        """Claim these messages (key -> where it lies); returns the keys now held by this
        process: those nobody held, those whose lease ran out, and those it held already."""
        got: set[str] = set()
        ordered = sorted(keys)
        with self._engine.begin() as conn:
            if self._arrays:
                got = self._claim_arrays(conn, ordered, keys)
            elif self._engine.dialect.name == "sqlite":
                for chunk in chunks(ordered, 200):
                    got |= self._claim_rows(conn, chunk, keys)
            else:
                for chunk in chunks(ordered, 200):
                    got |= self._claim_chunk(conn, chunk, keys)
        self._held |= got
        self._renewed = time.monotonic() if got else self._renewed
        return got

    def _claim_chunk(
        self, conn: sa.Connection, chunk: Sequence[str], keys: Mapping[str, Slot]
    ) -> set[str]:
        rows = [
            {
                "k": k,
                "o": self.owner,
                "m": self.mailbox,
                "f": keys[k][0],
                "v": keys[k][1],
                "u": keys[k][2],
            }
            for k in chunk
        ]
        got: set[str] = set()
        # One statement, compiled once and cached, run for every row (executemany).
        for row in conn.execute(self._claim_statement(), rows):
            got.add(row[0])
        return got

    def _claim_arrays(
        self, conn: sa.Connection, ordered: Sequence[str], keys: Mapping[str, Slot]
    ) -> set[str]:
        """PostgreSQL: every key in ONE statement, the columns sent as arrays and unnested in
        their (sorted) order -- the server plans it once, where SQLAlchemy's executemany sent
        a VALUES list of seven parameters per row (about 0.1 ms a key)."""
        slots = [keys[k] for k in ordered]
        params = (
            self.owner,
            self.mailbox,
            list(ordered),
            [s[0] for s in slots],
            [s[1] for s in slots],
            [s[2] for s in slots],
        )
        return {row[0] for row in conn.exec_driver_sql(self._claim_sql(), params)}

    def _claim_rows(
        self, conn: sa.Connection, chunk: Sequence[str], keys: Mapping[str, Slot]
    ) -> set[str]:
        """SQLite: a chunk in one multi-row upsert written by hand, RETURNING the keys taken
        (SQLAlchemy's executemany built and bound a parameter dict per row, and sqlite3 binds
        a None -- the default mailbox -- only after an adapter search: written NULL here)."""
        if any(v is None for k in chunk for v in keys[k]):  # a slot without a UID: as before
            return self._claim_chunk(conn, chunk, keys)
        mailbox = "NULL" if self.mailbox is None else "?"
        row = f"(?, ?, {self._now} + {float(self.lease)!r}, {mailbox}, ?, ?, ?)"
        params: list[object] = []
        for k in chunk:
            folder, validity, uid = keys[k]
            given = (k, self.owner, self.mailbox, folder, validity, uid)
            params.extend(v for v in given if v is not None)
        sql = (
            "INSERT INTO mc_claims (message_key, owner, expires, mailbox, folder, uidvalidity,"
            f" uid) VALUES {', '.join([row] * len(chunk))}"
            " ON CONFLICT (message_key) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in _TAKEN_OVER)
            + f" WHERE mc_claims.expires < {self._now} OR mc_claims.owner = excluded.owner"
            " RETURNING message_key"
        )
        return {r[0] for r in conn.exec_driver_sql(sql, tuple(params))}

    def _claim_sql(self) -> str:
        now, lease = _clock(self._engine.dialect.name), repr(float(self.lease))
        moved = _TAKEN_OVER
        return (
            "INSERT INTO mc_claims (message_key, owner, expires, mailbox, folder, uidvalidity, uid)"
            f" SELECT t.k, %b::text, {now} + {lease}, %b::text, t.f, t.v, t.u"
            " FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::bigint[]) AS t(k, f, v, u)"
            " ON CONFLICT (message_key) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in moved)
            + f" WHERE mc_claims.expires < {now} OR mc_claims.owner = excluded.owner"
            " RETURNING message_key"
        )

    def _claim_statement(self) -> sa.Executable:
        if self._statement is None:
            c = claims_table
            dialect = self._engine.dialect.name
            insert = postgresql.insert(c) if dialect == "postgresql" else sqlite.insert(c)
            values = insert.values(
                message_key=sa.bindparam("k"),
                owner=sa.bindparam("o"),
                expires=self._now + sa.literal_column(repr(float(self.lease)), sa.Float),
                mailbox=sa.bindparam("m"),
                folder=sa.bindparam("f"),
                uidvalidity=sa.bindparam("v"),
                uid=sa.bindparam("u"),
            )
            self._statement = values.on_conflict_do_update(
                index_elements=[c.c.message_key],
                set_={
                    "owner": values.excluded.owner,
                    "expires": values.excluded.expires,
                    "mailbox": values.excluded.mailbox,
                    "folder": values.excluded.folder,
                    "uidvalidity": values.excluded.uidvalidity,
                    "uid": values.excluded.uid,
                },
                where=(c.c.expires < self._now) | (c.c.owner == values.excluded.owner),
            ).returning(c.c.message_key)
        return self._statement

    def keep_alive(self) -> set[str]:
        """Renew this process's claims if a third of the lease has passed since the last
        renewal; returns the keys still held (a claim taken over while this process stalled for
        longer than the lease is lost: its message must be left alone). Thread-safe: handler
        workers call it."""
        with self._lock:
            self._renew_when_due()
            return set(self._held)

    def _renew_when_due(self) -> None:
        if not self._held or time.monotonic() - self._renewed < self.lease / 3:
            return
        c = claims_table
        kept: set[str] = set()
        with self._engine.begin() as conn:
            for chunk in chunks(sorted(self._held), 200):
                stmt = (
                    c.update()
                    .where(c.c.owner == self.owner, c.c.message_key.in_(chunk))
                    .values(expires=self._now + self.lease)
                    .returning(c.c.message_key)
                )
                kept.update(conn.scalars(stmt))
        self._held = kept
        self._renewed = time.monotonic()

    def holds(self, key: str) -> bool:
        """Whether this process still holds `key` (renewing its claims when due)."""
        with self._lock:  # no copy of the held keys: asked before each handler call
            self._renew_when_due()
            return key in self._held

    def release(self, keys: Iterable[str]) -> None:
        """Give these claims up (the messages are filed, or left for another round)."""
        mine = [k for k in keys if k in self._held]
        if not mine:
            return
        c = claims_table
        with self._engine.begin() as conn:
            if self._arrays:  # one statement, the keys one array parameter
                conn.exec_driver_sql(
                    "DELETE FROM mc_claims"
                    " WHERE owner = %b::text AND message_key = ANY(%b::text[])",
                    (self.owner, mine),
                )
            else:
                for chunk in chunks(mine, 200):
                    where = (c.c.owner == self.owner, c.c.message_key.in_(chunk))
                    conn.execute(c.delete().where(*where))
            # Claims of dead processes on mail nobody saw again (moved by another client).
            conn.execute(c.delete().where(c.c.expires < self._now - _FORGET_SECONDS))
        self._held.difference_update(mine)

    def busy(self, folder: str, uidvalidity: int) -> set[int]:
        """UIDs of `folder` (of this mailbox) that other live processes hold claims on."""
        c = claims_table
        mailbox = c.c.mailbox.is_(None) if self.mailbox is None else c.c.mailbox == self.mailbox
        q = sa.select(c.c.uid).where(
            mailbox,
            c.c.folder == folder,
            c.c.uidvalidity == uidvalidity,
            c.c.owner != self.owner,
            c.c.expires >= self._now,
        )
        with self._engine.connect() as conn:
            return {int(u) for u in conn.scalars(q) if u is not None}
