"""IMAP logins with OAuth2 against a real Dovecot (passdb oauth2) and a real authorization
server: tokens that expire every few seconds are refreshed before each login, a refused token
is refreshed once and retried, a revoked refresh token says to log in again."""

from __future__ import annotations

import threading
import time

import pytest

from mailcore.config import Settings, open_mailbox
from mailcore.errors import MailboxError, TokenRefreshFailed
from mailcore.oauth2 import token_source
from mailcore.store.oauth_tokens import TokenHealth
from tests.mailcore.oauth2.conftest import LIFETIME, OAuthAccount
from tests.servers import message


def test_logins_across_several_expiries_refresh_and_never_fail(
    oauth_account: OAuthAccount,
) -> None:
    oauth_account.seed()
    oauth_account.deliver(message(subject="one"))
    mailbox = open_mailbox(oauth_account.settings(mechanism="xoauth2"))
    seen = set()
    started = time.monotonic()
    try:
        for _ in range(2):  # each login after the last token expired (the first: seeded so)
            assert len(mailbox.uids("INBOX")) == 1
            seen.add(oauth_account.store().load("ops").access_token)  # type: ignore[union-attr]
            mailbox.close()
            time.sleep(LIFETIME - 1)
    finally:
        mailbox.close()
    assert time.monotonic() - started > LIFETIME - 1
    assert oauth_account.failed_logins() == []
    assert len(seen) == 2 and oauth_account.server.refreshes(oauth_account.user) == 2
    logins = oauth_account.logins()
    assert sum("method=XOAUTH2" in line for line in logins) == 2


def test_oauthbearer_logs_in_with_the_refreshed_token(oauth_account: OAuthAccount) -> None:
    oauth_account.seed()
    mailbox = open_mailbox(oauth_account.settings(mechanism="oauthbearer"))
    try:
        assert mailbox.uids("INBOX") == []
    finally:
        mailbox.close()
    assert oauth_account.failed_logins() == []
    assert "method=OAUTHBEARER" in oauth_account.logins()[-1]


def test_auto_picks_xoauth2_when_the_server_offers_both(oauth_account: OAuthAccount) -> None:
    oauth_account.seed()
    mailbox = open_mailbox(oauth_account.settings())
    try:
        mailbox.uids("INBOX")
    finally:
        mailbox.close()
    assert "method=XOAUTH2" in oauth_account.logins()[-1]


def test_a_refused_token_is_refreshed_once_and_the_login_retried(
    oauth_account: OAuthAccount,
) -> None:
    # The store says valid for an hour; the server refuses it (signed for another user).
    oauth_account.seed(access=oauth_account.server.sign("someone-else", "mail"), valid_for=3600)
    mailbox = open_mailbox(oauth_account.settings())
    try:
        assert mailbox.uids("INBOX") == []
    finally:
        mailbox.close()
    assert len(oauth_account.failed_logins()) == 1
    assert oauth_account.server.refreshes(oauth_account.user) == 1
    assert len(oauth_account.logins()) == 1


def test_a_revoked_refresh_token_says_to_log_in_again(oauth_account: OAuthAccount) -> None:
    oauth_account.seed()
    assert oauth_account.server.revoke(oauth_account.user) == 1
    mailbox = open_mailbox(oauth_account.settings())
    try:
        with pytest.raises(TokenRefreshFailed) as caught:
            mailbox.uids("INBOX")
    finally:
        mailbox.close()
    assert "run `mailcore oauth2 login --account ops` again" in str(caught.value)
    assert "invalid_grant" in str(caught.value)
    state = oauth_account.store().state("ops")
    assert state is not None and state.health() is TokenHealth.FAILING
    assert "mailcore oauth2 login --account ops" in state.describe()


def test_sources_sharing_the_database_refresh_a_rotating_token_once(
    oauth_account: OAuthAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight sources (as eight processes would: each its own lock) ask at once for a token
    whose refresh token rotates: one refreshes, the others wait for its tokens -- a second
    use of the old refresh token would be invalid_grant."""
    # The refreshed token lives a minute, not the suite's 2 s: with a 1 s margin, a loaded
    # machine taking over a second for the eight turned the new token due again, and a second
    # refresh (right, then) failed the count.
    monkeypatch.setattr(oauth_account.server, "lifetime", 60.0)
    oauth_account.seed()
    settings = oauth_account.settings()
    sources = [token_source(settings) for _ in range(8)]
    got: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(sources))

    def ask(source: object) -> None:
        barrier.wait()
        try:
            got.append(source())  # type: ignore[operator]
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=ask, args=(s,)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(got)) == 1
    assert oauth_account.server.refreshes(oauth_account.user) == 1
    assert oauth_account.server.user_of(got[0], expired=True) == oauth_account.user


def test_a_token_refused_again_after_its_refresh_says_so(oauth_account: OAuthAccount) -> None:
    """The account's tokens are another user's (signed in as the wrong person): one refresh,
    one more try, then a MailboxError naming the account; no loop of refreshes."""
    oauth_account.seed()
    mapping = oauth_account.mapping()
    mapping["imap_url"] = mapping["imap_url"].replace(oauth_account.user, "someone-else")
    mailbox = open_mailbox(Settings.from_mapping(mapping))
    try:
        with pytest.raises(MailboxError) as caught:
            mailbox.uids("INBOX")
    finally:
        mailbox.close()
    text = str(caught.value)
    assert "refused the login of 'someone-else'" in text and "refreshed and refused again" in text
    assert oauth_account.server.refreshes(oauth_account.user) == 2  # before expiry, after refusal
    assert not isinstance(caught.value, TokenRefreshFailed)
