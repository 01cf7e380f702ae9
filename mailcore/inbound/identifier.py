"""Finding the identifier of the record a reply is about, and where it was found.

`find_identifier` tries the subaddress of the recipients (To, Cc, then the envelope recipient
in Delivered-To / X-Original-To), then the [tag] of the subject, then
the Message-IDs replied to (In-Reply-To, References); `bounced_identifier` reads the Message-ID
in the returned headers of a bounce.
"""

from __future__ import annotations

from email.message import Message

from mailcore.ident import IdentScheme, from_message_ids, from_subject
from mailcore.inbound import mime
from mailcore.inbound.headers import Headers
from mailcore.inbound.model import IdentifierSource

__all__ = ["bounced_identifier", "find_identifier"]


def find_identifier(
    headers: Headers, scheme: IdentScheme
) -> tuple[str | None, IdentifierSource | None]:
    """The identifier our mail put in its reply address, subject or Message-ID, and where."""
    # The envelope recipient (Delivered-To, X-Original-To: written by the MTA or by ingress)
    # after the visible ones: a BCC or a forward names the identifier only there.
    for address in (*headers.to, *headers.cc, *headers.delivered_to):
        found = scheme.from_address(address)
        if found:
            return found, IdentifierSource.SUBADDRESS
    found = from_subject(headers.subject)
    if found:
        return found, IdentifierSource.SUBJECT
    found = from_message_ids(headers.in_reply_to, " ".join(headers.references))
    if found:
        return found, IdentifierSource.REFERENCES
    return None, None


def bounced_identifier(part: Message) -> tuple[str | None, IdentifierSource | None]:
    """A bounce of one of our messages carries its Message-ID in the returned headers."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        text = mime.as_bytes(payload[0]).decode("ascii", "replace")
    else:
        text = mime.payload_bytes(part).decode("ascii", "replace")
    head = text.split("\n\n", 1)[0]
    found = from_message_ids(head)
    return (found, IdentifierSource.REFERENCES) if found else (None, None)
