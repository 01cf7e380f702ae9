"""The raw-byte surgery that signatures need: signed content is verified as the exact bytes
sent, so these helpers cut parts out of the message without re-serialising anything.

Everything is linear: line endings are normalised once (signatures are computed over CRLF),
boundaries are found with `bytes.find`, and at most `MAX_PARTS` parts are cut out.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

from mailcore.inbound.headers import header_block

MAX_PARTS = 3  # a signed or encrypted multipart has two; more is not one of ours


@dataclass(frozen=True)
class Entity:
    """A MIME entity's content type (lower case), its parameters and its raw bytes (CRLF)."""

    content_type: str
    params: dict[str, str]
    raw: bytes

    def param(self, name: str) -> str:
        return self.params.get(name, "").strip().lower()


def canonical(raw: bytes) -> bytes:
    """`raw` with every line ending CRLF (a Maildir file has LF)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def entity(raw: bytes) -> Entity:
    """The entity of canonical bytes, read from its header block only."""
    msg = BytesHeaderParser(policy=compat32).parsebytes(header_block(raw))
    params: dict[str, str] = {}
    for item in msg.get_params() or []:
        if isinstance(item, tuple) and len(item) == 2 and item[1]:
            params[str(item[0]).lower()] = str(item[1])
    return Entity(msg.get_content_type(), params, raw)


def body(raw: bytes) -> bytes:
    """What follows the header block."""
    at = raw.find(b"\r\n\r\n")
    return b"" if at < 0 else raw[at + 4 :]


def parts(raw: bytes, boundary: str) -> list[bytes]:
    """The raw bytes of each part of a multipart entity, without their delimiter lines'
    CRLFs (exactly what RFC 1847 signs); at most MAX_PARTS."""
    delimiter = b"\r\n--" + boundary.encode("ascii", "replace")
    text = b"\r\n" + body(raw)
    found: list[bytes] = []
    at = text.find(delimiter)
    while at >= 0 and len(found) <= MAX_PARTS:
        start = text.find(b"\r\n", at + len(delimiter))
        if start < 0 or text[at + len(delimiter) : at + len(delimiter) + 2] == b"--":
            break
        end = text.find(delimiter, start)
        if end < 0:
            break
        found.append(text[start + 2 : end])
        at = end
    return found[:MAX_PARTS]


def rewrap(outer: bytes, inner: bytes) -> bytes:
    """The mail an extraction reads: the outer header fields (From, To, Subject...: what the
    transport saw) with the inner entity's Content-* fields and body in place of the outer's."""
    head = outer[: max(outer.find(b"\r\n\r\n"), 0)]
    kept: list[bytes] = []
    keep = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if keep:
                kept.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower()
        keep = not name.startswith(b"content-") and name != b"mime-version"
        if keep:
            kept.append(line)
    inner = canonical(inner)
    if not inner.startswith(b"\r\n") and b"\r\n\r\n" not in inner:
        inner = b"\r\n" + inner  # no header block: a bare text body
    return b"\r\n".join([*kept, b"MIME-Version: 1.0"]) + b"\r\n" + inner


def split_entity(raw: bytes) -> tuple[bytes, bytes]:
    """(the header fields that are not Content-* or MIME-Version, the MIME entity: its
    Content-* fields and body) of a CRLF message; sealing replaces the entity only."""
    raw = canonical(raw)
    at = raw.find(b"\r\n\r\n")
    head, rest = (raw, b"") if at < 0 else (raw[:at], raw[at + 4 :])
    outer: list[bytes] = []
    content: list[bytes] = []
    target = outer
    for line in head.split(b"\r\n"):
        if line[:1] not in (b" ", b"\t"):
            name = line.split(b":", 1)[0].strip().lower()
            target = content if name.startswith(b"content-") else outer
            if name == b"mime-version":
                continue
        target.append(line)
    return b"\r\n".join(outer), b"\r\n".join(content) + b"\r\n\r\n" + rest
