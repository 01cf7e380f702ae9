"""A forwarded message inside a mail: its header lines (any language) and its text."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mailcore.inbound.reply_patterns import header_field, unquote

__all__ = ["ForwardedMessage", "parse_forwarded"]

# Header lines read after a forward marker; the rest is the forwarded text.
_MAX_HEADER_LINES = 16


@dataclass(frozen=True)
class ForwardedMessage:
    """The message a forwarder passed on, as its header lines and text say (not verified)."""

    sender: str  # its "From:" line
    date: str
    subject: str
    to: str
    text: str

    def to_json(self) -> dict[str, str]:
        out = dataclasses.asdict(self)
        return {"from": out.pop("sender"), **out}


def parse_forwarded(lines: list[str]) -> ForwardedMessage:
    """The header block at the top of `lines` ("From: …", "Date: …" in any language of the
    table, continuation lines indented, the whole possibly quoted once) and the text after."""
    first = next((x for x in lines[:3] if x.strip()), "")
    if first.startswith(">"):  # Apple Mail's plain-text forward: "> From: …" under its marker
        lines = [unquote(x) for x in lines]
    fields: dict[str, str] = {}
    last = ""
    k = 0
    while k < len(lines) and k < _MAX_HEADER_LINES:
        line = lines[k]
        if not line.strip():
            k += 1
            if fields:
                break
            continue
        if fields and line[:1] in (" ", "\t") and last:
            fields[last] = f"{fields[last]} {line.strip()}"
            k += 1
            continue
        found = header_field(line)
        if found is None:
            break
        last, value = found
        fields.setdefault(last, value)
        k += 1
    return ForwardedMessage(
        sender=fields.get("from", ""),
        date=fields.get("date", ""),
        subject=fields.get("subject", ""),
        to=fields.get("to", ""),
        text="\n".join(lines[k:]).strip("\n").rstrip(),
    )
