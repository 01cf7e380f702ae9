"""ImapMailbox against a real Dovecot: connections, reconnecting, UIDVALIDITY, logins, TLS (what
`mailcore.mailboxes.imap.session` does)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from typing import Any

import pytest

from mailcore.errors import ConfigError, ConnectionLost, MailboxError, UidValidityChanged
from mailcore.mailboxes.imap import ImapConfig, ImapMailbox
from tests.conftest import imap_config
from tests.mailcore.mailboxes.test_imap import logout_line
from tests.servers import (
    Account,
    Dovecot,
    dovecot_login_line,
    free_port,
    message,
)

MakeMailbox = Callable[..., ImapMailbox]


# -- connections ------------------------------------------------------------------------------


def test_reconnects_after_the_server_drops_the_session(
    dovecot: Dovecot, account: Account, imap_mailbox: ImapMailbox
) -> None:
    uids = account.append_many("INBOX", [message(), message()])
    assert imap_mailbox.uids("INBOX") == uids

    dovecot.kick(account.username)
    assert imap_mailbox.uids("INBOX") == uids

    dovecot.kick(account.username)
    result = imap_mailbox.move("INBOX", uids[:1], "processed")
    assert list(result.moved) == uids[:1]
    assert imap_mailbox.uids("INBOX") == uids[1:]


def test_gives_up_with_connection_lost_when_the_server_is_gone(dovecot: Dovecot) -> None:
    config = ImapConfig(host=dovecot.host, port=free_port(), security="plain", password="x")
    mailbox = ImapMailbox(config, retries=1, backoff=0.01)

    with pytest.raises(ConnectionLost, match="connection refused -- check the port"):
        mailbox.uids("INBOX")


def test_uidvalidity_change_is_reported_once_to_users_of_old_uids(
    account: Account, imap_mailbox: ImapMailbox
) -> None:
    old = account.append_many("jobs", [message(), message()])
    validity = imap_mailbox.uidvalidity("jobs")
    assert imap_mailbox.uids("jobs") == old
    with account.session() as other:
        other.delete_folder("jobs")
        other.create_folder("jobs")
    new = account.append("jobs", message(subject="renumbered"))

    with pytest.raises(UidValidityChanged, match="renumbered"):
        imap_mailbox.fetch("jobs", old)

    assert imap_mailbox.uidvalidity("jobs") != validity
    assert [s.subject for s in imap_mailbox.summaries("jobs", [new])] == ["renumbered"]


def test_uidvalidity_is_checked_on_move_too(account: Account, imap_mailbox: ImapMailbox) -> None:
    [uid] = account.append_many("jobs", [message()])
    imap_mailbox.uidvalidity("jobs")
    with account.session() as other:
        other.delete_folder("jobs")
        other.create_folder("jobs")
    account.append("jobs", message())

    with pytest.raises(UidValidityChanged):
        imap_mailbox.move("jobs", [uid], "processed")
    assert imap_mailbox.uids("processed") == []


def test_one_instance_serves_several_threads(account: Account, imap_mailbox: ImapMailbox) -> None:
    raws = [message(subject=f"t{i}") for i in range(6)]
    uids = account.append_many("INBOX", raws)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            for _ in range(10):
                assert imap_mailbox.fetch("INBOX", [uids[i]]) == {uids[i]: raws[i]}
                assert imap_mailbox.uids("INBOX") == uids
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_close_logs_out_and_is_idempotent(dovecot: Dovecot, account: Account) -> None:
    with ImapMailbox(imap_config(dovecot, account)) as mailbox:
        mailbox.uids("INBOX")
    mailbox.close()

    assert "Logged out" in logout_line(dovecot, account.username)


def test_wrong_password_is_refused_without_echoing_it(dovecot: Dovecot, account: Account) -> None:
    mailbox = ImapMailbox(imap_config(dovecot, account, password="s3cret-wrong"))

    with pytest.raises(MailboxError) as info:
        mailbox.uids("INBOX")

    assert account.username in str(info.value) and "check the user name" in str(info.value)
    assert "s3cret-wrong" not in str(info.value)
    assert not isinstance(info.value, ConnectionLost)


def test_xoauth2_login_sends_the_token(
    dovecot: Dovecot, account: Account, make_imap_mailbox: MakeMailbox
) -> None:
    # This Dovecot checks an XOAUTH2 token like a password, which is enough to see the
    # SASL exchange work end to end.
    mailbox = make_imap_mailbox(account, password=None, oauth2_token=account.password)

    assert mailbox.uids("INBOX") == []
    assert "method=XOAUTH2" in dovecot_login_line(dovecot, account.username)


def test_rejected_oauth2_token_is_reported_without_it(dovecot: Dovecot, account: Account) -> None:
    config = imap_config(dovecot, account, password=None, oauth2_token="expired-token-123")

    with pytest.raises(MailboxError, match="check the user name and OAuth2 token") as info:
        ImapMailbox(config).uids("INBOX")
    assert "expired-token-123" not in str(info.value)


# -- TLS --------------------------------------------------------------------------------------


def test_imaps_verifies_the_certificate_against_ca_file(
    dovecot: Dovecot, account: Account, make_imap_mailbox: MakeMailbox
) -> None:
    uid = account.append("INBOX", message())
    mailbox = make_imap_mailbox(account, security="tls")

    assert mailbox.uids("INBOX") == [uid]
    assert ", TLS," in dovecot_login_line(dovecot, account.username)


def test_starttls_upgrades_the_plain_port(
    dovecot: Dovecot, account: Account, make_imap_mailbox: MakeMailbox
) -> None:
    mailbox = make_imap_mailbox(account, security="starttls")
    mailbox.uids("INBOX")

    assert ", TLS," in dovecot_login_line(dovecot, account.username)


def test_untrusted_certificate_is_refused_with_a_hint(dovecot: Dovecot, account: Account) -> None:
    mailbox = ImapMailbox(imap_config(dovecot, account, security="tls", ca_file=None))

    with pytest.raises(MailboxError, match=r"certificate verify failed.*-- .*ca_file") as info:
        mailbox.uids("INBOX")
    assert not isinstance(info.value, ConnectionLost)  # not retried: it will not fix itself


def test_wrong_host_name_is_refused_as_a_mismatch(dovecot: Dovecot, account: Account) -> None:
    # 127.0.0.2 reaches the same server but is not in its certificate
    mailbox = ImapMailbox(imap_config(dovecot, account, security="tls", host="127.0.0.2"))

    with pytest.raises(
        MailboxError, match=r"127\.0\.0\.2:\d+: certificate verify failed \(hostname mismatch"
    ):
        mailbox.uids("INBOX")


def test_unreadable_ca_file_is_a_configuration_error(dovecot: Dovecot, account: Account) -> None:
    config = imap_config(dovecot, account, security="tls", ca_file="/nonexistent/ca.pem")

    with pytest.raises(ConfigError, match="ca_file '/nonexistent/ca.pem' cannot be used"):
        ImapMailbox(config).uids("INBOX")


def test_plain_imap_loads_no_certificates(
    dovecot: Dovecot, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Loading the system's CAs costs tens of milliseconds of each `mailcore ingest`.
    made: list[object] = []
    create = ssl.create_default_context

    def counted(**kw: Any) -> ssl.SSLContext:
        made.append(kw)
        return create(**kw)

    monkeypatch.setattr(ssl, "create_default_context", counted)
    uid = account.append("INBOX", message())

    with ImapMailbox(imap_config(dovecot, account, security="plain")) as plain:
        assert plain.uids("INBOX") == [uid]
    assert made == []
    with ImapMailbox(imap_config(dovecot, account, security="starttls")) as upgraded:
        assert upgraded.uids("INBOX") == [uid]
    assert len(made) == 1


def test_tls_to_a_plain_port_explains_the_port_mix_up(dovecot: Dovecot, account: Account) -> None:
    mailbox = ImapMailbox(imap_config(dovecot, account, security="tls", port=dovecot.port))

    with pytest.raises(MailboxError, match="TLS handshake failed.*port"):
        mailbox.uids("INBOX")
