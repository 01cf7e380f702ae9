"""Claims on messages, on a SQLite file and on PostgreSQL: one holder at a time, taken over
after the lease, released, renewed; many threads claiming at once get disjoint sets."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from mailcore.store import claims as claims_module
from mailcore.store.claims import Claims
from mailcore.store.db import connect


def _slots(*keys: str) -> dict[str, tuple[str, int, int]]:
    return {k: ("INBOX", 7, i + 1) for i, k in enumerate(keys)}


def test_a_message_has_one_holder_until_released(database_url: str) -> None:
    engine = connect(database_url)
    a, b = Claims(engine), Claims(engine)

    assert a.claim(_slots("k1", "k2")) == {"k1", "k2"}
    assert b.claim(_slots("k0", "k1", "k3")) == {"k0", "k3"}
    assert a.claim(_slots("k1")) == {"k1"}  # its own again
    assert b.busy("INBOX", 7) == {1, 2} and b.busy("INBOX", 8) == set()

    a.release(["k2"])
    assert b.claim({"k2": ("INBOX", 7, 2)}) == {"k2"}
    assert a.holds("k1") and not a.holds("k2")
    engine.dispose()


def test_a_claim_whose_lease_ran_out_is_taken_over(database_url: str) -> None:
    engine = connect(database_url)
    dead, alive = Claims(engine, lease=0.3), Claims(engine, lease=30)
    dead.claim(_slots("k1", "k2"))
    assert alive.claim(_slots("k1", "k2")) == set()

    time.sleep(0.45)  # the holder stopped renewing (killed)

    assert alive.claim(_slots("k1", "k2")) == {"k1", "k2"}
    assert dead.keep_alive() == set()  # it finds out on its next renewal: lost
    assert not dead.holds("k1") and alive.holds("k1")
    engine.dispose()


def test_keep_alive_renews_before_the_lease_runs_out(database_url: str) -> None:
    engine = connect(database_url)
    holder, other = Claims(engine, lease=0.6), Claims(engine)
    holder.claim(_slots("k1"))
    for _ in range(4):  # 0.8 s in all: longer than the lease, renewed on the way
        time.sleep(0.2)
        assert holder.holds("k1")

    assert other.claim(_slots("k1")) == set()
    engine.dispose()


def test_threads_claiming_the_same_messages_at_once_get_disjoint_sets(database_url: str) -> None:
    engine = connect(database_url)
    keys = [f"k{i:03d}" for i in range(300)]
    got: list[set[str]] = []
    start = threading.Barrier(4)

    def worker(offset: int) -> None:
        claims = Claims(engine)
        start.wait()
        mine: set[str] = set()
        for i in range(0, 300, 50):  # each its own order of chunks
            chunk = keys[(i + offset * 50) % 300 :][:50]
            mine |= claims.claim(_slots(*chunk))
        got.append(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(len(s) for s in got) == 300 and set().union(*got) == set(keys)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM mc_claims")) == 300
    engine.dispose()


def test_claims_of_dead_processes_on_mail_never_seen_again_are_forgotten(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = connect(database_url)
    dead, alive = Claims(engine, lease=0.2), Claims(engine)
    dead.claim(_slots("gone"))
    alive.claim(_slots("k1"))
    time.sleep(0.3)
    monkeypatch.setattr(claims_module, "_FORGET_SECONDS", 0.05)  # a day, in production

    alive.release(["k1"])

    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM mc_claims")) == 0
    engine.dispose()


def test_a_claim_records_its_mailbox_and_slot_and_busy_looks_at_that_mailbox(
    database_url: str,
) -> None:
    engine = connect(database_url)
    named, default = Claims(engine, mailbox="sales"), Claims(engine)
    assert named.claim({"k1": ("INBOX", 7, 5), "k2": ("INBOX", 7, 2**40)}) == {"k1", "k2"}
    assert default.claim({"k3": ("INBOX", 7, 6)}) == {"k3"}

    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT message_key, mailbox, folder, uidvalidity, uid FROM mc_claims")
        ).all()
    assert sorted(tuple(r) for r in rows) == [
        ("k1", "sales", "INBOX", 7, 5),
        ("k2", "sales", "INBOX", 7, 2**40),
        ("k3", None, "INBOX", 7, 6),
    ]
    assert Claims(engine, mailbox="sales").busy("INBOX", 7) == {5, 2**40}
    assert Claims(engine).busy("INBOX", 7) == {6}
    engine.dispose()
