"""OAuth2 logins for IMAP and SMTP (XOAUTH2, OAUTHBEARER) with tokens that refresh.

- `providers`: the `[oauth2]` table (Microsoft 365, Google and generic providers), the
  mechanism vocabulary;
- `client`: the token endpoint through Authlib (the refresh_token grant), its errors;
- `flows`: the interactive logins (device code, RFC 8628; loopback with PKCE, RFC 8252);
- `source`: `TokenSource`, a fresh access token for each login, one refresher at a time;
- here: what the settings give (`token_store`, `token_source`, `token_states`).

Tokens live in the history database (`mailcore.store.oauth_tokens`), encrypted with the
console's secret key, and are never logged.
"""

from __future__ import annotations

import os
from typing import Any

from mailcore.config import Settings
from mailcore.errors import ConfigError
from mailcore.oauth2.providers import Mechanism, OAuth2Settings, configured, oauth2_settings
from mailcore.oauth2.source import TokenSource
from mailcore.store.db import connect
from mailcore.store.oauth_tokens import MISSING_SECRET, OAuthTokenStore, TokenState

__all__ = [
    "Mechanism",
    "OAuth2Settings",
    "TokenSource",
    "account",
    "configured",
    "oauth2_settings",
    "token_source",
    "token_states",
    "token_store",
]

SECRET_ENV = "MAILCORE_SECRET_KEY"


def token_store(settings: Settings, db: Any = None) -> OAuthTokenStore:
    """The token table of the settings' database (or of `db`, an engine already open),
    encrypted with $MAILCORE_SECRET_KEY or [console] secret_key (ConfigError without)."""
    secret = os.environ.get(SECRET_ENV) or settings.section("console").get("secret_key")
    if not secret:  # said before a database is opened (or created)
        raise ConfigError(MISSING_SECRET)
    return OAuthTokenStore(db if db is not None else connect(settings.database_url), secret)


def token_source(settings: Settings, db: Any = None) -> TokenSource | None:
    """The token source of the `[oauth2]` table, None when it names no provider."""
    section = settings.section("oauth2")
    if not configured(section):
        return None
    return TokenSource(
        token_store(settings, db), oauth2_settings(section, account=account(settings))
    )


def account(settings: Settings) -> str | None:
    """The account of these settings' tokens: [oauth2] account, else the mailbox's name
    (each of several mailboxes signs in on its own), else None (the default, "default")."""
    named = settings.section("oauth2").get("account") or getattr(settings, "mailbox_name", None)
    return str(named) if named else None


def token_states(settings: Settings, db: Any = None) -> list[TokenState]:
    """Each stored account's token state (expiry, last refresh failure), never a token."""
    return token_store(settings, db).states()
