"""Accounts: login throttling (per account and address, per address, per account), sessions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from console.accounts import (
    AccountError,
    Accounts,
    LoginThrottled,
    ThrottlePolicy,
    ThrottleState,
    describe_wait,
    refusal,
    sessions_table,
    throttle_keys,
)
from mailcore.config import Settings
from mailcore.errors import ConfigError
from mailcore.store.db import connect
from mailcore.store.history import History

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = ThrottlePolicy(per_user=3, per_address=5, window=timedelta(minutes=15))
PASSWORD = "correct-horse-battery"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def fail(state: ThrottleState, now: datetime, times: int = 1) -> ThrottleState:
    for _ in range(times):
        state = state.after_failure(now, POLICY.per_user, POLICY)
    return state


# -- the pure state machine ---------------------------------------------------------------


def test_failures_below_the_limit_do_not_lock() -> None:
    state = fail(ThrottleState(), T0, 2)
    assert state.failures == 2
    assert state.wait(T0) == timedelta(0)


def test_the_limit_locks_for_the_first_lockout() -> None:
    state = fail(ThrottleState(), T0, 3)
    assert state.wait(T0) == POLICY.first_lockout
    assert state.wait(T0 + POLICY.first_lockout) == timedelta(0)


def test_failures_spread_over_more_than_the_window_never_lock() -> None:
    state = ThrottleState()
    for i in range(10):
        state = fail(state, T0 + i * (POLICY.window / 2 + timedelta(seconds=1)))
        assert state.wait(T0 + i * POLICY.window) == timedelta(0)


def test_each_failure_after_a_lockout_locks_again_twice_as_long() -> None:
    state = fail(ThrottleState(), T0, 3)
    now = T0
    waits = []
    for _ in range(4):
        now = state.locked_until or now
        state = fail(state, now)
        waits.append(state.wait(now))
    assert waits == [timedelta(minutes=m) for m in (2, 4, 8, 16)]


def test_lockouts_are_capped_at_the_maximum() -> None:
    assert POLICY.lockout(40) == POLICY.max_lockout
    assert POLICY.lockout(1) == POLICY.first_lockout


def test_a_quiet_window_after_a_lockout_forgives() -> None:
    state = fail(ThrottleState(), T0, 3)
    later = (state.locked_until or T0) + POLICY.window + timedelta(seconds=1)
    state = fail(state, later)
    assert state.wait(later) == timedelta(0)
    assert state.lockouts == 0


def test_waits_are_described_rounded_up() -> None:
    assert describe_wait(timedelta(seconds=5)) == "1 minute"
    assert describe_wait(timedelta(minutes=3, seconds=1)) == "4 minutes"
    assert describe_wait(timedelta(hours=3)) == "3 hours"


# -- Accounts.login on a database -----------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(database_url: str, clock: Clock) -> Iterator[Accounts]:
    history = History(database_url)
    store = Accounts(history.engine, history, throttle=POLICY, clock=clock)
    store.create("alice", PASSWORD, "operator")
    store.create("bob", PASSWORD, "operator")
    yield store
    history.close()


def test_failures_lock_the_account_from_that_address_even_for_the_right_password(
    accounts: Accounts, clock: Clock
) -> None:
    assert accounts.login("alice", "wrong-1", "10.0.0.1") is None
    assert accounts.login("Alice", "wrong-2", "10.0.0.1") is None
    pattern = "for this account from your network address; try again in 1 minute"
    with pytest.raises(LoginThrottled, match=pattern) as exc:
        accounts.login("alice", "wrong-3", "10.0.0.1")
    assert exc.value.scope == "pair"
    clock.advance(seconds=30)
    with pytest.raises(LoginThrottled, match="try again in 1 minute"):
        accounts.login("alice", PASSWORD, "10.0.0.1")
    # Another account from the same address is not affected, nor alice from another one.
    assert accounts.login("bob", PASSWORD, "10.0.0.1") is not None
    assert accounts.login("alice", PASSWORD, "10.0.0.4") is not None
    clock.advance(seconds=31)
    assert accounts.login("alice", PASSWORD, "10.0.0.1") is not None


def test_failures_from_many_addresses_never_stop_a_clean_address(
    accounts: Accounts, clock: Clock
) -> None:
    # Spread over addresses, the guesses stay under each pair's limit but lock the account
    # for the addresses that failed ...
    assert accounts.login("alice", "wrong", "10.0.0.1") is None
    assert accounts.login("alice", "wrong", "10.0.0.2") is None
    with pytest.raises(LoginThrottled, match="from addresses that failed") as exc:
        accounts.login("alice", "wrong", "10.0.0.3")
    assert exc.value.scope == "user"
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        with pytest.raises(LoginThrottled):
            accounts.login("alice", PASSWORD, address)
    # ... and never for an address that has not failed.
    assert accounts.login("alice", PASSWORD, "198.51.100.1") is not None


def test_a_failure_straight_after_a_lockout_locks_for_twice_as_long(
    accounts: Accounts, clock: Clock
) -> None:
    for i in range(2):
        accounts.login("alice", f"wrong-{i}")
    with pytest.raises(LoginThrottled):
        accounts.login("alice", "wrong-2")
    clock.advance(minutes=1, seconds=1)
    with pytest.raises(LoginThrottled, match="try again in 2 minutes"):
        accounts.login("alice", "wrong-3")


def test_a_successful_login_clears_the_username_failures(accounts: Accounts, clock: Clock) -> None:
    for _ in range(2):
        assert accounts.login("alice", "wrong") is None
    assert accounts.login("alice", PASSWORD) is not None
    for _ in range(2):
        assert accounts.login("alice", "wrong") is None  # counting starts again
    with pytest.raises(LoginThrottled):
        accounts.login("alice", "wrong")


def test_one_address_guessing_many_usernames_is_locked(accounts: Accounts) -> None:
    for name in ("u1", "u2", "u3", "u4"):
        assert accounts.login(name, "guess", "192.0.2.9") is None
    with pytest.raises(LoginThrottled, match="from your network address") as exc:
        accounts.login("u5", "guess", "192.0.2.9")
    assert exc.value.scope == "address"
    with pytest.raises(LoginThrottled):
        accounts.login("alice", PASSWORD, "192.0.2.9")
    assert accounts.login("alice", PASSWORD, "192.0.2.10") is not None


def test_failures_and_lockouts_are_in_the_history_without_passwords(accounts: Accounts) -> None:
    assert accounts.history is not None
    accounts.login("alice", "secret-guess-1", "10.1.1.1")
    accounts.login("alice", "secret-guess-2", "10.1.1.1")
    with pytest.raises(LoginThrottled):
        accounts.login("alice", "secret-guess-3", "10.1.1.1")
    accounts.login("hunter2-typed-as-name", "x", "10.1.1.1")
    events = accounts.history.events(kind="auth")
    reasons = [e.reason for e in events]
    assert reasons.count("failed login for alice from 10.1.1.1") == 3
    assert "locked out alice for 1 minute from 10.1.1.1" in reasons
    assert "failed login for (unknown user) from 10.1.1.1" in reasons
    text = repr(events)
    assert "secret-guess" not in text and "hunter2" not in text
    assert all(e.at >= T0 for e in events)


def test_throttle_policy_from_the_console_table_and_its_environment_forms() -> None:
    settings = Settings.from_mapping(
        {"console": {"login_max_failures_per_user": 3, "login_window_minutes": 30}},
        {
            "MAILCORE_CONSOLE_LOGIN_MAX_FAILURES_PER_ADDRESS": "50",
            "MAILCORE_CONSOLE_LOGIN_FIRST_LOCKOUT_MINUTES": "0.5",
            "MAILCORE_CONSOLE_LOGIN_MAX_LOCKOUT_MINUTES": "240",
            "MAILCORE_CONSOLE_LOGIN_WINDOW_MINUTES": "45",  # the environment wins
        },
    )
    policy = ThrottlePolicy.from_settings(settings.section("console"))
    assert policy == ThrottlePolicy(
        per_user=3,
        per_address=50,
        window=timedelta(minutes=45),
        first_lockout=timedelta(seconds=30),
        max_lockout=timedelta(hours=4),
    )
    assert ThrottlePolicy.from_settings({"secret_key": "x"}) == ThrottlePolicy()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("login_max_failures_per_user", 0),
        ("login_max_failures_per_user", "five"),
        ("login_max_failures_per_user", 2.5),
        ("login_max_failures_per_address", True),
        ("login_max_failures_per_address", "-3"),
        ("login_window_minutes", "nan"),
        ("login_window_minutes", 0),
        ("login_first_lockout_minutes", 10**9),
        ("login_max_lockout_minutes", [5]),
    ],
)
def test_a_bad_throttle_setting_is_a_config_error_naming_the_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"\\[console\\] {key} in app.toml"):
        ThrottlePolicy.from_settings({key: value}, "app.toml")


def test_the_longest_lockout_cannot_be_shorter_than_the_first() -> None:
    table = {"login_first_lockout_minutes": 10, "login_max_lockout_minutes": "5"}
    with pytest.raises(ConfigError, match="login_max_lockout_minutes .* at least"):
        ThrottlePolicy.from_settings(table)


# -- the account lock never refuses a clean address (pure, any history of failures) ---------

failure_times = st.lists(st.integers(min_value=0, max_value=6 * 3600), max_size=40)


@given(times=failure_times, check=st.integers(min_value=0, max_value=7 * 3600))
def test_no_history_of_failures_elsewhere_refuses_an_address_that_has_not_failed(
    times: list[int], check: int
) -> None:
    user = address = ThrottleState()
    for t in sorted(times):
        now = T0 + timedelta(seconds=t)
        user = user.after_failure(now, POLICY.per_user, POLICY)
        address = address.after_failure(now, POLICY.per_address, POLICY)
    now = T0 + timedelta(seconds=check)
    clean = {"user": user, "pair": ThrottleState(), "address": ThrottleState()}
    assert refusal(clean, now, POLICY) is None
    # The guessing address itself is refused whenever one of its own counts is locked.
    dirty = {"user": user, "pair": ThrottleState(), "address": address}
    if address.wait(now) or (user.wait(now) and address.has_failed(now, POLICY)):
        assert refusal(dirty, now, POLICY) is not None


def test_throttle_keys_are_bounded_and_keep_scopes_apart() -> None:
    keys = throttle_keys(" Alice " + "x" * 1000, "10.0.0.1" * 100)
    assert all(len(k) <= 320 for k in keys.values())  # the column's size
    assert keys["user"].startswith("user:alice")
    assert throttle_keys("a", None)["address"] == "address:-"


def test_racing_failures_from_several_processes_all_count(database_url: str) -> None:
    policy = ThrottlePolicy(per_user=1000, per_address=1000)
    stores = [Accounts(connect(database_url), throttle=policy) for _ in range(6)]
    start = threading.Barrier(len(stores))

    def guess(store: Accounts) -> None:
        start.wait()
        assert store.login("mallory", "guess", "192.0.2.50") is None

    threads = [threading.Thread(target=guess, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys = throttle_keys("mallory", "192.0.2.50")
    states = stores[0].login_throttle._states(list(keys.values()))
    assert {k: s.failures for k, s in states.items()} == dict.fromkeys(keys.values(), 6)
    for store in stores:
        store.db.dispose()


# -- sessions --------------------------------------------------------------------------------

HOUR = timedelta(hours=1)


def test_a_session_lives_until_it_is_ended_and_only_that_one_ends(accounts: Accounts) -> None:
    alice, bob = accounts.by_name("alice"), accounts.by_name("bob")
    assert alice is not None and bob is not None
    laptop, phone = accounts.start_session(alice, HOUR), accounts.start_session(alice, HOUR)
    other = accounts.start_session(bob, HOUR)
    assert laptop != phone
    assert accounts.session_user(laptop) == alice
    accounts.end_session(laptop)
    assert accounts.session_user(laptop) is None
    assert accounts.session_user(phone) == alice and accounts.session_user(other) == bob


def test_the_database_holds_no_usable_token(accounts: Accounts) -> None:
    alice = accounts.by_name("alice")
    assert alice is not None
    token = accounts.start_session(alice, HOUR)
    with accounts.db.connect() as conn:
        stored = conn.execute(sa.select(sessions_table.c.token_hash)).scalars().all()
    assert stored and token not in stored
    assert all(accounts.session_user(s) is None for s in stored)


@pytest.mark.parametrize("token", ["", "1", "x" * 5000, "\udcff\x00", "1:0"])
def test_a_token_that_is_not_a_session_is_nobody(accounts: Accounts, token: str) -> None:
    assert accounts.session_user(token) is None


def test_password_change_and_disable_end_all_of_a_users_sessions(accounts: Accounts) -> None:
    alice, bob = accounts.by_name("alice"), accounts.by_name("bob")
    assert alice is not None and bob is not None
    mine, stolen = accounts.start_session(alice, HOUR), accounts.start_session(alice, HOUR)
    bobs = accounts.start_session(bob, HOUR)
    accounts.set_password("alice", "a-new-long-password", by="alice", keep_session=mine)
    assert accounts.session_user(stolen) is None
    assert accounts.session_user(mine) is not None  # the one changing it stays
    accounts.set_password("alice", "yet-another-password", by="admin")
    assert accounts.session_user(mine) is None
    again = accounts.start_session(alice, HOUR)
    accounts.set_role("alice", "author", by="admin")  # roles are read on each request
    assert accounts.session_user(again) is not None
    accounts.set_active("alice", False, by="admin")
    accounts.set_active("alice", True, by="admin")
    assert accounts.session_user(again) is None
    assert accounts.session_user(bobs) == bob


def test_a_session_ends_after_its_idle_time_without_use(accounts: Accounts, clock: Clock) -> None:
    alice = accounts.by_name("alice")
    assert alice is not None
    token = accounts.start_session(alice, HOUR)
    for _ in range(5):  # used every 50 minutes, it lives on
        clock.advance(minutes=50)
        assert accounts.session_user(token) is not None
    clock.advance(minutes=61)
    assert accounts.session_user(token) is None
    with accounts.db.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(sessions_table)).scalar()
    accounts.start_session(alice, HOUR)  # expired sessions are swept when one starts
    with accounts.db.connect() as conn:
        after = conn.execute(sa.select(sa.func.count()).select_from(sessions_table)).scalar()
    assert (before, after) == (1, 1)


def test_a_database_made_before_sessions_existed_gains_their_table(database_url: str) -> None:
    old = sa.MetaData()
    sa.Table(  # console_users as the previous version created it
        "console_users",
        old,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False, default=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    engine = sa.create_engine(database_url)
    try:
        old.create_all(engine)
        assert "console_sessions" not in sa.inspect(engine).get_table_names()
        accounts = Accounts(engine)
        alice = accounts.create("alice", PASSWORD, "operator")
        token = accounts.start_session(alice, HOUR)
        assert accounts.session_user(token) == alice
        assert accounts.login("alice", PASSWORD, "10.0.0.1") == alice
    finally:
        engine.dispose()


def test_an_oversized_username_or_password_is_a_counted_failure(accounts: Accounts) -> None:
    assert accounts.login("alice" * 100_000, PASSWORD, "10.9.9.9") is None
    assert accounts.login("alice", PASSWORD + "x" * 1_000_000, "10.9.9.9") is None
    assert accounts.login("alice", PASSWORD, "10.9.9.9") is not None
    states = accounts.login_throttle._states([throttle_keys("x", "10.9.9.9")["address"]])
    assert [s.failures for s in states.values()] == [2]
    with pytest.raises(AccountError, match="password too long: use at most 1024"):
        accounts.set_password("alice", "p" * 1025, by="alice")


def test_the_last_active_admin_cannot_be_deleted(tmp_path: Path) -> None:
    """Deleting keeps an admin; an address without a domain is refused."""
    from console.accounts import AccountError, Accounts
    from mailcore import History

    history = History(f"sqlite:///{tmp_path / 'a.db'}")
    accounts = Accounts(history.engine, history)
    accounts.create("root", "root-password-long", "admin")
    accounts.create("other", "other-password-long", "operator")
    with pytest.raises(AccountError, match="last active admin"):
        accounts.delete("root", by="test")
    accounts.delete("other", by="test")
    assert [u.username for u in accounts.list()] == ["root"]
    with pytest.raises(AccountError, match="invalid e-mail"):
        accounts.set_email("root", "root@", by="test")
