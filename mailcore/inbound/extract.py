"""Inbound mail -> everything a handler needs: payload, visible text, attachments, identifier.

`extract` is pure (bytes in, `Extraction` out) and never raises: what is wrong with a message is
reported in `Extraction.defects`. It is on the hot path of every poll, so it parses with the
fast compat32 policy, decodes only the headers it needs, converts HTML only when there is no
text/plain part and leaves attachment bytes encoded until `Attachment.data()` is called.
"""

from __future__ import annotations

import email
import email.errors
import email.feedparser
import email.policy
import email.utils
import functools
import logging
import re
from collections.abc import Callable
from email.message import Message
from functools import partial
from typing import Any

from mailcore.ident import DEFAULT_SCHEME, IdentScheme, from_message_ids, from_subject
from mailcore.inbound.charsets import decode_text
from mailcore.inbound.headers import (
    EMPTY_HEADERS,
    Headers,
    decode_header,
    header_block,
    raw_headers,
    read_headers,
    unfold,
)
from mailcore.inbound.htmltext import html_to_text
from mailcore.inbound.keys import apply_aliases, normalize_key, normalize_keys
from mailcore.inbound.model import Attachment, Extraction, PayloadSource
from mailcore.inbound.payload import PayloadTooLarge, document_payload, key_lines_payload, load_json
from mailcore.inbound.quoting import split_reply

__all__ = [
    "Attachment",
    "Extraction",
    "Headers",
    "PayloadSource",
    "apply_aliases",
    "extract",
    "normalize_key",
]

logger = logging.getLogger(__name__)


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
        return self.policy.header_fetch_parse(*self._headers[k])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._positions()

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        # Content-Type is asked for its charset, name, format, delsp...: parse it once. The
        # cache is keyed by the header's text, so a changed header is parsed again.
        value = self.get(header)
        if not isinstance(value, str):
            return super()._get_params_preserve(failobj, header)  # type: ignore[misc]
        cache = self.__dict__.setdefault("_params", {})
        key = (header.lower(), value)
        if key not in cache:
            cache[key] = super()._get_params_preserve(failobj, header)  # type: ignore[misc]
        return cache[key]


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
# A header field as the feed parser splits it (compat32): name, ":", blanks, then the value with
# its continuation lines. A block that is not a run of these (a "From " line, a line without a
# colon, a continuation first...) is left to the feed parser.
_FIELD = {
    sep: (
        re.compile(rf"(?:[\041-\071\073-\176]+:[^\r\n]*{sep}(?:[ \t][^\r\n]*{sep})*)+"),
        re.compile(rf"^([\041-\071\073-\176]+):[ \t]*([^\r\n]*(?:{sep}[ \t][^\r\n]*)*){sep}", re.M),
    )
    for sep in ("\r\n", "\n")
}


def _parse(raw: bytes) -> Message:
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
    return _feed(raw)


# Bytes handed to the feed parser at a time. email.message_from_bytes copies the whole mail
# into a str and then into a StringIO (4 bytes a character): 4-5x the mail in memory at once.
_FEED_CHUNK = 1 << 16


def _feed(raw: bytes) -> Message:
    """`email.message_from_bytes(raw)` (compat32) without its copies of the whole mail."""
    parser = email.feedparser.BytesFeedParser(_factory=_Message, policy=email.policy.compat32)
    view = memoryview(raw)
    for start in range(0, len(raw), _FEED_CHUNK):
        parser.feed(view[start : start + _FEED_CHUNK].tobytes())
    return parser.close()


def _header_pairs(head: str, sep: str) -> list[tuple[str, str]] | None:
    """(name, value) as the compat32 parser stores them, or None for anything unusual."""
    block, field = _FIELD[sep]
    if block.fullmatch(head) is None:
        return None
    return field.findall(head)


# --------------------------------------------------------------------------------------------
# extract


def extract(raw: bytes, *, scheme: IdentScheme = DEFAULT_SCHEME) -> Extraction:
    """Parse one raw message; never raises (problems are listed in `defects`)."""
    try:
        return _Extractor(raw, scheme).run()
    except RecursionError:
        return _failed(raw, scheme, "message nested too deeply to parse")
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises"; see defects
        logger.exception("extract failed on a %d-byte message", len(raw))
        return _failed(raw, scheme, f"extraction failed: {type(exc).__name__}: {exc}")


# More MIME parts than any real mail has: the stdlib parser's cost per part (about 35 us) would
# make a 25 MB mail of tiny parts a minute and a half of work.
MAX_PARTS = 10_000
_BOUNDARY_START = b"\n--"


def _within_parts(raw: bytes, defects: list[str]) -> bytes:
    """The message up to its MAX_PARTS-th line starting with "--" (every part boundary is one
    such line; a few text lines may be too), with a defect saying what was left unread."""
    if raw.count(_BOUNDARY_START) <= MAX_PARTS:
        return raw
    at = -1
    for _ in range(MAX_PARTS):
        at = raw.find(_BOUNDARY_START, at + 1)
    defects.append(
        f"more than {MAX_PARTS:,} MIME parts (MAX_PARTS): the last {len(raw) - at - 1:,} bytes"
        " of the message are not read"
    )
    return raw[: at + 1]


def _failed(raw: bytes, scheme: IdentScheme, reason: str) -> Extraction:
    headers = EMPTY_HEADERS
    defects = [reason]
    try:  # the headers only: parsing the whole again is what just failed
        msg = email.message_from_bytes(header_block(raw))
        headers = read_headers(raw_headers(msg), defects)
    except Exception:  # noqa: BLE001 - best effort only; the reason is already recorded
        pass
    identifier, source = _identify(headers, scheme)
    return Extraction(
        headers=headers,
        payload=None,
        payload_source=PayloadSource.NONE,
        text="",
        signature="",
        quoted="",
        html=None,
        text_from_html=False,
        attachments=[],
        identifier=identifier,
        identifier_source=source,
        auto_reply=False,
        auto_reply_reason=None,
        defects=defects,
    )


_TEXT_BODY = frozenset({"text/plain", "text/html"})
_BOUNCE_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_ENCRYPTED = frozenset({"application/pgp-encrypted", "application/x-pkcs7-mime"})
_RETURNED_HEADERS = frozenset({"text/rfc822-headers", "message/rfc822", "message/global"})


class _Extractor:
    def __init__(self, raw: bytes, scheme: IdentScheme) -> None:
        self.raw = raw
        self.scheme = scheme
        self.defects: list[str] = []
        self.plain: list[str] = []
        self.html_parts: list[str] = []
        self.json_parts: list[Message] = []
        self.attachments: list[Attachment] = []
        self.has_dsn = False
        self.returned: Message | None = None  # the bounced message (headers) in a DSN

    def run(self) -> Extraction:
        msg = _parse(_within_parts(self.raw, self.defects))
        found = raw_headers(msg)
        headers = read_headers(found, self.defects)
        self._walk(msg, "message", depth=0)

        html = self.html_parts[0] if self.html_parts else None
        text_from_html = False
        if any(p.strip() for p in self.plain) or (self.plain and not self.html_parts):
            full_text = "\n".join(self.plain)
        elif self.html_parts:
            full_text = "\n\n".join(html_to_text(h) for h in self.html_parts)
            text_from_html = True
        else:
            full_text = ""
        reply = split_reply(full_text)

        payload, source = self._payload(reply.visible)
        identifier, id_source = _identify(headers, self.scheme)
        if identifier is None and self.has_dsn and self.returned is not None:
            identifier, id_source = self._bounced_identifier(self.returned)
        auto_reason = self._auto_reply_reason(msg, found, headers)
        return Extraction(
            headers=headers,
            payload=payload,
            payload_source=source,
            text=reply.visible,
            signature=reply.signature,
            quoted=reply.quoted,
            html=html,
            text_from_html=text_from_html,
            attachments=self.attachments,
            identifier=identifier,
            identifier_source=id_source,
            auto_reply=auto_reason is not None,
            auto_reply_reason=auto_reason,
            defects=self.defects,
        )

    # -- MIME tree ---------------------------------------------------------------------------

    def _walk(
        self, part: Message, where: str, depth: int, boundaries: tuple[str, ...] = ()
    ) -> None:
        self._note_defects(part, where)
        if depth > 50:
            self.defects.append(f"{where}: MIME nesting deeper than 50 levels; rest ignored")
            return
        ctype = part.get_content_type()
        if ctype in _BOUNCE_TYPES:
            self.has_dsn = True
        elif ctype in _RETURNED_HEADERS and self.returned is None:
            self.returned = part
        if part.get_content_maintype() == "multipart":
            boundary = part.get_boundary()
            if boundary is not None and boundary in boundaries:
                # The parser ends the enclosing part at the first "--boundary--": what follows
                # (an attachment, often) is not in the tree at all.
                self.defects.append(
                    f"{where}: reuses the boundary {boundary!r} of an enclosing part; parts after"
                    " it may be missing (attachments included)"
                )
            elif boundary is not None:
                boundaries = (*boundaries, boundary)
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                for k, sub in enumerate(payload, 1):
                    if isinstance(sub, Message):
                        name = f"{where}/{k}" if where != "message" else f"part {k}"
                        self._walk(sub, name, depth + 1, boundaries)
            return
        if part.get_content_maintype() == "multipart":
            # The parser could not split it (no or wrong boundary): guess the boundary from
            # the body, else read the body as text so the sender's words are not lost.
            recovered = _recover_multipart(part)
            if recovered is not None:
                self.defects.append(
                    f"{where}: multipart boundary recovered from the body"
                    f" ({recovered.get_boundary()!r})"
                )
                self._walk(recovered, where, depth + 1, boundaries)
            else:
                self.defects.append(f"{where}: unsplittable multipart body read as plain text")
                self.plain.append(self._decode_text(part, where))
            return
        disposition = _disposition(part)
        filename = _filename(part, self.defects, where)
        if ctype in _TEXT_BODY and disposition != "attachment" and filename is None:
            text = self._decode_text(part, where)
            if ctype == "text/plain":
                self.plain.append(_unflow(text, part) if text else text)
            else:
                self.html_parts.append(text)
            return
        if ctype in _ENCRYPTED or (ctype == "application/pkcs7-mime" and _enveloped(part)):
            self.defects.append(f"{where}: encrypted content ({ctype}) cannot be read")
        if ctype == "application/json" or (
            ctype == "text/json" or (filename or "").lower().endswith(".json")
        ):
            self.json_parts.append(part)
        self.attachments.append(self._attachment(part, ctype, filename, disposition, where))

    def _note_defects(self, part: Message, where: str) -> None:
        for defect in getattr(part, "defects", ()):
            self.defects.append(f"{where}: {_describe_defect(defect)}")

    def _decode_text(self, part: Message, where: str) -> str:
        known = len(getattr(part, "defects", ()))
        data = _payload_bytes(part)
        # Decoding registers new defects (bad base64 padding...) on the part itself.
        for defect in getattr(part, "defects", ())[known:]:
            self.defects.append(f"{where}: {_describe_defect(defect)}")
        text, problem = decode_text(data, part.get_content_charset())
        if problem:
            self.defects.append(f"{where}: {problem}")
        return text.lstrip("\ufeff")

    def _attachment(
        self, part: Message, ctype: str, filename: str | None, disposition: str | None, where: str
    ) -> Attachment:
        content_id = part.get("Content-ID")
        cid = str(content_id).strip().strip("<>").strip() or None if content_id else None
        inline = disposition == "inline" or (disposition is None and cid is not None)
        if ctype == "message/rfc822" or part.get_content_maintype() == "message":
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None

            data = _as_bytes(inner_msg) if isinstance(inner_msg, Message) else _payload_bytes(part)
            return Attachment(filename, ctype, len(data), cid, inline, partial(bytes, data))
        return Attachment(
            filename=filename,
            content_type=ctype,
            size=_encoded_size(part),
            content_id=cid,
            inline=inline,
            _loader=partial(_payload_bytes, part),
        )

    def _bounced_identifier(self, part: Message) -> tuple[str | None, str | None]:
        """A bounce of one of our messages carries its Message-ID in the returned headers."""
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            text = _as_bytes(payload[0]).decode("ascii", "replace")
        else:
            text = _payload_bytes(part).decode("ascii", "replace")
        head = text.split("\n\n", 1)[0]
        found = from_message_ids(head)
        return (found, "references") if found else (None, None)

    # -- payload -----------------------------------------------------------------------------

    def _payload(self, visible: str) -> tuple[dict[str, Any] | None, PayloadSource]:
        try:
            return self._find_payload(visible)
        except PayloadTooLarge as exc:  # refused, not missing: no weaker source is tried
            self.defects.insert(0, str(exc))  # first, so the failure reason names the limit
            return None, PayloadSource.OVER_LIMITS

    def _find_payload(self, visible: str) -> tuple[dict[str, Any] | None, PayloadSource]:
        for part in self.json_parts:
            data = _payload_bytes(part)
            text, problem = decode_text(data, part.get_content_charset() or "utf-8")
            if problem:
                self.defects.append(f"JSON part: {problem}")
            try:
                value = load_json(text)
            except ValueError as exc:
                self.defects.append(f"JSON part is not valid JSON: {exc}")
                continue
            if isinstance(value, dict):
                return self._normalized(value), PayloadSource.JSON_PART
            self.defects.append(f"JSON part holds a {type(value).__name__}, not an object")
        if not visible:
            return None, PayloadSource.NONE
        found, problem = document_payload(visible)
        if found is not None:
            return self._normalized(found), PayloadSource.TEXT_DOCUMENT
        if problem:
            self.defects.append(problem)
        lines = key_lines_payload(visible)
        if lines:
            return self._normalized(lines), PayloadSource.KEY_LINES
        return None, PayloadSource.NONE

    def _normalized(self, payload: dict[Any, Any]) -> dict[str, Any] | None:
        normalized, problems = normalize_keys(payload)
        self.defects.extend(problems)
        return normalized or None

    # -- auto replies --------------------------------------------------------------------------

    def _auto_reply_reason(
        self, msg: Message, raw: dict[str, list[str]], headers: Headers
    ) -> str | None:
        if msg.get_content_type() == "multipart/report" or self.has_dsn:
            report = msg.get_param("report-type") if msg.is_multipart() else None
            kind = str(report or "delivery-status").lower()
            if kind == "disposition-notification":
                return "read receipt (multipart/report; report-type=disposition-notification)"
            return f"delivery status notification (multipart/report; report-type={kind})"
        auto = (headers.auto_submitted or "").strip().lower()
        if auto and auto.split(";")[0].strip() != "no":
            return f"Auto-Submitted: {headers.auto_submitted}"
        for name in ("x-autoreply", "x-autorespond", "x-autogenerated", "x-auto-response"):
            if name in raw:
                value = unfold(raw[name][0]).strip()
                if value.lower() not in ("no", "false", "0"):
                    return f"{_display(name)}: {value}"
        precedence = unfold(raw.get("precedence", [""])[0]).strip().lower()
        if precedence in ("auto_reply", "bulk", "junk"):
            return f"Precedence: {precedence}"
        return_path = unfold(raw.get("return-path", [""])[0]).strip()
        sender = headers.from_.lower()
        if return_path == "<>" and sender.split("@")[0] in ("mailer-daemon", "postmaster"):
            return "bounce from the mail system (null Return-Path, MAILER-DAEMON sender)"
        subject = headers.subject.strip().lower()
        if subject.startswith(_AUTO_SUBJECTS):
            return f"automatic reply subject: {headers.subject.strip()[:80]}"
        return None


_AUTO_SUBJECTS = (
    "automatic reply:",
    "auto-reply:",
    "autoreply:",
    "out of office:",
    "out of office reply",
    "réponse automatique",
    "automatische antwort:",
    "abwesenheitsnotiz",
    "undeliverable:",
    "undelivered mail returned to sender",
    "delivery status notification (failure)",
    "mail delivery failed",
    "non remis :",
    "unzustellbar:",
)


def _display(name: str) -> str:
    return "-".join(w.capitalize() for w in name.split("-"))


def _identify(headers: Headers, scheme: IdentScheme) -> tuple[str | None, str | None]:
    for address in (*headers.to, *headers.delivered_to, *headers.cc):
        found = scheme.from_address(address)
        if found:
            return found, "subaddress"
    found = from_subject(headers.subject)
    if found:
        return found, "subject"
    found = from_message_ids(headers.in_reply_to, " ".join(headers.references))
    if found:
        return found, "references"
    return None, None


# --------------------------------------------------------------------------------------------
# parts


def _disposition(part: Message) -> str | None:
    value = part.get("Content-Disposition")
    if value is None:
        return None
    kind = str(value).split(";", 1)[0].strip().lower()
    return kind or None


def _filename(part: Message, defects: list[str], where: str) -> str | None:
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


def _recover_multipart(part: Message) -> Message | None:
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


def _enveloped(part: Message) -> bool:
    smime_type = str(part.get_param("smime-type") or "").lower()
    return smime_type in ("", "enveloped-data", "authenveloped-data")


def _payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def _as_bytes(msg: Message) -> bytes:
    try:
        return msg.as_bytes()
    except Exception:  # noqa: BLE001 - re-serializing a damaged message can fail
        return msg.as_string().encode("utf-8", "surrogateescape")


def _encoded_size(part: Message) -> int:
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
    return len(_payload_bytes(part))


def _unflow(text: str, part: Message) -> str:
    """Join the soft line breaks of format=flowed text (RFC 3676)."""
    if str(part.get_param("format") or "").lower() != "flowed":
        return text
    delsp = str(part.get_param("delsp") or "").lower() == "yes"
    out: list[str] = []
    buffer: list[str] = []  # a paragraph of soft-broken lines; "+=" on a str is quadratic
    for line in text.splitlines():
        if line.startswith(" "):
            line = line[1:]  # space-stuffing
        if line.endswith(" ") and line.rstrip() != "--":
            buffer.append(line[:-1] if delsp else line)
            continue
        buffer.append(line)
        out.append("".join(buffer))
        buffer = []
    if buffer:
        out.append("".join(buffer))
    return "\n".join(out)


def _describe_defect(defect: Any) -> str:
    name = type(defect).__name__
    doc = (type(defect).__doc__ or "").strip().splitlines()
    detail = str(defect).strip() if isinstance(defect, BaseException) else ""
    text = doc[0].rstrip(".") if doc else name
    if detail and detail not in text:
        text = f"{text} ({detail})"
    return f"{text} [{name}]"
