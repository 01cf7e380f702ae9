"""Reading a mail nested deeper than the MIME walk goes, without losing its words.

A real mail nests a few levels (mixed > alternative > related); a hostile one may nest
thousands, where the stdlib parser runs out of stack (RecursionError) and a recursive walk
would too. `leaves` lists the parts under a deep part without recursion; `flat_parse` reads a
mail the parser cannot nest as its header plus one level of the leaf parts found between its
boundary lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import Message

from mailcore.inbound import mime

__all__ = ["flat_parse", "leaves"]

# A line that may be a boundary ("--" and up to 70 characters, RFC 2046, or its closing form);
# it is one when it names a boundary some Content-Type declares.
_BOUNDARY_LINE = re.compile(rb"^--([^\r\n]{1,200}?)(?:--)?\r?$", re.M)
_DECLARED = re.compile(rb"""boundary=(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))""", re.I)
# A chunk that starts with a header field is a part; one that does not is a preamble or text.
_STARTS_WITH_FIELD = re.compile(rb"[\041-\071\073-\176]{1,200}:")
# A part that only nests others (its children are chunks of their own).
_CONTAINER = re.compile(rb"^content-type:[ \t]*(?:multipart|message)/", re.I | re.M)


def leaves(part: Message) -> Iterator[Message]:
    """The parts under `part` that hold content (not multipart containers), in order."""
    stack = [part]
    while stack:
        node = stack.pop()
        payload = node.get_payload()
        if node.is_multipart() and isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
        else:
            yield node


def flat_parse(raw: bytes) -> Message:
    """`raw`'s header with, as its parts, every part between two boundary lines that is not
    itself a multipart (those only nest the others), each parsed on its own."""
    end = raw.find(b"\r\n\r\n")
    cut = end + 4 if end >= 0 else raw.find(b"\n\n") + 2
    if cut < 2:
        return mime.parse(raw)
    top = mime.parse(raw[:cut])
    parts: list[Message | str] = []  # the type set_payload takes
    body = raw[cut:]
    declared = {a or b for a, b in _DECLARED.findall(raw)}
    lines = [m for m in _BOUNDARY_LINE.finditer(body) if m.group(1) in declared]
    starts = [m.end() for m in lines]
    stops = [m.start() for m in lines][1:] + [len(body)]
    for start, stop in zip(starts, stops, strict=True):
        chunk = body[start:stop].lstrip(b"\r\n")
        head = chunk[: _head_end(chunk)]
        if _STARTS_WITH_FIELD.match(chunk) and not _CONTAINER.search(head):
            parts.append(mime.parse(chunk))
    top.set_type("multipart/mixed")
    top.set_payload(parts)
    return top


def _head_end(chunk: bytes) -> int:
    """Where the header block of a part ends (its first empty line), or its length."""
    ends = [i for i in (chunk.find(b"\r\n\r\n"), chunk.find(b"\n\n")) if i >= 0]
    return min(ends) if ends else len(chunk)
