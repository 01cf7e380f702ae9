"""The parts of an automatic message that say what happened, found in one bounded walk.

`report_parts` returns the human-readable notice (text outside any returned message), the
delivery-status and feedback-report bodies, and the returned message or its headers. The walk
visits at most `MAX_VISITED` parts, never descends into the returned message, and keeps at most
`MAX_NOTICE_CHARS` of notice text: a hostile report costs linear time whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message

from mailcore.inbound import mime
from mailcore.inbound.charsets import decode_text

__all__ = ["MAX_NOTICE_CHARS", "ReportParts", "report_parts"]

MAX_VISITED = 300
MAX_NOTICE_CHARS = 64 * 1024
_DSN = frozenset({"message/delivery-status", "message/global-delivery-status"})
_FEEDBACK = frozenset({"message/feedback-report"})
_RETURNED = frozenset(
    {"message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers"}
)


@dataclass
class ReportParts:
    notice: str = ""  # the notice's text (text/plain, else text/html as raw markup)
    notice_is_html: bool = False
    delivery_status: list[str] = field(default_factory=list)
    feedback: str | None = None
    returned: Message | None = None  # the returned message (message/rfc822) or its headers


def report_parts(msg: Message) -> ReportParts:
    found = ReportParts()
    plain: list[str] = []
    html: list[str] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    visited = 0
    while stack and visited < MAX_VISITED:
        part, depth = stack.pop()
        visited += 1
        ctype = part.get_content_type()
        if ctype in _DSN:
            found.delivery_status.append(_block_text(part))
        elif ctype in _FEEDBACK and found.feedback is None:
            found.feedback = _block_text(part)
        elif ctype in _RETURNED:
            inner = _forwarded_report(part)
            if inner is not None and not found.delivery_status and depth < 20:
                stack.append((inner, depth + 1))  # a report forwarded whole: read the report
            elif found.returned is None:
                found.returned = part
        elif part.is_multipart() and depth < 20:
            payload = part.get_payload()
            if isinstance(payload, list):
                subs = [p for p in payload if isinstance(p, Message)]
                stack.extend((p, depth + 1) for p in reversed(subs))
        elif ctype == "text/plain" and mime.disposition(part) != "attachment":
            if sum(map(len, plain)) < MAX_NOTICE_CHARS:
                plain.append(_text(part))
        elif ctype == "text/html" and not plain and sum(map(len, html)) < MAX_NOTICE_CHARS:
            html.append(_text(part))
    text = "\n".join(plain) if any(p.strip() for p in plain) else ""
    if not text and html:
        found.notice, found.notice_is_html = "\n".join(html)[:MAX_NOTICE_CHARS], True
    else:
        found.notice = text[:MAX_NOTICE_CHARS]
    return found


def _forwarded_report(part: Message) -> Message | None:
    payload = part.get_payload()
    first = payload[0] if isinstance(payload, list) and payload else None
    if isinstance(first, Message) and first.get_content_type() == "multipart/report":
        return first
    return None


def _text(part: Message) -> str:
    data = mime.payload_bytes(part)[: 4 * MAX_NOTICE_CHARS]
    text, _ = decode_text(data, part.get_content_charset())
    return text.lstrip("\ufeff")


def _block_text(part: Message) -> str:
    """The fields of a report part: the parser splits a delivery-status part into one Message
    per block, and reads a feedback-report part as one message of headers."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = []
        for block in payload[:1000]:
            if isinstance(block, Message):
                blocks.append("\n".join(f"{k}: {v}" for k, v in block.items()))
                body = block.get_payload()
                if isinstance(body, str) and body.strip():
                    blocks.append(body)  # fields after a stray blank line inside a block
        return "\n\n".join(blocks)
    return _text(part)
