"""The request checks: constant-time comparisons that say no to anything malformed."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from mailcore.ingress.signatures import ReplayGuard, basic_valid, bearer_valid, fresh


def test_bearer_and_basic() -> None:
    assert bearer_valid("Bearer s3cret", "s3cret") and bearer_valid("bearer  s3cret ", "s3cret")
    assert not bearer_valid("Bearer s3cre", "s3cret") and not bearer_valid(None, "s3cret")
    good = "Basic " + base64.b64encode(b"mailcore:pw:with:colons").decode()
    assert basic_valid(good, "mailcore", "pw:with:colons")
    assert not basic_valid(good, "other", "pw:with:colons")
    assert not basic_valid("Basic !!!", "mailcore", "pw")
    assert not basic_valid("Basic " + base64.b64encode(b"mailcore").decode(), "mailcore", "")


@given(st.text(max_size=200))
def test_no_header_text_is_taken_for_a_secret_it_does_not_hold(header: str) -> None:
    assert not bearer_valid(header, "the-right-token-1234") or "the-right-token-1234" in header
    assert not basic_valid(header, "mailcore", "the-right-password")


def test_fresh_either_way_within_max_age() -> None:
    assert fresh("1000", 300, now=1200) and fresh("1200", 300, now=1000)
    assert not fresh("1000", 300, now=1301) and not fresh("x", 300) and not fresh(None, 300)
    assert not fresh("9" * 30, 300)


def test_the_replay_guard_forgets_only_what_is_stale_and_stays_bounded() -> None:
    guard = ReplayGuard(max_age=10, capacity=3)
    guard.remember("a", now=0)
    assert guard.used("a", now=19) and not guard.used("a", now=21)
    for key in "bcde":
        guard.remember(key, now=100)
    assert not guard.used("b", now=100) and guard.used("e", now=100)
