"""Pure helpers of the IMAP backend: UID sets and batches, COPYUID codes, summaries from
FETCH data, and server responses as text. Nothing here talks to a server."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from mailcore.inbound import headers
from mailcore.mailboxes.protocol import Summary

_HEADER_FIELDS = b"BODY[HEADER.FIELDS (DATE FROM SUBJECT MESSAGE-ID)]"
_COPYUID = re.compile(rb"\[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]", re.IGNORECASE)


def _summary(uid: int, data: dict[bytes, Any]) -> Summary:
    header = bytes(data.get(_HEADER_FIELDS, b"") or b"")
    fields = headers.header_fields(header)
    date = headers.parse_date(fields.get("date"))
    if date is None:
        internal = data.get(b"INTERNALDATE")
        date = internal if isinstance(internal, datetime) else None
    return Summary(
        uid=uid,
        date=date,
        sender=headers.decode_words(fields.get("from", "")),
        subject=headers.decode_words(fields.get("subject", "")),
        size=int(data.get(b"RFC822.SIZE", 0)),
        flags=tuple(f.decode() if isinstance(f, bytes) else str(f) for f in data.get(b"FLAGS", ())),
        message_id=headers.message_id(header),
    )


def _copyuid(text: bytes) -> dict[int, int]:
    """Source UID -> destination UID from every COPYUID response code in `text`."""
    mapping: dict[int, int] = {}
    for match in _COPYUID.finditer(text):
        src, dst = _expand(match.group(2)), _expand(match.group(3))
        if len(src) == len(dst):
            mapping.update(zip(src, dst, strict=True))
    return mapping


def _copyuid_validity(text: bytes) -> int | None:
    """The destination UIDVALIDITY of the COPYUID codes in `text`, None unless they agree."""
    found = {int(match.group(1)) for match in _COPYUID.finditer(text)}
    return found.pop() if len(found) == 1 else None


def _expand(uidset: bytes) -> list[int]:
    out: list[int] = []
    for part in uidset.decode().split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out.extend(range(a, b + 1) if a <= b else range(a, b - 1, -1))
        elif part:
            out.append(int(part))
    return out


def _uidset(uids: Iterable[int]) -> str:
    """Compact IMAP UID set: [1, 2, 3, 7] -> "1:3,7"."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def _unique(uids: Sequence[int]) -> list[int]:
    seen: set[int] = set()
    out: list[int] = []
    for u in uids:
        u = int(u)
        if u < 1:
            raise ValueError(f"UIDs are positive integers, not {u}")
        if u not in seen:
            seen.add(u)
            out.append(u)
    return out


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, BaseException) and value.args:
        return _bytes(value.args[0])
    if isinstance(value, list | tuple):
        return b" ".join(_bytes(v) for v in value)
    return str(value).encode("utf-8", "replace")


def _text(value: Any) -> str:
    """A server response or exception as readable text."""
    return _bytes(value).decode("utf-8", "replace").strip() or type(value).__name__


# APPEND sends a message in pieces of this size, so that making its line endings CRLF holds
# only one piece more than the message.
_PIECE = 1 << 20


def crlf_size(raw: bytes) -> int:
    """The size of `raw` once each bare CR and bare LF is CRLF (as `crlf_pieces` sends it)."""
    crlf = raw.count(b"\r\n")
    return len(raw) + (raw.count(b"\r") - crlf) + (raw.count(b"\n") - crlf)


def crlf_pieces(raw: bytes, piece: int = _PIECE) -> Iterator[bytes | memoryview]:
    """`raw` in pieces of about `piece` bytes with each bare CR and bare LF made CRLF: views
    of `raw` itself (no copy) when its line endings are all CRLF already."""
    view = memoryview(raw)
    if crlf_size(raw) == len(raw):
        for start in range(0, len(raw), piece):
            yield view[start : start + piece]
        return
    start = 0
    while start < len(raw):
        end = start + piece
        if raw[end - 1 : end + 1] == b"\r\n":  # keep a CRLF in one piece
            end += 1
        chunk = raw[start:end]
        yield chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
        start = end
