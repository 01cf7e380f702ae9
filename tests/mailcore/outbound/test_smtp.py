"""Sending through a real aiosmtpd server: envelopes, refusals, STARTTLS, the sent copy."""

from __future__ import annotations

import ssl
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from mailcore.errors import ConfigError, SendError
from mailcore.outbound.compose import Template, compose
from mailcore.outbound.smtp import RecipientsRefused, SmtpConfig, send
from tests.mailcore.smtp_server import smtp_server
from tests.servers import HOST, free_port, make_certificate

TEMPLATE = Template("t", "Hello {{ name }}", "Dear {{ name }},\n\nthanks.\n")


def message(**kw: Any) -> Any:
    to = kw.pop("to", "partner@garage.example")
    return compose(TEMPLATE, {"name": "Ada"}, to, "abc123", sender="Acme <ops@acme.example>", **kw)


def test_message_arrives_with_its_envelope() -> None:
    msg = message(cc="boss@garage.example")
    msg["Bcc"] = "audit@acme.example"
    with smtp_server() as server:
        send(msg, SmtpConfig(server.host, server.port, "plain", timeout=10))
    (got,) = server.recorder.messages
    assert got.mail_from == "ops@acme.example"
    assert got.rcpt_tos == ["partner@garage.example", "boss@garage.example", "audit@acme.example"]
    parsed = message_from_bytes(got.data, policy=policy.default)
    assert parsed["Message-ID"] == msg["Message-ID"]
    assert "Bcc" not in parsed  # the blind copy stays blind
    assert b"audit@acme.example" not in got.data


def test_refused_recipient_is_named_and_others_still_get_it() -> None:
    with smtp_server() as server:
        server.recorder.refuse.add("nobody@garage.example")
        with pytest.raises(RecipientsRefused) as caught:
            send(
                message(to=["partner@garage.example", "nobody@garage.example"]),
                SmtpConfig(server.host, server.port, "plain", timeout=10),
            )
    error = caught.value
    assert list(error.refused) == ["nobody@garage.example"]
    assert error.refused["nobody@garage.example"][0] == 550
    assert "User unknown" in str(error) and "nobody@garage.example" in str(error)
    assert error.delivered == ["partner@garage.example"]
    assert server.recorder.messages[0].rcpt_tos == ["partner@garage.example"]


def test_all_recipients_refused() -> None:
    with smtp_server() as server:
        server.recorder.refuse.add("nobody@garage.example")
        with pytest.raises(
            RecipientsRefused, match="every recipient: nobody@garage.example \\(550"
        ):
            send(
                message(to="nobody@garage.example"),
                SmtpConfig(server.host, server.port, "plain", timeout=10),
            )
    assert server.recorder.messages == []


def test_unreachable_server_is_a_send_error() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(SendError, match=f"cannot reach SMTP server {HOST}:{port}"):
        send(message(), SmtpConfig(HOST, port, "plain", timeout=5))


def test_starttls_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, tmp_path / "key.pem")
    with smtp_server(tls_context=context, require_starttls=True) as server:
        # Without STARTTLS the server refuses to go on.
        with pytest.raises(SendError):
            send(message(), SmtpConfig(server.host, server.port, "plain", timeout=10))
        # Untrusted certificate: refused by the client.
        with pytest.raises(SendError, match="cannot reach|certificate"):
            send(message(), SmtpConfig(server.host, server.port, "starttls", timeout=10))
        send(
            message(),
            SmtpConfig(server.host, server.port, "starttls", timeout=10, ca_file=str(cert)),
        )
    assert len(server.recorder.messages) == 1


def test_sent_copy_is_appended_to_the_sent_folder(imap_mailbox: Any) -> None:
    msg = message()
    with smtp_server() as server:
        send(
            msg,
            SmtpConfig(server.host, server.port, "plain", timeout=10),
            sent_mailbox=imap_mailbox,
            sent_folder="Sent",
        )
    (uid,) = imap_mailbox.uids("Sent")
    stored = imap_mailbox.fetch("Sent", [uid])[uid]
    assert message_from_bytes(stored, policy=policy.default)["Message-ID"] == msg["Message-ID"]
    assert stored.replace(b"\r\n", b"\n") == server.recorder.messages[0].data.replace(
        b"\r\n", b"\n"
    )


def test_config_from_url_and_validation() -> None:
    config = SmtpConfig.from_url("smtps://ops%40acme:s3cret@smtp.acme.example")
    assert (config.host, config.effective_port, config.security) == (
        "smtp.acme.example",
        465,
        "tls",
    )
    assert (config.username, config.password) == ("ops@acme", "s3cret")
    assert "s3cret" not in repr(config)
    assert SmtpConfig.from_url("smtp://h?security=plain").effective_port == 25
    with pytest.raises(ConfigError):
        SmtpConfig("h", security="ssl")
