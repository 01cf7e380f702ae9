"""Reading MIME: bytes -> a compat32 `Message`, and the questions asked of its parts.

`parse` is `email.message_from_bytes` (compat32) made fast for the common plain message and
lean on memory for a big one; `within_parts` bounds the parts a mail may have (MAX_PARTS). The
part helpers read a part's disposition, filename, decoded bytes and size, rebuild a multipart
whose boundary the parser missed and describe the parser's defects (format=flowed: `flowed`).
"""

from __future__ import annotations

import email
import email.feedparser
import email.policy
import functools
import re
from collections.abc import Callable
from email._policybase import compat32
from email.message import Message
from typing import Any

from mailcore.inbound.headers import decode_header

__all__ = [
    "MAX_PARTS",
    "as_bytes",
    "describe_defect",
    "disposition",
    "encoded_size",
    "enveloped",
    "feed",
    "filename",
    "parse",
    "payload_bytes",
    "recover_multipart",
    "within_parts",
]


# --------------------------------------------------------------------------------------------
# parsing


class _Message(Message):
    """A compat32 Message whose header look-ups use an index.

    Extraction asks a part for its content type, disposition, parameters and encoding a dozen
    times, and Message scans every header for each (a reply carries 30: Received, DKIM...).
    The index is dropped by every method that changes the header list.
    """

    _headers: list[tuple[str, Any]]  # Message's own list of (name, value)
    _index: dict[str, int] | None = None

    def _positions(self) -> dict[str, int]:
        index = self._index
        if index is None:
            index = {}
            for k, (name, _) in enumerate(self._headers):
                index.setdefault(name.lower(), k)
            self._index = index
        return index

    def get(self, name: str, failobj: Any = None) -> Any:
        k = self._positions().get(name.lower())
        if k is None:
            return failobj
        field, value = self._headers[k]
        if self.policy is compat32 and isinstance(value, str) and value.isascii():
            return value  # what compat32's header_fetch_parse returns for it (no surrogates)
        return self.policy.header_fetch_parse(field, value)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._positions()

    def get_content_type(self) -> str:
        # Asked of every part five times; Message splits and lowers the header at each. The
        # answer depends on the header's text alone: cached by it, for every message (parts
        # repeat a few Content-Type values); no header: the default type.
        value = self.get("content-type")
        if value is None:
            return self.get_default_type()
        if not isinstance(value, str):
            return super().get_content_type()
        ctype = _CTYPES.get(value)
        if ctype is None:
            ctype = super().get_content_type()
            _remember(_CTYPES, value, ctype)
        return ctype

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        # Content-Type is asked for its charset, name, format, delsp...: parsed once for every
        # message, by the header's text (a changed header is parsed again); a fresh list for
        # each caller, as Message gives.
        value = self.get(header)
        if value is None:  # a present header is never None: Message would return failobj
            return failobj
        if not isinstance(value, str):
            return super()._get_params_preserve(failobj, header)  # type: ignore[misc]
        key = (header.lower(), value)
        params = _PARAMS.get(key)
        if params is None:
            found = super()._get_params_preserve(failobj, header)  # type: ignore[misc]
            params = tuple(found)
            _remember(_PARAMS, key, params)
        return list(params)


# Header text -> content type, (header name, text) -> its parameters: a few values repeat in
# all mail ("text/plain; charset=utf-8"). Bounded: emptied when full, long values not kept.
_CTYPES: dict[str, str] = {}
_PARAMS: dict[tuple[str, str], tuple[Any, ...]] = {}
_CACHED_VALUES = 1024
_CACHED_LENGTH = 1000


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(key if isinstance(key, str) else key[1]) > _CACHED_LENGTH:
        return
    if len(cache) >= _CACHED_VALUES:
        cache.clear()
    cache[key] = value


def _dropping_index(name: str) -> Callable[..., Any]:
    method = getattr(Message, name)

    @functools.wraps(method)
    def changed(self: _Message, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)
        self._index = None
        return result

    return changed


# Every Message method that changes the header list drops the index.
for _name in ("__setitem__", "__delitem__", "set_raw", "add_header", "replace_header",
              "set_boundary"):  # fmt: skip
    setattr(_Message, _name, _dropping_index(_name))


_NOT_SPLIT = ("multipart", "message")
_BLANKS = (" ", "\t")


def parse(raw: bytes) -> Message:
    """`email.message_from_bytes(raw)` (compat32), about twice as fast on a plain message.

    The feed parser reads everything line by line; for a single-part message whose header
    block is clean (one kind of line ending, only header lines) the headers are split here the
    way it would, and the body attached whole. Anything else takes the feed parser.
    """
    end = raw.find(b"\r\n\r\n")
    if end > 0:
        sep, head, body = "\r\n", raw[: end + 2], memoryview(raw)[end + 4 :]
        crlf = head.count(b"\r\n")
        simple = head.count(b"\r") == crlf and head.count(b"\n") == crlf
    else:
        end = raw.find(b"\n\n")
        sep, head, body = "\n", raw[: end + 1], memoryview(raw)[end + 2 :]
        simple = end > 0 and b"\r" not in head
    headers = _header_pairs(head.decode("ascii", "surrogateescape"), sep) if simple else None
    if headers is not None:
        msg = _Message()
        msg._headers = headers
        if msg.get_content_maintype() not in _NOT_SPLIT:
            msg.set_payload(str(body, "ascii", "surrogateescape"))
            return msg
    return feed(raw)


# Bytes handed to the feed parser at a time. email.message_from_bytes copies the whole mail
# into a str and then into a StringIO (4 bytes a character): 4-5x the mail in memory at once.
_FEED_CHUNK = 1 << 16


def feed(raw: bytes) -> Message:
    """`email.message_from_bytes(raw)` (compat32) without its copies of the whole mail."""
    parser = email.feedparser.BytesFeedParser(_factory=_Message, policy=email.policy.compat32)
    view = memoryview(raw)
    for start in range(0, len(raw), _FEED_CHUNK):
        parser.feed(view[start : start + _FEED_CHUNK].tobytes())
    return parser.close()


def _header_pairs(head: str, sep: str) -> list[tuple[str, str]] | None:
    """(name, value) as the compat32 parser stores them, or None for anything unusual.

    A header field as the feed parser splits it: a name of printable ASCII but blanks and
    ":", the ":", blanks, then the value with its continuation lines (which start with a
    blank). A block that is not a run of these (a "From " line, a line without a colon, a
    continuation first...) is left to the feed parser. `head` ends with `sep` and holds no
    other CR or LF (the caller checked): split into fields in C, one look at each (two regex
    passes over the whole block cost twice as much).
    """
    if head[:1] in _BLANKS:
        return None
    fields = _FIELD_START[sep].split(head)  # a field goes on over its continuation lines
    if fields.pop():
        return None
    pairs: list[tuple[str, str]] = []
    for text in fields:
        name, colon, value = text.partition(":")
        if not colon or not name or " " in name or not name.isascii() or not name.isprintable():
            return None
        pairs.append((name, value.lstrip(" \t")))
    return pairs


_FIELD_START = {sep: re.compile(re.escape(sep) + r"(?![ \t])") for sep in ("\r\n", "\n")}


# More MIME parts than any real mail has: the stdlib parser's cost per part (about 35 us) would
# make a 25 MB mail of tiny parts a minute and a half of work.
MAX_PARTS = 10_000
_BOUNDARY_START = b"\n--"


def within_parts(raw: bytes, defects: list[str]) -> bytes:
    """The message up to its MAX_PARTS-th line starting with "--" (every part boundary is one
    such line; a few text lines may be too), with a defect saying what was left unread."""
    if len(raw) <= 3 * MAX_PARTS or raw.count(_BOUNDARY_START) <= MAX_PARTS:
        return raw  # (too short to hold more such lines than MAX_PARTS: not counted)
    at = -1
    for _ in range(MAX_PARTS):
        at = raw.find(_BOUNDARY_START, at + 1)
    defects.append(
        f"more than {MAX_PARTS:,} MIME parts (MAX_PARTS): the last {len(raw) - at - 1:,} bytes"
        " of the message are not read"
    )
    return raw[: at + 1]


# --------------------------------------------------------------------------------------------
# parts


def disposition(part: Message) -> str | None:
    value = part.get("Content-Disposition")
    if value is None:
        return None
    kind = str(value).split(";", 1)[0].strip().lower()
    return kind or None


def filename(part: Message, defects: list[str], where: str) -> str | None:
    try:
        name = part.get_filename()  # falls back to Content-Type's "name" itself
    except Exception as exc:  # noqa: BLE001 - malformed RFC 2231 parameters
        defects.append(f"{where}: unreadable filename ({exc})")
        return None
    if name is None:
        return None
    text = decode_header(str(name), defects, f"{where} filename")
    return text or None


_BOUNDARY_LINE = re.compile(r"^--([0-9A-Za-z'()+_,./:=?-][0-9A-Za-z '()+_,./:=?-]{0,68})\s*$", re.M)


def recover_multipart(part: Message) -> Message | None:
    body = part.get_payload()
    if not isinstance(body, str):
        return None
    found = _BOUNDARY_LINE.search(body)
    if found is None:
        return None
    boundary = found.group(1).rstrip()
    if boundary.endswith("--") and body.count("--" + boundary) == 1:
        return None
    head = f'Content-Type: {part.get_content_type()}; boundary="{boundary}"\n\n'
    rebuilt = email.message_from_bytes(head.encode() + body.encode("utf-8", "surrogateescape"))
    inner = rebuilt.get_payload()
    if not rebuilt.is_multipart() or not isinstance(inner, list) or not inner:
        return None
    return rebuilt


def enveloped(part: Message) -> bool:
    smime_type = str(part.get_param("smime-type") or "").lower()
    return smime_type in ("", "enveloped-data", "authenveloped-data")


def payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def as_bytes(msg: Message) -> bytes:
    try:
        return msg.as_bytes()
    except Exception:  # noqa: BLE001 - re-serializing a damaged message can fail
        return msg.as_string().encode("utf-8", "surrogateescape")


def encoded_size(part: Message) -> int:
    """Decoded size without decoding: exact for base64, decoded for the rest (small)."""
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    payload = part.get_payload()
    if cte == "base64" and isinstance(payload, str):
        chars = len(payload)
        for ws in ("\n", "\r", " ", "\t"):
            chars -= payload.count(ws)
        tail = payload[-80:].rstrip()  # not payload.rstrip(): two copies of a big attachment
        padding = len(tail) - len(tail.rstrip("="))
        return max(0, chars * 3 // 4 - min(padding, 2))
    return len(payload_bytes(part))


def describe_defect(defect: Any) -> str:
    name = type(defect).__name__
    doc = (type(defect).__doc__ or "").strip().splitlines()
    detail = str(defect).strip() if isinstance(defect, BaseException) else ""
    text = doc[0].rstrip(".") if doc else name
    if detail and detail not in text:
        text = f"{text} ({detail})"
    return f"{text} [{name}]"
