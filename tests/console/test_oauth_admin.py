"""The admins' OAuth2 page: each signed-in account's token state, read-only, admins only;
never a token on the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from mailcore.store.oauth_tokens import OAuthTokenStore, TokenSet
from tests.console.conftest import ConsoleEnv


def _store(env: ConsoleEnv) -> OAuthTokenStore:
    return OAuthTokenStore(env.services.history.engine, env.app.config["SECRET_KEY"])


def _row(html: str, account: str) -> str:
    found = re.search(rf'<tr data-account="{account}"[^>]*>.*?</tr>', html, re.S)
    assert found, f"no row for {account}"
    return found.group(0)


def test_only_admins_see_the_oauth2_accounts(console_env: ConsoleEnv) -> None:
    assert console_env.client("olivia").get("/admin/oauth2/").status_code == 403
    assert console_env.client("arthur").get("/admin/oauth2/").status_code == 403
    page = console_env.client("ada").get("/admin/oauth2/")
    assert page.status_code == 200
    assert "No account is signed in with OAuth2." in page.get_data(as_text=True)


def test_each_account_shows_its_state_expiry_and_what_to_do(console_env: ConsoleEnv) -> None:
    store = _store(console_env)
    soon = datetime.now(UTC) + timedelta(minutes=50)
    past = datetime.now(UTC) - timedelta(minutes=5)
    store.save("ops", "microsoft", "ops@contoso.example", TokenSet("AT-ops-x1", "RT-1", soon))
    store.save("sales", "google", "s@example.com", TokenSet("AT-sales-x2", "RT-2", past))
    store.save("old", "generic", "o@example.com", TokenSet("AT-old-x3", None, past))
    store.save("broken", "microsoft", "b@contoso.example", TokenSet("AT-b-x4", "RT-4", past))
    store.fail(
        "broken",
        "the OAuth2 provider refused to refresh the token of account 'broken' (invalid_grant:"
        " <b>revoked</b>) -- run `mailcore oauth2 login --account broken` again",
    )
    html = console_env.client("ada").get("/admin/oauth2/").get_data(as_text=True)
    ops = _row(html, "ops")
    assert 'data-health="valid"' in ops and f"{soon:%Y-%m-%d %H:%M:%S} UTC" in ops
    assert "ops@contoso.example" in ops and "microsoft" in ops
    assert 'data-health="expired"' in _row(html, "sales")
    assert "refreshed at the next login" in _row(html, "sales")
    assert "mailcore oauth2 login --account old" in _row(html, "old")
    broken = _row(html, "broken")
    assert 'data-health="failing"' in broken and "refresh failing" in broken
    assert "run `mailcore oauth2 login --account broken` again" in broken
    assert "<b>revoked</b>" not in broken and "&lt;b&gt;revoked" in broken  # escaped
    for secret in ("AT-ops-x1", "RT-1", "AT-sales-x2", "RT-2", "AT-b-x4", "RT-4"):
        assert secret not in html


def test_the_page_says_what_to_set_without_a_secret_key(
    console_env: ConsoleEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = console_env.client("ada")
    monkeypatch.delenv("MAILCORE_SECRET_KEY", raising=False)
    console_env.app.config["TESTING"] = False  # no falling back on the app's key
    page = admin.get("/admin/oauth2/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="oauth2-error"' in html
    assert "set MAILCORE_SECRET_KEY" in html
