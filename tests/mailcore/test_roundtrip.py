"""A composed mail goes out over SMTP; partners answer it from Gmail, Outlook and Thunderbird;
extraction finds the resource identifier and the reply's payload again."""

from __future__ import annotations

import quopri
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from mailcore.ident import IdentScheme
from mailcore.inbound.extract import extract
from mailcore.outbound.compose import Template, compose
from mailcore.outbound.smtp import SmtpConfig, send
from tests.mailcore.smtp_server import smtp_server

SCHEME = IdentScheme(domain="acme.example")
RID = "a74e22bb"
TEMPLATE = Template(
    "vehicle",
    "Vehicle {{ plate }} is ready",
    "# Vehicle ready\n\nDear {{ owner }},\n\nPlate: {{ plate }}\nGarage: {{ garage }}\n\n"
    "Reply with the pickup time.\n",
)
DATA = {"plate": "AB-123-CD", "owner": "Zoë Martin", "garage": "Garage du Centre"}
ANSWER = "Pickup: 2026-11-25 09:00\nContact: Jean Dupont\n"
PAYLOAD = {"pickup": "2026-11-25 09:00", "contact": "Jean Dupont"}


@pytest.fixture(scope="module")
def received() -> EmailMessage:
    """The composed mail as the partner's server received it over SMTP."""
    msg = compose(
        TEMPLATE,
        DATA,
        "Partner Garage <partner@garage.example>",
        RID,
        sender="Acme <ops@acme.example>",
        scheme=SCHEME,
        automatic=True,
    )
    with smtp_server() as server:
        send(msg, SmtpConfig(server.host, server.port, "plain", timeout=10))
    parsed = message_from_bytes(server.recorder.messages[0].data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def original_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def qp(text: str) -> str:
    return quopri.encodestring(text.encode("utf-8")).decode("ascii")


def gmail(msg: EmailMessage, to: str) -> bytes:
    quoted = "\n".join(f"> {line}" if line else ">" for line in original_text(msg).splitlines())
    plain = f"{ANSWER}\nOn Tue, 24 Nov 2026 at 10:02, Acme <{msg['Reply-To']}> wrote:\n\n{quoted}\n"
    html = (
        f'<div dir="ltr">{ANSWER.replace(chr(10), "<br>")}</div><br><div class="gmail_quote">'
        f'<div dir="ltr" class="gmail_attr">On Tue, 24 Nov 2026 at 10:02, Acme &lt;'
        f'{msg["Reply-To"]}&gt; wrote:<br></div><blockquote class="gmail_quote" '
        'style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);'
        f'padding-left:1ex">Plate: AB-123-CD<br>Garage: Garage du Centre</blockquote></div>'
    )
    return (
        "MIME-Version: 1.0\r\n"
        "Date: Tue, 24 Nov 2026 11:15:02 +0100\r\n"
        f"References: {msg['References']} {msg['Message-ID']}\r\n"
        f"In-Reply-To: {msg['Message-ID']}\r\n"
        "Message-ID: <CAFx9pXk2m+Qp1=abc@mail.gmail.com>\r\n"
        f"Subject: Re: {msg['Subject']}\r\n"
        "From: Jean Dupont <partner@garage.example>\r\n"
        f"To: {to}\r\n"
        'Content-Type: multipart/alternative; boundary="0000000000004d1a6f05f1c2"\r\n'
        "\r\n--0000000000004d1a6f05f1c2\r\n"
        'Content-Type: text/plain; charset="UTF-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        f"{qp(plain)}\r\n"
        "--0000000000004d1a6f05f1c2\r\n"
        'Content-Type: text/html; charset="UTF-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        f"{qp(html)}\r\n"
        "--0000000000004d1a6f05f1c2--\r\n"
    ).encode("ascii")


def outlook(msg: EmailMessage, to: str) -> bytes:
    plain = (
        f"{ANSWER}\n________________________________\n"
        f"From: Acme <ops@acme.example>\nSent: Tuesday, November 24, 2026 10:02 AM\n"
        f"To: Partner Garage <partner@garage.example>\nSubject: {msg['Subject']}\n\n"
        f"{original_text(msg)}\n"
    )
    return (
        "From: Jean Dupont <partner@garage.example>\r\n"
        f"To: {to}\r\n"
        f"Subject: RE: {msg['Subject']}\r\n"
        "Thread-Topic: Vehicle AB-123-CD is ready\r\n"
        "Thread-Index: AQHbPj0rYWJjZGVmZ2hpams=\r\n"
        "Date: Tue, 24 Nov 2026 10:15:44 +0000\r\n"
        "Message-ID: <AM9PR02MB7410C1@AM9PR02MB7410.eurprd02.prod.outlook.com>\r\n"
        f"References: {msg['Message-ID']}\r\n"
        f"In-Reply-To: {msg['Message-ID']}\r\n"
        "Content-Language: fr-FR\r\n"
        "X-MS-Has-Attach:\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="iso-8859-1"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + quopri.encodestring(plain.encode("iso-8859-1")).decode("ascii")
    ).encode("ascii")


def thunderbird(msg: EmailMessage, to: str) -> bytes:
    quoted = "\n".join(f"> {line}" if line else ">" for line in original_text(msg).splitlines())
    plain = f"{ANSWER}\nOn 24/11/2026 10:02, Acme wrote:\n{quoted}\n"
    return (
        "Message-ID: <5e0b1c7a-3f4e-4a8b-9d2c-1f0e6a7b8c9d@garage.example>\r\n"
        "Date: Tue, 24 Nov 2026 11:20:31 +0100\r\n"
        "MIME-Version: 1.0\r\n"
        "User-Agent: Mozilla Thunderbird\r\n"
        f"Subject: Re: {msg['Subject']}\r\n"
        "Content-Language: fr\r\n"
        f"To: {to}\r\n"
        f"References: {msg['References']} {msg['Message-ID']}\r\n"
        "From: Jean Dupont <partner@garage.example>\r\n"
        f"In-Reply-To: {msg['Message-ID']}\r\n"
        "Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode("ascii") + plain.replace("\n", "\r\n").encode("utf-8")


CLIENTS: dict[str, Callable[[EmailMessage, str], bytes]] = {
    "gmail": gmail,
    "outlook": outlook,
    "thunderbird": thunderbird,
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_reply_comes_back_with_identifier_and_payload(received: EmailMessage, client: str) -> None:
    reply = CLIENTS[client](received, f"Acme <{received['Reply-To']}>")
    found = extract(reply, scheme=SCHEME)
    assert found.identifier == RID
    assert found.identifier_source == "subaddress"
    assert found.payload == PAYLOAD, (found.payload, found.text, found.defects)
    # The quoted original (with its own "Plate:" line) is history, not the answer.
    assert "Plate" not in found.text


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_identifier_survives_a_changed_recipient(received: EmailMessage, client: str) -> None:
    """Replied to the plain address (e.g. from a forwarded copy): the subject tag and
    Message-ID references still name the resource."""
    reply = CLIENTS[client](received, "Acme Ops <ops@acme.example>")
    found = extract(reply, scheme=SCHEME)
    assert found.identifier == RID
    assert found.identifier_source in ("subject", "references")
    assert found.payload == PAYLOAD


def test_identifier_from_references_alone(received: EmailMessage) -> None:
    reply = thunderbird(received, "ops@acme.example").replace(f"[{RID}] ".encode(), b"")
    found = extract(reply, scheme=SCHEME)
    assert (found.identifier, found.identifier_source) == (RID, "references")


def test_our_own_mail_is_recognised_as_automatic(received: EmailMessage) -> None:
    """If it ever loops back to us, Auto-Submitted keeps it from being processed as a reply."""
    found = extract(received.as_bytes(), scheme=SCHEME)
    assert found.auto_reply
    assert found.identifier == RID
    assert found.payload == DATA  # the JSON alternative is read first
