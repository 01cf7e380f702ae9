"""SMTP with OAuth2: aiosmtpd with XOAUTH2 and OAUTHBEARER mechanisms whose authenticator asks
the test's authorization server about the token (Gmail's way of refusing one: a 334 error
challenge, then 535)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from mailcore.config import Settings
from mailcore.errors import TokenRefreshFailed
from mailcore.oauth2 import token_source
from mailcore.outbound.settings import smtp_from_settings
from mailcore.outbound.smtp import SmtpConfig, send
from tests.mailcore.oauth2.conftest import OAuthAccount
from tests.mailcore.smtp_server import Recorder
from tests.oauth2_server import TokenServer
from tests.servers import HOST, free_port, message


class OAuthRecorder(Recorder):
    """Records mail; logs in only with a live token of the authorization server."""

    def __init__(self, server: TokenServer) -> None:
        super().__init__()
        self.server = server
        self.logins: list[tuple[str, str]] = []  # (mechanism, user) accepted
        self.refused = 0

    async def auth_XOAUTH2(self, smtp: Any, args: list[str]) -> AuthResult:  # noqa: N802
        fields = _fields(args, "\x01")
        user = fields.get("user", "")
        return await self._check(smtp, "XOAUTH2", user, fields.get("auth", ""))

    async def auth_OAUTHBEARER(self, smtp: Any, args: list[str]) -> AuthResult:  # noqa: N802
        fields = _fields(args, "\x01")
        gs2 = next((k for k in fields if k.startswith("n,")), "")
        user = gs2.removeprefix("n,a=").rstrip(",").replace("=2C", ",").replace("=3D", "=")
        return await self._check(smtp, "OAUTHBEARER", user, fields.get("auth", ""))

    async def _check(self, smtp: Any, mechanism: str, user: str, auth: str) -> AuthResult:
        token = auth.removeprefix("Bearer ")
        if user and self.server.user_of(token) == user:
            self.logins.append((mechanism, user))
            return AuthResult(success=True, handled=False)
        self.refused += 1
        await smtp.challenge_auth('{"status":"401","schemes":"bearer"}')  # client answers
        return AuthResult(success=False, handled=False)  # then 535


def _fields(args: list[str], sep: str) -> dict[str, str]:
    raw = base64.b64decode(args[1]).decode() if len(args) > 1 else ""
    out: dict[str, str] = {}
    for part in raw.split(sep):
        key, _, value = part.partition("=") if not part.startswith("n,") else (part, "", "")
        if key:
            out[key] = value
    return out


@contextmanager
def oauth_smtp(server: TokenServer) -> Iterator[tuple[int, OAuthRecorder]]:
    recorder = OAuthRecorder(server)
    controller = Controller(recorder, hostname=HOST, port=free_port(), auth_require_tls=False)
    controller.start()
    try:
        yield controller.port, recorder
    finally:
        controller.stop()


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
def test_smtp_sends_with_a_refreshed_token(oauth_account: OAuthAccount, mechanism: str) -> None:
    oauth_account.seed()  # the stored access token has expired: refreshed before the login
    source = token_source(oauth_account.settings())
    with oauth_smtp(oauth_account.server) as (port, recorder):
        config = SmtpConfig(
            HOST,
            port,
            security="plain",
            username=oauth_account.user,
            oauth2_source=source,
            oauth2_mechanism=mechanism,
        )
        send(message(subject="via oauth2"), config)
    assert recorder.logins == [(mechanism.upper(), oauth_account.user)]
    assert recorder.refused == 0 and len(recorder.messages) == 1
    assert oauth_account.server.refreshes(oauth_account.user) == 1


def test_smtp_refreshes_once_after_a_refused_token(oauth_account: OAuthAccount) -> None:
    oauth_account.seed(access="not-a-token-the-server-issued", valid_for=3600)
    source = token_source(oauth_account.settings())
    with oauth_smtp(oauth_account.server) as (port, recorder):
        config = SmtpConfig(
            HOST, port, security="plain", username=oauth_account.user, oauth2_source=source
        )
        send(message(subject="after a refusal"), config)
    assert recorder.refused == 1 and recorder.logins == [("XOAUTH2", oauth_account.user)]
    assert len(recorder.messages) == 1


def test_smtp_with_a_revoked_refresh_token_says_to_log_in_again(
    oauth_account: OAuthAccount,
) -> None:
    oauth_account.seed()
    oauth_account.server.revoke(oauth_account.user)
    source = token_source(oauth_account.settings())
    with oauth_smtp(oauth_account.server) as (port, recorder):
        config = SmtpConfig(
            HOST, port, security="plain", username=oauth_account.user, oauth2_source=source
        )
        with pytest.raises(TokenRefreshFailed, match="mailcore oauth2 login --account ops"):
            send(message(), config)
    assert recorder.messages == []


def test_the_smtp_settings_log_in_with_the_oauth2_table(oauth_account: OAuthAccount) -> None:
    """[smtp] without a password beside [oauth2]: `smtp_from_settings` (mailcore send, the
    console's "send a test") logs in with a refreshed token, no code of the caller's own."""
    oauth_account.seed()
    with oauth_smtp(oauth_account.server) as (port, recorder):
        mapping = oauth_account.mapping()
        mapping["smtp"] = {
            "url": f"smtp://{oauth_account.user}@{HOST}:{port}/?security=plain",
            "sender": "ops@example.org",
        }
        smtp, sender = smtp_from_settings(Settings.from_mapping(mapping))
        send(message(subject="configured", sender=sender), smtp)
    assert recorder.logins == [("XOAUTH2", oauth_account.user)]
    assert len(recorder.messages) == 1
