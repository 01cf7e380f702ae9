"""IMAP sessions through real proxies: tinyproxy (HTTP CONNECT) and Dante (SOCKS5)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable

import pytest

from mailcore.errors import ConfigError, ConnectionLost, MailboxError
from mailcore.mailboxes.imap import ImapConfig, ImapMailbox
from mailcore.mailboxes.proxy import ProxyKind, _read_http_head, parse_proxy, redact
from tests.conftest import imap_config
from tests.servers import (
    Account,
    Dante,
    Dovecot,
    Tinyproxy,
    dovecot_login_line,
    free_port,
    message,
    wait_for_log_line,
)

MakeMailbox = Callable[..., ImapMailbox]


def tunnels(log: str, port: int) -> int:
    """How many tunnels tinyproxy opened to 127.0.0.1:port."""
    return log.count(f"CONNECT 127.0.0.1:{port} ")


# -- through tinyproxy (HTTP CONNECT) -----------------------------------------------------------


def test_plain_imap_session_runs_through_an_http_connect_proxy(
    dovecot: Dovecot, tinyproxy: Tinyproxy, account: Account, make_imap_mailbox: MakeMailbox
) -> None:
    uid = account.append("INBOX", message(subject="via proxy"))
    before = tunnels(tinyproxy.log(), dovecot.port)
    mailbox = make_imap_mailbox(account, proxy=tinyproxy.url)

    assert [s.subject for s in mailbox.summaries("INBOX", [uid])] == ["via proxy"]
    assert list(mailbox.move("INBOX", [uid], "processed").moved) == [uid]
    assert tunnels(tinyproxy.log(), dovecot.port) == before + 1


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_runs_inside_the_tunnel_and_still_verifies_the_server(
    dovecot: Dovecot,
    tinyproxy: Tinyproxy,
    account: Account,
    make_imap_mailbox: MakeMailbox,
    security: str,
) -> None:
    raw = message()
    uid = account.append("INBOX", raw)
    port = dovecot.imaps_port if security == "tls" else dovecot.port
    before = tunnels(tinyproxy.log(), port)
    mailbox = make_imap_mailbox(account, security=security, proxy=tinyproxy.url)

    assert mailbox.fetch("INBOX", [uid]) == {uid: raw}
    assert tunnels(tinyproxy.log(), port) == before + 1
    assert ", TLS," in dovecot_login_line(dovecot, account.username)


def test_tunnelled_tls_refuses_a_host_name_not_in_the_certificate(
    dovecot: Dovecot, tinyproxy: Tinyproxy, account: Account
) -> None:
    config = imap_config(dovecot, account, security="tls", host="127.0.0.2", proxy=tinyproxy.url)

    with pytest.raises(MailboxError, match="hostname mismatch"):
        ImapMailbox(config).uids("INBOX")


def test_a_proxy_refusing_the_tunnel_says_so(
    dovecot: Dovecot, tinyproxy: Tinyproxy, account: Account
) -> None:
    closed_port = free_port()  # not among tinyproxy's ConnectPort lines
    config = imap_config(dovecot, account, port=closed_port, proxy=tinyproxy.url)

    with pytest.raises(MailboxError, match="the proxy refused .*allows tunnels") as info:
        ImapMailbox(config, retries=0).uids("INBOX")
    assert f"127.0.0.1:{closed_port} through proxy {tinyproxy.url}" in str(info.value)
    assert not isinstance(info.value, ConnectionLost)


def test_an_unreachable_proxy_is_retried_then_reported_without_its_password(
    dovecot: Dovecot, account: Account
) -> None:
    proxy = f"http://agent:hunter2@127.0.0.1:{free_port()}"
    config = imap_config(dovecot, account, proxy=proxy)

    with pytest.raises(ConnectionLost, match="check the proxy host and port") as info:
        ImapMailbox(config, retries=1, backoff=0.01).uids("INBOX")
    assert "hunter2" not in str(info.value) and "agent:***@" in str(info.value)


# -- through Dante (SOCKS5) ---------------------------------------------------------------------


@pytest.mark.parametrize("security", ["plain", "tls"])
def test_imap_session_runs_through_a_socks5_proxy(
    dovecot: Dovecot,
    dante: Dante,
    account: Account,
    make_imap_mailbox: MakeMailbox,
    security: str,
) -> None:
    raw = message()
    uid = account.append("INBOX", raw)
    mailbox = make_imap_mailbox(account, security=security, proxy=dante.url)

    assert mailbox.fetch("INBOX", [uid]) == {uid: raw}
    port = dovecot.imaps_port if security == "tls" else dovecot.port
    # Dante logs each relayed connection.
    wait_for_log_line(dante.log, f"relay to port {port}", lambda line: f"127.0.0.1.{port}" in line)


def test_python_socks_is_loaded_only_for_a_socks_proxy(account: Account, dovecot: Dovecot) -> None:
    # `mailcore ingest` starts once per mail: an IMAP session without a proxy, or through an
    # HTTP one, does without python-socks.
    code = (
        "import sys\n"
        "from mailcore.mailboxes.imap import ImapConfig, ImapMailbox\n"
        f"cfg = ImapConfig(host={dovecot.host!r}, port={dovecot.port}, security='plain', "
        f"username={account.username!r}, password={account.password!r})\n"
        "with ImapMailbox(cfg) as box:\n"
        "    box.uids('INBOX')\n"
        "print('python_socks' in sys.modules)\n"
    )
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert answer.stdout.strip() == "False", answer.stderr


def test_http_connect_answer_is_consumed_exactly_leaving_the_greeting() -> None:
    # IMAP servers speak first: their greeting may arrive in the same packet as the proxy's
    # "200"; it must stay in the socket for the IMAP client.
    ours, proxy_side = socket.socketpair()
    with ours, proxy_side:
        proxy_side.sendall(b"HTTP/1.1 200 Connection established\r\nX: y\r\n\r\n* OK ready\r\n")
        assert _read_http_head(ours).endswith(b"X: y\r\n\r\n")
        assert ours.recv(100) == b"* OK ready\r\n"


# -- parsing (pure) -----------------------------------------------------------------------------


def test_parse_proxy_reads_type_address_and_credentials() -> None:
    http = parse_proxy("http://proxy.corp:3128")
    assert (http.type, http.host, http.port, http.username) == (
        ProxyKind.HTTP,
        "proxy.corp",
        3128,
        None,
    )
    socks = parse_proxy("socks5://me%40corp:p%3Ass@10.0.0.1:1080")
    assert (socks.type, socks.username, socks.password, socks.rdns) == (
        ProxyKind.SOCKS5,
        "me@corp",
        "p:ss",
        False,
    )
    assert parse_proxy("socks5h://gw:1080").rdns is True  # names resolved by the proxy
    assert socks.url == "socks5://me%40corp:***@10.0.0.1:1080"


@pytest.mark.parametrize("url", ["ftp://p:21", "http://proxy", "http://:3128", "socks5://h:x"])
def test_parse_proxy_rejects_unusable_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_proxy(url)


def test_bad_proxy_setting_fails_when_configured_not_at_first_use() -> None:
    with pytest.raises(ConfigError, match="unsupported scheme"):
        ImapConfig(host="imap.example.com", proxy="https://proxy:443")


def test_redact_hides_only_the_password() -> None:
    assert redact("http://u:secret@h:8080/") == "http://u:***@h:8080/"
    assert redact("socks5://h:1080") == "socks5://h:1080"
