"""`TokenSource`: an account's access token, fresh, for each IMAP or SMTP login.

Called as ``source(refresh=False)`` by a session at each (re)connect, and with
``refresh=True`` once after the server refused the token. It refreshes (RFC 6749 refresh_token
grant) when the token expires within the margin, or when asked to. Of the threads of a process
one refreshes at a time (a lock); of processes and machines sharing the database one (the
store's lease): the others wait for its new tokens instead of spending a refresh token that may
rotate. A refresh the provider refused is recorded for the admin page and raised as
TokenRefreshFailed, saying to log in again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from mailcore.errors import AuthError, TokenRefreshFailed
from mailcore.oauth2 import client
from mailcore.oauth2.providers import OAuth2Settings, Provider
from mailcore.store.oauth_tokens import OAuthTokenStore, TokenSet

log = logging.getLogger(__name__)

Refresher = Callable[[Provider, str, str], TokenSet]


class TokenSource:
    """The access token of one stored account (see the module docstring)."""

    LEASE_SECONDS = 30.0  # longer than a refresh takes (client.TIMEOUT is 20 s)
    WAIT_STEP = 0.05  # seconds between looks while another caller refreshes

    def __init__(
        self,
        store: OAuthTokenStore,
        settings: OAuth2Settings,
        refresher: Refresher = client.refresh,
    ) -> None:
        self.store = store
        self.settings = settings
        self.refresher = refresher
        self._lock = threading.Lock()

    @property
    def account(self) -> str:
        return self.settings.account

    def __call__(self, refresh: bool = False) -> str:
        """A usable access token; `refresh` after the server refused the last one."""
        with self._lock:
            tokens = self._load()
            if refresh or tokens.expires_within(self.settings.refresh_margin):
                tokens = self._refresh(tokens)
            return tokens.access_token

    def _load(self) -> TokenSet:
        tokens = self.store.load(self.account)
        if tokens is None:
            raise AuthError(
                f"no OAuth2 tokens stored for account {self.account!r} --"
                f" {client.login_again(self.account).replace(' again', '')}"
            )
        return tokens

    def _newer(self, seen: TokenSet) -> TokenSet | None:
        """The stored tokens if another caller refreshed since `seen` was read."""
        current = self._load()
        if current.access_token != seen.access_token and not current.expires_within(
            self.settings.refresh_margin
        ):
            return current
        return None

    def _refresh(self, seen: TokenSet) -> TokenSet:
        deadline = time.monotonic() + self.LEASE_SECONDS
        while not self.store.take_lease(self.account, self.LEASE_SECONDS):
            newer = self._newer(seen)  # someone else is refreshing: wait for their tokens
            if newer is not None:
                return newer
            if time.monotonic() > deadline:
                raise AuthError(
                    f"another process has been refreshing the OAuth2 token of account"
                    f" {self.account!r} for {self.LEASE_SECONDS:g}s; retried at the next login"
                )
            time.sleep(self.WAIT_STEP)
        try:
            newer = self._newer(seen)  # it may have finished just before we got the lease
            if newer is not None:
                self.store.release(self.account)
                return newer
            current = self._load()
            if not current.refresh_token:
                raise TokenRefreshFailed(
                    f"the OAuth2 token of account {self.account!r} has expired and no refresh"
                    f" token is stored -- {client.login_again(self.account)}"
                )
            fresh = self.refresher(self.settings.provider, current.refresh_token, self.account)
        except AuthError as e:
            self.store.fail(self.account, str(e))
            raise
        except BaseException:
            self.store.release(self.account)
            raise
        state = self.store.state(self.account)
        username = state.username if state is not None else ""
        self.store.save(self.account, self.settings.provider.kind, username, fresh)
        log.info(
            "refreshed the OAuth2 token of account %s (until %s)", self.account, fresh.expires_at
        )
        return fresh
