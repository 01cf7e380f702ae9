"""The `oauth_tokens` table: encrypted at rest, one refresher at a time, rotation atomic."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailcore.config import Settings
from mailcore.errors import ConfigError
from mailcore.oauth2 import token_store
from mailcore.store.db import connect
from mailcore.store.oauth_tokens import OAuthTokenStore, TokenSet, oauth_tokens


def _tokens(access: str, refresh: str | None, seconds: float = 60) -> TokenSet:
    return TokenSet(access, refresh, datetime.now(UTC) + timedelta(seconds=seconds), "mail")


def test_tokens_are_encrypted_at_rest_and_read_back(database_url: str) -> None:
    db = connect(database_url)
    store = OAuthTokenStore(db, "s3cret")
    store.save("ops", "generic", "ops@example.com", _tokens("AT-plain-123", "RT-plain-456"))
    with db.connect() as conn:
        row = conn.execute(sa.select(oauth_tokens)).mappings().one()
    raw = b"".join(v for v in row.values() if isinstance(v, bytes))
    assert b"AT-plain-123" not in raw and b"RT-plain-456" not in raw
    assert "AT-plain" not in repr(dict(row))
    loaded = store.load("ops")
    assert loaded is not None
    assert (loaded.access_token, loaded.refresh_token) == ("AT-plain-123", "RT-plain-456")
    assert "AT-plain" not in repr(loaded)
    # a refresh that returns no new refresh token keeps the old one
    store.save("ops", "generic", "ops@example.com", _tokens("AT-2", None))
    again = store.load("ops")
    assert again is not None and (again.access_token, again.refresh_token) == (
        "AT-2",
        "RT-plain-456",
    )
    state = store.state("ops")
    assert state is not None and state.version == 2 and state.valid() and state.has_refresh
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        OAuthTokenStore(db, "another key").load("ops")


def test_a_missing_secret_key_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MAILCORE_SECRET_KEY"):
        OAuthTokenStore(connect(f"sqlite:///{tmp_path}/h.db"), None)


def test_only_one_caller_holds_the_lease(database_url: str) -> None:
    store = OAuthTokenStore(connect(database_url), "k")
    store.save("ops", "generic", "u", _tokens("a", "r"))
    won: list[bool] = []
    barrier = threading.Barrier(8)

    def race() -> None:
        barrier.wait()
        won.append(store.take_lease("ops", 30))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [False] * 7 + [True]
    assert store.leased("ops")
    store.fail("ops", "refused")
    assert not store.leased("ops") and store.take_lease("ops", 30)
    state = store.state("ops")
    assert state is not None and state.failure == "refused"
    assert store.remove("ops") and not store.remove("ops") and store.states() == []


def test_without_a_secret_key_no_database_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILCORE_SECRET_KEY", raising=False)
    settings = Settings.from_mapping({"database_url": f"sqlite:///{tmp_path}/history.db"})
    with pytest.raises(ConfigError, match="set MAILCORE_SECRET_KEY"):
        token_store(settings)
    assert not (tmp_path / "history.db").exists()
