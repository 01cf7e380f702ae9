"""Which of our mails a bounce or complaint is about: its Message-ID, found three ways.

In order: the VERP address the bounce was sent to (``bounce+<id>.<token>@domain``, see
`mailcore.ident`), the Message-ID of the returned message or returned headers
(message/rfc822, text/rfc822-headers), and a ``Message-ID:`` line in the notice's quoted copy.
"""

from __future__ import annotations

import dataclasses
from email.message import Message
from typing import TypeVar

from mailcore.ident import IdentScheme, from_message_ids
from mailcore.inbound import mime
from mailcore.inbound.automatic import BounceReport, FeedbackReport
from mailcore.inbound.headers import Headers, header_block, header_fields, msgid_token
from mailcore.inbound.model import IdentifierSource

__all__ = [
    "link_bounce",
    "linked_identifier",
    "quoted_message_id",
    "returned_message_id",
    "verp_link",
]

R = TypeVar("R", BounceReport, FeedbackReport)
_MAX_QUOTE = 64 * 1024


def verp_link(headers: Headers, scheme: IdentScheme) -> tuple[str, str] | None:
    """(id, Message-ID) from the VERP address the bounce was delivered to, if any."""
    for address in (*headers.to, *headers.delivered_to, *headers.cc):
        found = scheme.from_bounce_address(address)
        if found is not None:
            return found
    return None


def returned_message_id(returned: Message | None) -> str | None:
    """The Message-ID of the returned message or returned header block."""
    if returned is None:
        return None
    payload = returned.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        value = payload[0].get("Message-ID")
        return msgid_token(str(value)) if value is not None else None
    head = header_block(mime.payload_bytes(returned)[: 256 * 1024] + b"\n\n")
    value = header_fields(head).get("message-id")
    return msgid_token(value) if value else None


def quoted_message_id(notice: str) -> str | None:
    """The Message-ID of the copy a text bounce quotes (the first ``Message-ID:`` line)."""
    for line in notice[:_MAX_QUOTE].splitlines():
        name, sep, value = line.strip().partition(":")
        if sep and name.strip().lower() == "message-id" and value.strip():
            return msgid_token(value[:998])
    return None


def link_bounce(
    report: R, returned: Message | None, headers: Headers, scheme: IdentScheme, notice: str = ""
) -> R:
    """`report` with `original_message_id` set from the first of the three ways that gives one."""
    verp = verp_link(headers, scheme)
    found = verp[1] if verp else returned_message_id(returned) or quoted_message_id(notice)
    return dataclasses.replace(report, original_message_id=found) if found else report


def linked_identifier(
    report: BounceReport | FeedbackReport | None, headers: Headers, scheme: IdentScheme
) -> tuple[str | None, IdentifierSource | None]:
    """The id of our mail a bounce or complaint is about: from its VERP address, else from the
    Message-ID it returned."""
    verp = verp_link(headers, scheme)
    if verp is not None:
        return verp[0], IdentifierSource.BOUNCE_ADDRESS
    found = from_message_ids(report.original_message_id) if report is not None else None
    return (found, IdentifierSource.REFERENCES) if found else (None, None)
