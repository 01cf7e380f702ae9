"""A mail composed by mailcore and the bounce a Postfix server writes for it (RFC 3464 with the
returned headers), for the bounce tests of the inbound layer and of the engine."""

from __future__ import annotations

from email.message import EmailMessage

from mailcore.ident import IdentScheme
from mailcore.outbound.compose import Template, compose

SCHEME = IdentScheme(domain="acme.example")
TEMPLATE = Template("vehicle", "Vehicle {{ plate }}", "Plate: {{ plate }}\n")


def sent_mail() -> EmailMessage:
    return compose(
        TEMPLATE, {"plate": "AB-1"}, "partner@garage.example", "VEH-4711",
        sender="ops@acme.example", scheme=SCHEME,
    )  # fmt: skip


def postfix_dsn(
    original: EmailMessage, to: str = "ops@acme.example", headers: bool = True
) -> bytes:
    """A bounce of `original` laid out as Postfix writes one (RFC 3464 + returned headers)."""
    head = (
        original.as_bytes().replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode() if headers else ""
    )
    parts = [
        "Content-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n"
        "This is the mail system at host mx.acme.example.\n\n"
        "<partner@garage.example>: host mx.garage.example[192.0.2.7] said: 550 5.1.1\n"
        "    <partner@garage.example>: Recipient address rejected: User unknown\n",
        "Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.acme.example\nX-Postfix-Queue-ID: 4XyZ\n\n"
        "Final-Recipient: rfc822; partner@garage.example\n"
        "Original-Recipient: rfc822;partner@garage.example\nAction: failed\nStatus: 5.1.1\n"
        "Remote-MTA: dns; mx.garage.example\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <partner@garage.example>: Recipient address\n"
        "    rejected: User unknown\n",
    ]
    if headers:
        parts.append(
            "Content-Description: Undelivered Message Headers\n"
            f"Content-Type: text/rfc822-headers\n\n{head}\n"
        )
    body = "".join(f"--B.1/mx\n{p}\n" for p in parts)
    return (
        "Return-Path: <>\nFrom: MAILER-DAEMON@mx.acme.example (Mail Delivery System)\n"
        f"To: {to}\nSubject: Undelivered Mail Returned to Sender\n"
        "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B.1/mx"\n\n'
        f"This is a MIME-encapsulated message.\n\n{body}--B.1/mx--\n"
    ).encode()
