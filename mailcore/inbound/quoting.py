"""Split a reply into what the sender wrote, their signature, and the quoted history.

The history is found by its quote marks (">"), by the header a client writes above it (an
attribution line, an Outlook header block, an "Original Message" or forward line, in every
language of `reply_words`) or, for HTML mail, by the client's quote markup (`htmltext`). Every
split says how sure it is (`ReplyConfidence`) and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from mailcore.inbound.forwards import ForwardedMessage, parse_forwarded
from mailcore.inbound.reply_patterns import (
    MAX_HEADER_LINE,
    RULE,
    AttributionKind,
    attribution_kind,
    clean,
    colon_flags,
    header_field,
    is_forward_marker,
    is_header_label,
    is_mobile_signature,
    is_separator,
    may_start_history,
    may_start_signature,
    may_wrap,
    unquote,
)

__all__ = ["Reply", "ReplyConfidence", "split_reply"]


class ReplyConfidence(StrEnum):
    """How sure the cut between the reply and the quoted history is."""

    CERTAIN = "certain"  # nothing quoted, or the history is marked (">", HTML markup, header)
    LIKELY = "likely"  # cut at a header recognised by weaker signs (a verb and a time...)
    UNSURE = "unsure"  # the cut may be wrong: look at the quoted part

    def at_least(self, required: ReplyConfidence) -> bool:
        """Whether this confidence is `required` or surer (certain > likely > unsure)."""
        return _RANK[self] >= _RANK[required]


_RANK = {ReplyConfidence.UNSURE: 0, ReplyConfidence.LIKELY: 1, ReplyConfidence.CERTAIN: 2}


@dataclass(frozen=True)
class Reply:
    """A message text split in three; joining them gives back the lines of the original."""

    visible: str
    signature: str
    quoted: str
    confidence: ReplyConfidence = ReplyConfidence.CERTAIN
    reason: str = "nothing quoted"
    forwarded: ForwardedMessage | None = None


_FORWARD = "forward marker"
_SEPARATOR = "'Original Message' line"
_HEADER = "header block"
_ATTRIBUTIONS = frozenset(AttributionKind)
_QUOTE_HEADERS = _ATTRIBUTIONS | {_HEADER}
_REASONS = {
    AttributionKind.OPENED: "attribution line",
    AttributionKind.VERB: "attribution line recognised by its verb and a time or address",
    AttributionKind.ADDRESS: "attribution line recognised by a date and an address",
}


def split_reply(text: str, *, html_cut: tuple[int, str] | None = None) -> Reply:
    """Visible text, signature (from its delimiter on) and quoted history of a message text.

    `html_cut` is (line index, markup) where the HTML the text came from starts its quote: the
    lines from there on are history, the lines before it are split as text."""
    lines = text.splitlines()
    limit = len(lines)
    if html_cut is not None and 0 <= html_cut[0] < len(lines):
        start = html_cut[0]
        limit = start
        if any(is_forward_marker(unquote(x)) for x in lines[start : start + 3]):
            # A forward sits in the quote markup too (Apple Mail quotes it in a blockquote):
            # it is read as text, one quote level off, so that its headers are parsed.
            lines = [*lines[:start], *map(unquote, lines[start:])]
            limit = len(lines)
    scan = _Scan(lines[:limit])
    scan.run()
    rule: list[str] = []
    while limit < len(lines) and scan.visible and RULE.match(scan.visible[-1] or "---"):
        rule.insert(0, scan.visible.pop())  # Outlook's <hr> above its header block
    quoted = scan.quoted + rule + lines[limit:]
    body, signature = _split_signature(scan.visible)
    visible = _trim("\n".join(body))
    confidence, reason = scan.verdict()
    if limit < len(lines) and html_cut is not None:
        confidence, reason = ReplyConfidence.CERTAIN, f"HTML quote markup ({html_cut[1]})"
    if not visible and any(x.strip() for x in quoted) and scan.forwarded is None:
        confidence, reason = ReplyConfidence.UNSURE, "nothing is left above the quoted history"
    return Reply(
        visible=visible,
        signature=_trim("\n".join(signature)),
        quoted=_trim("\n".join(quoted)),
        confidence=confidence,
        reason=reason,
        forwarded=scan.forwarded,
    )


@dataclass
class _Scan:
    """One pass over the lines: quote marks, headers above quotes, and the top-posting cut."""

    lines: list[str]
    visible: list[str] = field(default_factory=list)
    quoted: list[str] = field(default_factory=list)
    marks: bool = False  # ">" lines seen
    headed: bool = False  # some of them under a header ("On … wrote:" above the block)
    cut_kind: str | None = None
    cut_strength: int = 0
    forwarded: ForwardedMessage | None = None
    bottom_posted: bool = False
    may_bottom_post: bool = True  # the rest of a bottom post is scanned once, not again
    suspect: bool = False  # a line that looks like an unknown quote header was kept

    def run(self) -> None:
        lines, n, i = self.lines, len(self.lines), 0
        colon = colon_flags(lines)
        while i < n:
            line = lines[i]
            if line[:1] == ">" or (line[:1] in (" ", "\t") and line.lstrip().startswith(">")):
                self.quoted.append(line)
                self.marks = True
                i += 1
                continue
            if not may_start_history(line, colon[i + 1] or colon[i + 2]):
                self.visible.append(line)  # most lines: no history header can start here
                i += 1
                continue
            kind, length, strength = _history_start(lines, i)
            if kind is None:
                self.suspect = self.suspect or _looks_like_header(line)
                self.visible.append(line)
                i += 1
                continue
            j = _skip_blank(lines, i + length)
            if kind in _QUOTE_HEADERS and j < n and lines[j].lstrip().startswith(">"):
                # A header followed by a ">" block covers just that block (bottom-posting and
                # interleaved replies keep the text after it).
                self.quoted.extend(lines[i:j])
                self.headed = True
                i = j
                continue
            self._cut(i, kind, length, strength)
            return

    def _cut(self, i: int, kind: str, length: int, strength: int) -> None:
        """Everything from line i on is history (top-posting), except for a bottom post."""
        lines = self.lines
        nothing_above = not any(x.strip() for x in self.visible)
        if kind in _ATTRIBUTIONS and nothing_above and not self.marks and self.may_bottom_post:
            # The mail starts with "On … wrote:" and no quote marks follow: the text after it
            # is what the sender wrote (the quote was left out, or lost by a converter).
            rest = _Scan(lines[i + length :], may_bottom_post=False)
            rest.run()
            self.visible, self.quoted = rest.visible, [*lines[i : i + length], *rest.quoted]
            self.forwarded, self.marks = rest.forwarded, rest.marks
            self.bottom_posted = True
            return
        self.cut_kind, self.cut_strength = kind, strength
        if kind == _FORWARD:
            self.forwarded = parse_forwarded(lines[i + 1 :])
        elif nothing_above and kind in (_HEADER, _SEPARATOR):
            start = i + 1 if kind == _SEPARATOR or RULE.match(lines[i]) else i
            self.forwarded = parse_forwarded(lines[start:])
        self.quoted.extend(lines[i:])

    def verdict(self) -> tuple[ReplyConfidence, str]:
        if self.bottom_posted:
            return ReplyConfidence.UNSURE, (
                "the mail starts with an attribution line and no quote follows: the text after"
                " it is taken as the reply"
            )
        kind = self.cut_kind
        if kind in (_FORWARD, _SEPARATOR):
            return ReplyConfidence.CERTAIN, kind
        if kind == _HEADER:
            if self.cut_strength > 1:
                return ReplyConfidence.CERTAIN, "header block (From, date, address)"
            return (
                ReplyConfidence.LIKELY,
                "header block without an address (From, date, To, Subject)",
            )
        if kind is not None:
            certain = kind == AttributionKind.OPENED
            level = ReplyConfidence.CERTAIN if certain else ReplyConfidence.LIKELY
            return level, _REASONS[AttributionKind(kind)]
        if self.suspect:
            return ReplyConfidence.UNSURE, (
                "a line ending in ':' with an address and a date was not recognised as a quote"
                " header; nothing was cut there"
            )
        if self.marks:
            return ReplyConfidence.CERTAIN, "quote marks (>)" + (" under a header" * self.headed)
        return ReplyConfidence.CERTAIN, "nothing quoted"


def _history_start(lines: list[str], i: int) -> tuple[str | None, int, int]:
    """(kind, number of lines, strength) of the history header starting at line i."""
    line = lines[i]
    body = clean(line)  # once: the checks below find no bidi mark left to remove
    # Each pattern is tried only where the line ends or holds what it must (a regex of a
    # hundred words is a hundred tries even on a line it cannot match).
    last = body[-1:]
    if last in _MARKER_ENDS and is_forward_marker(body):
        return _FORWARD, 1, 2
    if last in _DASH_ENDS and is_separator(body):
        return _SEPARATOR, 1, 2
    if line.rstrip()[-1:] in _RULE_ENDS and RULE.match(line):
        nxt = _next_content(lines, i + 1)
        strength = _header_block(lines, nxt) if nxt is not None else 0
        return (_HEADER, 1, strength) if strength else (None, 0, 0)
    if (":" in line or "：" in line) and (
        is_header_label(line, "from") or is_header_label(line, "date")
    ):
        strength = _header_block(lines, i)
        return (_HEADER, _header_lines(lines, i), strength) if strength else (None, 0, 0)
    joined = body
    for extra in range(3):
        kind = attribution_kind(joined)
        if kind is not None:
            return kind, extra + 1, 1
        if i + extra + 1 >= len(lines) or not may_wrap(body):
            break
        nxt_line = lines[i + extra + 1]
        if len(nxt_line) > MAX_HEADER_LINE or not nxt_line.strip():
            break
        if nxt_line.lstrip().startswith(">"):
            break
        joined = joined + " " + clean(nxt_line)
    return None, 0, 0


# The last character of a forward marker or separator (their patterns end in a colon, dashes
# or a "*"), and of an Outlook rule; a label ("From:") holds a colon.
_DASH_ENDS = frozenset("*-_=")
_MARKER_ENDS = _DASH_ENDS | {":", "："}
_RULE_ENDS = frozenset("-_")


def _header_block(lines: list[str], i: int) -> int:
    """2: a From line and a date line (either order: some webmails put the date first) within
    a few lines, with an address in the From line; 1: the same without an address but with a
    To and a Subject line (Exchange writes names only); 0: not a header block ("From: Paris /
    Date: May 1 / To: Lyon" is somebody's travel request, not a quoted message)."""
    block = [x for x in lines[i : i + 6] if len(x) <= MAX_HEADER_LINE]
    from_line = next((x for x in block[:3] if is_header_label(x, "from")), None)
    if from_line is None or not any(is_header_label(x, "date") for x in block[:5]):
        return 0
    if "@" in from_line:
        return 2
    has_to = any(is_header_label(x, "to") for x in block)
    return 1 if has_to and any(is_header_label(x, "subject") for x in block) else 0


def _header_lines(lines: list[str], i: int) -> int:
    """How many "Label: value" lines the header block starting at line i has."""
    k = i
    while k < len(lines) and k - i < _MAX_BLOCK and header_field(lines[k]) is not None:
        k += 1
    return max(k - i, 1)


_MAX_BLOCK = 8
_DIGIT = re.compile(r"\d")


def _looks_like_header(line: str) -> bool:
    """An attribution line in a language the table lacks: ends in ':' with an address and
    digits (a date), as every client writes one."""
    body = line.rstrip()
    return body[-1:] in (":", "：") and "@" in body and _DIGIT.search(body) is not None


def _skip_blank(lines: list[str], j: int) -> int:
    while j < len(lines) and not lines[j].strip():
        j += 1
    return j


def _next_content(lines: list[str], start: int) -> int | None:
    for k in range(start, min(start + 3, len(lines))):
        if lines[k].strip():
            return k
    return None


def _split_signature(lines: list[str]) -> tuple[list[str], list[str]]:
    for k, line in enumerate(lines):
        if may_start_signature(line) and is_mobile_signature(line):
            return lines[:k], lines[k:]
    return lines, []


_BLANK_RUNS = re.compile(r"\n(?:[ \t]*+\n){2,}+")


def _trim(text: str) -> str:
    # Removing a quoted block leaves blank lines on both sides: keep one.
    return _BLANK_RUNS.sub("\n\n", text.strip("\n").rstrip())
