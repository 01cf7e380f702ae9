"""Fixtures of the OAuth2 tests: the authorization server (tests/oauth2_server.py) and a second
Dovecot validating its JWT access tokens, both once per session; an account on them whose
refresh token the server knows and whose settings point there."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from mailcore.config import Settings
from mailcore.oauth2 import token_store
from mailcore.store.oauth_tokens import OAuthTokenStore, TokenSet
from tests.oauth2_server import (
    CLIENT_ID,
    SCOPE,
    RefreshToken,
    TokenServer,
    User,
    start_token_server,
)
from tests.servers import Dovecot, start_oauth2_dovecot

LIFETIME = 2.0  # seconds an access token lives
SECRET = "oauth2-test-secret"


@pytest.fixture(scope="session")
def token_server() -> Iterator[TokenServer]:
    server = start_token_server(lifetime=LIFETIME)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def oauth2_dovecot(token_server: TokenServer) -> Iterator[Dovecot]:
    dovecot = start_oauth2_dovecot(token_server.issuer, token_server.key_base64)
    yield dovecot
    dovecot.stop()


@dataclass
class OAuthAccount:
    """A mailbox user of the OAuth2 Dovecot, the settings to reach it, its token store."""

    user: str
    server: TokenServer
    dovecot: Dovecot
    root: Path
    account: str = "ops"

    def mapping(self, **oauth2: Any) -> dict[str, Any]:
        section = {
            "provider": "generic",
            "account": self.account,
            "client_id": CLIENT_ID,
            "token_url": self.server.token_url,
            "device_url": self.server.device_url,
            "refresh_margin": 1,
            **oauth2,
        }
        return {
            "imap_url": f"imap://{self.user}@{self.dovecot.host}:{self.dovecot.port}/"
            "?security=plain",
            "database_url": f"sqlite:///{self.root}/history.db",
            "oauth2": section,
            "console": {"secret_key": SECRET},
        }

    def settings(self, **oauth2: Any) -> Settings:
        return Settings.from_mapping(self.mapping(**oauth2))

    def config_file(self, **oauth2: Any) -> Path:
        """The settings as a TOML file, for the command line."""
        lines = []
        tables = {k: v for k, v in self.mapping(**oauth2).items() if isinstance(v, dict)}
        for key, value in self.mapping(**oauth2).items():
            if not isinstance(value, dict):
                lines.append(f"{key} = {_toml(value)}")
        for name, table in tables.items():
            lines.append(f"[{name}]")
            lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
        path = self.root / "mailcore.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def store(self) -> OAuthTokenStore:
        return token_store(self.settings())

    def seed(self, access: str | None = None, valid_for: float = -1.0) -> str:
        """Store tokens as a login would have: a refresh token the server knows and an access
        token (by default one that has just expired). Returns the refresh token."""
        refresh = secrets.token_urlsafe(32)
        self.server.refresh_tokens[refresh] = RefreshToken(CLIENT_ID, User(self.user), SCOPE)
        expires = datetime.now(UTC) + timedelta(seconds=valid_for)
        token = access or self.server.sign(self.user, SCOPE, lifetime=max(valid_for, 0))
        self.store().save(
            self.account, "generic", self.user, TokenSet(token, refresh, expires, SCOPE)
        )
        return refresh

    def deliver(self, raw: bytes) -> None:
        """APPEND `raw` to the user's INBOX, logged in with a token of its own."""
        with IMAPClient(self.dovecot.host, self.dovecot.port, ssl=False, timeout=10) as client:
            client.oauthbearer_login(self.user, self.server.sign(self.user, SCOPE, lifetime=30))
            client.append("INBOX", raw)

    def failed_logins(self) -> list[str]:
        """Dovecot's log lines of refused OAuth2 logins of this user."""
        return [
            line
            for line in self.dovecot.log().splitlines()
            if self.user in line and "oauth2 failed" in line
        ]

    def logins(self) -> list[str]:
        marker = f"Login: user=<{self.user}>"
        return [line for line in self.dovecot.log().splitlines() if marker in line]


@pytest.fixture
def oauth_account(
    tmp_path: Path, token_server: TokenServer, oauth2_dovecot: Dovecot
) -> OAuthAccount:
    return OAuthAccount(f"u-{secrets.token_hex(4)}", token_server, oauth2_dovecot, tmp_path)


def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
