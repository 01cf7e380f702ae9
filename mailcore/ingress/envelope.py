"""The SMTP envelope of a pushed message, written into it as trace header fields (pure, no I/O).

An MTA delivering to a mailbox records the envelope at the top of the message: ``Return-Path:``
(the envelope sender, ``<>`` for a bounce) and ``Delivered-To:`` / ``X-Original-To:`` (the
envelope recipient). Ingress does the same, so the envelope recipient of a BCC'd or forwarded
mail -- found nowhere else -- reaches routing (`mailcore.inbound.identifier` reads both
fields after To), and message identity leaves them out (`mailcore.inbound.identity`).

A field the MTA already wrote with the same value (Postfix's pipe ``D``, ``O`` and ``R``
flags) is not written twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailcore.errors import MailcoreError

__all__ = ["Envelope", "EnvelopeInvalid", "trace_fields"]

# RFC 5321 4.5.3.1.3: a path is at most 256 octets; a little more for a display form's <>.
MAX_ADDRESS = 320
# The top of a message searched for fields an MTA already wrote.
HEAD_BYTES = 64 * 1024


class EnvelopeInvalid(MailcoreError):
    """An envelope address cannot be written into a header field (a line break, a control
    character, or too long): the caller passes something that is not an address."""


@dataclass(frozen=True)
class Envelope:
    """The envelope recipient and sender (None when unknown; "" sender: a bounce, ``<>``)."""

    recipient: str | None = None
    sender: str | None = None

    def __post_init__(self) -> None:
        for name in ("recipient", "sender"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _checked(name, value))


def _checked(name: str, value: str) -> str:
    value = value.strip()
    if name == "sender" and value in ("", "<>"):
        return ""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise EnvelopeInvalid(f"the envelope {name} holds a line break or control character")
    if len(value.encode("utf-8", "surrogateescape")) > MAX_ADDRESS:
        raise EnvelopeInvalid(f"the envelope {name} is over {MAX_ADDRESS} bytes")
    if name == "recipient" and (not value or "@" not in value):
        raise EnvelopeInvalid(f"the envelope recipient {value!r} is not an address (no @)")
    return value.strip("<>") if value.startswith("<") and value.endswith(">") else value


def trace_fields(envelope: Envelope, head: bytes) -> bytes:
    """The header lines to put in front of the message whose first bytes are `head`:
    Return-Path, Delivered-To and X-Original-To for what `envelope` knows, less those already
    at the top with the same value; each ends as the message's first line does (CRLF or LF).
    An address's undecodable bytes (surrogate escapes, as in argv) are written as they came."""
    eol = b"\r\n" if _first_line_end(head) == b"\r\n" else b"\n"
    present = _top_fields(head)
    lines: list[bytes] = []
    if envelope.sender is not None:
        lines.append(b"Return-Path: <" + envelope.sender.encode("utf-8", "surrogateescape") + b">")
    if envelope.recipient is not None:
        address = envelope.recipient.encode("utf-8", "surrogateescape")
        lines += [b"Delivered-To: " + address, b"X-Original-To: " + address]
    kept = [line for line in lines if _normal(line) not in present]
    return b"".join(line + eol for line in kept)


def _first_line_end(head: bytes) -> bytes:
    end = head.find(b"\n")
    return b"\r\n" if end > 0 and head[end - 1 : end] == b"\r" else b"\n"


def _top_fields(head: bytes) -> set[bytes]:
    """The trace fields (name and value, normalised) among the first header lines of `head`."""
    block = head[:HEAD_BYTES]
    end = block.find(b"\n\n")
    crlf = block.find(b"\r\n\r\n")
    cut = min(x for x in (end, crlf, len(block)) if x >= 0)
    found: set[bytes] = set()
    for line in block[:cut].split(b"\n"):
        name = line.partition(b":")[0].strip().lower()
        if name in (b"return-path", b"delivered-to", b"x-original-to"):
            found.add(_normal(line))
    return found


def _normal(line: bytes) -> bytes:
    name, _, value = line.rstrip(b"\r\n").partition(b":")
    return name.strip().lower() + b":" + value.strip().strip(b"<>").lower()
