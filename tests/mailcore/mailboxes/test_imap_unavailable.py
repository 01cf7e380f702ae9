"""A login answered NO [UNAVAILABLE] (RFC 5530) is a connection problem, retried with backoff,
not refused credentials: a real OAuth2 Dovecot whose token introspection URL is a closed port
answers so, until an introspection server comes up there."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mailcore.errors import ConnectionLost
from mailcore.mailboxes.imap import ImapConfig, ImapMailbox
from tests.servers import HOST, Dovecot, free_port, start_oauth2_dovecot, wait_for_log_line

TOKEN = "opaque-token-for-bob"


class Introspection(BaseHTTPRequestHandler):
    """RFC 7662 token introspection: TOKEN is bob's, any other is inactive."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        active = f"token={TOKEN}" in body.split("&")
        answer = {"active": True, "sub": "bob", "scope": "mail"} if active else {"active": False}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def introspecting_dovecot() -> Iterator[tuple[Dovecot, int]]:
    """An OAuth2 Dovecot that introspects tokens at 127.0.0.1:(the port it yields), where
    nothing listens until a test starts `Introspection` there."""
    dovecot = start_oauth2_dovecot("https://unused.test", "dW51c2VkLWtleS11bnVzZWQta2V5")
    port = free_port()
    (dovecot.root / "dovecot-oauth2.conf.ext").write_text(
        "introspection_mode = post\n"
        f"introspection_url = http://{HOST}:{port}/introspect\n"
        "username_attribute = sub\nscope = mail\ntimeout_msecs = 2000\n"
    )
    dovecot.process.send_signal(signal.SIGHUP)
    wait_for_log_line(dovecot.log, "configuration reload", lambda line: "SIGHUP" in line)
    try:
        yield dovecot, port
    finally:
        dovecot.stop()


def retried(dovecot: Dovecot, failures: int) -> bool:
    """Whether Dovecot logged `failures` temporary login failures in all (its log is written
    asynchronously, so wait a little)."""
    deadline = time.monotonic() + 5
    while dovecot.log().count("reported temporary failure") < failures:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def mailbox(dovecot: Dovecot, retries: int) -> ImapMailbox:
    config = ImapConfig(
        host=dovecot.host, port=dovecot.port, username="bob", security="plain", oauth2_token=TOKEN
    )
    return ImapMailbox(config, retries=retries, backoff=0.4, max_backoff=0.4)


def test_unavailable_backend_is_a_lost_connection_not_refused_credentials(
    introspecting_dovecot: tuple[Dovecot, int],
) -> None:
    dovecot, _ = introspecting_dovecot
    before = dovecot.log().count("reported temporary failure")
    box = mailbox(dovecot, retries=1)

    with pytest.raises(ConnectionLost, match="UNAVAILABLE") as caught:
        box.connect()

    assert "gave up after 2 attempts" in str(caught.value)
    assert "check the user name" not in str(caught.value)
    assert retried(dovecot, before + 2), dovecot.log()[-2000:]


def test_the_login_succeeds_once_the_backend_is_back(
    introspecting_dovecot: tuple[Dovecot, int],
) -> None:
    dovecot, port = introspecting_dovecot
    before = dovecot.log().count("reported temporary failure")
    servers: list[ThreadingHTTPServer] = []

    def come_up() -> None:  # during the first attempt, before the retry
        servers.append(ThreadingHTTPServer((HOST, port), Introspection))
        servers[0].serve_forever()

    timer = threading.Timer(0.2, come_up)
    timer.start()
    try:
        with mailbox(dovecot, retries=4) as box:
            box.connect()
            assert box.uids("INBOX") == []
    finally:
        timer.cancel()
        for server in servers:
            server.shutdown()
            server.server_close()
        timer.join(5)
    assert retried(dovecot, before + 1)
