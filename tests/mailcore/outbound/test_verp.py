"""VERP by default: mail mailcore composes goes out with bounce+<id>.<token>@<[ident] domain> as
its envelope sender (through a real aiosmtpd server), and the bounce sent back to that address
names the mail it returns, even when it quotes none of it."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest

from mailcore.config import Settings
from mailcore.errors import ConfigError
from mailcore.inbound.extract import extract
from mailcore.inbound.model import IdentifierSource
from mailcore.outbound.compose import Template, bounce_address, compose
from mailcore.outbound.settings import smtp_from_settings, verp_scheme
from mailcore.outbound.smtp import send
from tests.mailcore.bounce_support import postfix_dsn
from tests.mailcore.smtp_server import SmtpServer, smtp_server

TEMPLATE = Template("t", "Vehicle {{ plate }}", "Dear partner,\n\n{{ plate }} is registered.\n")


def _settings(server: SmtpServer, *, domain: str | None, **more: Any) -> Settings:
    env = more.pop("env", None)
    data: dict[str, Any] = {
        "smtp": {
            "url": f"smtp://{server.host}:{server.port}/?security=plain",
            "sender": "Fleet <robot@fleet.example>",
        },
        **more,
    }
    if domain:
        data["ident"] = {"domain": domain}
    return Settings.from_mapping(data, env=env)


def _send(settings: Settings) -> EmailMessage:
    smtp, sender = smtp_from_settings(settings)
    msg = compose(
        TEMPLATE, {"plate": "AB-123"}, "p@garage.example", "a74e22bb", sender=sender,
        scheme=settings.scheme,
    )  # fmt: skip
    send(msg, smtp)
    return msg


def test_mail_goes_out_from_its_verp_address_and_its_bounce_links_back() -> None:
    with smtp_server() as server:
        settings = _settings(server, domain="fleet.example")
        msg = _send(settings)
    [got] = server.recorder.messages
    expected = bounce_address(msg, settings.scheme)
    assert expected is not None and expected.startswith("bounce+a74e22bb.")
    assert got.mail_from == expected and expected.endswith("@fleet.example")
    assert b"From: Fleet <robot@fleet.example>" in got.data  # the header is untouched

    # Postfix's bounce, sent to the envelope sender, without the returned headers: only the
    # address it was sent to says which mail it is about.
    returned = extract(postfix_dsn(msg, to=got.mail_from, headers=False), scheme=settings.scheme)
    assert returned.bounce is not None
    assert (returned.identifier, returned.identifier_source) == (
        "a74e22bb",
        IdentifierSource.BOUNCE_ADDRESS,
    )
    assert returned.bounce.original_message_id == msg["Message-ID"]


@pytest.mark.parametrize(
    ("domain", "more"),
    [
        ("fleet.example", {"outbound": {"verp": False}}),
        ("fleet.example", {"env": {"MAILCORE_OUTBOUND_VERP": "false"}}),
        (None, {}),  # no [ident] domain: bounce+…@example.com would reach nobody
    ],
    ids=["verp-false", "env-false", "no-domain"],
)
def test_without_verp_the_envelope_sender_is_the_from(
    domain: str | None, more: dict[str, Any]
) -> None:
    with smtp_server() as server:
        _send(_settings(server, domain=domain, **more))
    [got] = server.recorder.messages
    assert got.mail_from == "robot@fleet.example"


def test_a_mail_without_our_message_id_keeps_its_from() -> None:
    with smtp_server() as server:
        smtp, _ = smtp_from_settings(_settings(server, domain="fleet.example"))
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "ops@fleet.example", "p@garage.example", "Hi"
        msg["Message-ID"] = make_msgid(domain="fleet.example")
        msg.set_content("Hello")
        send(msg, smtp)
    assert server.recorder.messages[0].mail_from == "ops@fleet.example"


def test_verp_must_be_a_boolean() -> None:
    settings = Settings.from_mapping(
        {"ident": {"domain": "fleet.example"}, "outbound": {"verp": "sometimes"}}
    )
    with pytest.raises(ConfigError, match=r"\[outbound\] verp must be true or false"):
        verp_scheme(settings)
