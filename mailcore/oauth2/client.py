"""The token endpoint, through Authlib's OAuth 2.0 client (`OAuth2Session` over requests):
the refresh_token grant (RFC 6749 section 6), the token answers as `TokenSet`, and its errors
as mailcore errors that say what to do. Nothing here logs a token.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from mailcore.errors import AuthError, TokenRefreshFailed
from mailcore.oauth2.providers import Provider
from mailcore.store.oauth_tokens import TokenSet

TIMEOUT = 20.0  # seconds for one request to the provider
# Token endpoint errors after which only a new login helps (RFC 6749 section 5.2).
LOGIN_AGAIN = {"invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope"}


def session(provider: Provider, **kwargs: Any) -> OAuth2Session:
    """An Authlib client for `provider` (a public client when it has no secret)."""
    return OAuth2Session(
        provider.client_id,
        provider.client_secret,
        scope=provider.scopes,
        timeout=TIMEOUT,
        **kwargs,
    )


def login_again(account: str) -> str:
    return f"run `mailcore oauth2 login --account {account}` again"


def refresh(provider: Provider, refresh_token: str, account: str) -> TokenSet:
    """New tokens for `refresh_token`; TokenRefreshFailed when the provider refused it (revoked,
    expired, the app registration changed), AuthError when it could not be asked."""
    client = session(provider)
    try:
        answer = client.refresh_token(provider.token_url, refresh_token=refresh_token)
    except OAuthError as e:
        what = f"{e.error}: {e.description}" if e.description else str(e.error)
        if e.error in LOGIN_AGAIN:
            raise TokenRefreshFailed(
                f"the OAuth2 provider refused to refresh the token of account {account!r}"
                f" ({_bounded(what)}) -- {login_again(account)}"
            ) from None
        raise AuthError(
            f"refreshing the OAuth2 token of account {account!r} failed ({_bounded(what)});"
            " retried at the next login"
        ) from None
    except (requests.RequestException, ValueError) as e:
        raise AuthError(
            f"cannot reach the OAuth2 token endpoint {provider.token_url} to refresh account"
            f" {account!r} ({type(e).__name__}) -- is the provider reachable? retried at the"
            " next login"
        ) from None
    finally:
        client.close()
    return token_set(answer, refresh_token)


def token_set(answer: dict[str, Any], previous_refresh: str | None = None) -> TokenSet:
    """A token endpoint's answer as a TokenSet; a refresh token not rotated stays the old."""
    access = answer.get("access_token")
    if not isinstance(access, str) or not access:
        raise AuthError("the OAuth2 token endpoint answered without an access_token")
    expires_at = None
    if answer.get("expires_at") is not None:
        expires_at = datetime.fromtimestamp(float(answer["expires_at"]), UTC)
    elif answer.get("expires_in") is not None:
        expires_at = datetime.fromtimestamp(time.time() + float(answer["expires_in"]), UTC)
    refresh_token = answer.get("refresh_token") or previous_refresh
    return TokenSet(access, refresh_token, expires_at, str(answer.get("scope") or ""))


def _bounded(text: str) -> str:
    """A provider's error text, one line and bounded (it is shown and stored)."""
    return " ".join(text.split())[:300]
