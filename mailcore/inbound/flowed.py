"""RFC 3676 format=flowed text -> lines, joining soft breaks only within one quote depth."""

from __future__ import annotations

from email.message import Message

__all__ = ["unflow", "unflow_part"]


def unflow_part(text: str, part: Message) -> str:
    """The text of a text/plain part, unflowed when its Content-Type says format=flowed."""
    if str(part.get_param("format") or "").lower() != "flowed":
        return text
    return unflow(text, delsp=str(part.get_param("delsp") or "").lower() == "yes")


def unflow(text: str, *, delsp: bool = False) -> str:
    """Join soft line breaks (a line ending in a space continues on the next line) of lines
    at the same quote depth; a change of depth ends the paragraph (RFC 3676 4.5), so "> Hi "
    followed by "Hello" stays two lines: the quote and the reply."""
    out: list[str] = []
    buffer: list[str] = []  # one paragraph of soft-broken lines; "+=" on a str is quadratic
    depth = 0
    for line in text.splitlines():
        level = len(line) - len(line.lstrip(">"))
        content = line[level:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing (after the quote marks, if any)
        if buffer and level != depth:
            out.append(_quoted(depth, "".join(buffer)))
            buffer = []
        depth = level
        if content.endswith(" ") and content != "-- ":
            buffer.append(content[:-1] if delsp else content)
            continue
        buffer.append(content)
        out.append(_quoted(depth, "".join(buffer)))
        buffer = []
    if buffer:
        out.append(_quoted(depth, "".join(buffer)))
    return "\n".join(out)


def _quoted(depth: int, line: str) -> str:
    if not depth:
        return line
    return ">" * depth + (" " + line if line else "")
