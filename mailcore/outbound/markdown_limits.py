"""The Markdown pre-pass: a body's text made safe for Python-Markdown to format in linear time.

Python-Markdown is superlinear on some of an author's own text: each unmatched ``[`` scans
to the end of its paragraph (``"[" * 10_000`` takes minutes), so does each ``](`` whose
target never closes, each ``<`` that starts no complete tag, each backtick run without
its closing run, each unclosed fence, and each long run of ``*``/``_``. `markdown_input`
makes every such character inert before Markdown runs by swapping it for a private-use
stand-in (`restore_markdown_output` puts the character back in the HTML), so each is
shown exactly as typed and only stops being markup it could never complete. Ordinary
Markdown is left as it is. Bracket and parenthesis nesting are bounded too, which bounds
what any remaining scan can cover, so Markdown's work stays linear in its input.
`MAX_MARKDOWN_CHARS` bounds the text Markdown formats at all.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

MAX_MARKDOWN_CHARS = 300_000  # characters of the rendered body Markdown formats (a value: 1)
MAX_BRACKET_DEPTH = 4  # ``[`` nesting that may still make links (``[![img](src)](href)`` is 2)
MAX_LINK_PAREN_DEPTH = 2  # ``(`` nesting inside one link target (Wikipedia URLs need 1)
MAX_CODE_BLOCKS = 200  # fenced code blocks (Markdown rebuilds the whole text for each one)
MAX_EMPHASIS_RUN = 3  # ``***`` is strong emphasis; a longer run of ``*``/``_`` is text

STAND_IN_BASE = 0xE100  # stand-in of ASCII character c: chr(STAND_IN_BASE + ord(c))
STAND_INS = re.compile("[\ue100-\ue17f]")


def _inert(c: str) -> str:
    return chr(STAND_IN_BASE + ord(c))


_FENCE = re.compile(r"^(`{3,}+|~{3,}+)([^\n]*+)$", re.MULTILINE)
_TAG = re.compile(
    r"</?+[A-Za-z][A-Za-z0-9-]*+"
    r"(?:\s++[^\s\"'=<>/`]++(?:\s*+=\s*+(?:\"[^\"<>]*+\"|'[^'<>]*+'|[^\s\"'=<>`]++))?+)*+"
    r"\s*+/?>"
)
_AUTOLINK = re.compile(r"<[A-Za-z][A-Za-z0-9+.-]*+:[^<>]*+>|<[^<>\s!@]++@[^@<>\s]++>")
_STRICT_TARGET = re.compile(
    r"\(\s*+(?:<[^<>\n]*+>|[^\s()<>\"']*+)\s*+(?:\"[^\"\n]*+\"|'[^'\n]*+')?+\s*+\)"
)
_QUOTES = frozenset("\"'")


def markdown_input(text: str) -> str:
    """`text` with every construct Python-Markdown could only handle in superlinear time
    made inert (see above); linear in ``len(text)``."""
    chars = list(text)
    protected: set[int] = set()  # ``<`` of a ``](<target>)`` link: not to be judged as a tag
    code_blocks = _fences(text, chars)
    for start, end in _paragraphs(text):
        _links(text, chars, start, end, protected)
        _code_spans(text, chars, start, end)
        _emphasis(text, chars, start, end)
    _angles(text, chars, protected)
    return _reblock("".join(chars), code_blocks)


# Lines Markdown cuts out of their block, re-queueing the rest of the block each time: a run
# of them without blank lines between is quadratic. A blank line after each changes nothing
# else (a heading or a rule ends its block anyway).
_SPLITTING_LINE = re.compile(
    r"#{1,6}[^\n]*+|=++[ ]*+|-{2,}+[ ]*+|(?:\*[ ]*+){3,}|(?:-[ ]*+){3,}|(?:_[ ]*+){3,}"
)
# A paragraph's inline markup costs Markdown its length for each construct in it (the text is
# rebuilt around each one): a plain paragraph is cut, at a line end, into pieces of at most
# MAX_PARAGRAPH_CHARS, and a longer line at a space. Tables, lists, quotes, headings and code
# are never cut (each cell and item is its own paragraph already).
MAX_PARAGRAPH_CHARS = 20_000
_STRUCTURED = re.compile(r"[ \t]*+(?:[|>#]|[-*+][ \t]|\d++[.)][ \t]|    |\t)")


def _reblock(text: str, code_blocks: list[tuple[int, int]]) -> str:
    """Blank lines after lines Markdown splits blocks at, and in over-long plain paragraphs,
    outside fenced code."""
    starts = [a for a, _ in code_blocks]

    def in_code(pos: int) -> bool:
        index = bisect.bisect_right(starts, pos) - 1
        return index >= 0 and pos <= code_blocks[index][1]

    out: list[str] = []
    paragraph = 0  # characters of the plain paragraph so far; -1 in a structured block
    after_split = False  # the previous line was a heading/rule/underline
    for m in re.finditer(r"[^\n]*+\n?", text):
        line = m[0]
        if not line:
            break
        if in_code(m.start()):
            out.append(line)
            paragraph, after_split = -1, False
            continue
        blank = not line.strip()
        if after_split and not blank:
            out.append("\n")
            paragraph = 0
        after_split = False
        if blank:
            paragraph = 0
        elif paragraph == 0 and _STRUCTURED.match(line):
            paragraph = -1
        elif paragraph >= 0:
            if paragraph and paragraph + len(line) > MAX_PARAGRAPH_CHARS:
                out.append("\n")
                paragraph = 0
            if len(line) > MAX_PARAGRAPH_CHARS:
                line = _cut_line(line)
            paragraph += len(line)
        out.append(line)
        if _SPLITTING_LINE.fullmatch(line.rstrip("\n")) and line.endswith("\n"):
            after_split = True
    return "".join(out)


def _cut_line(line: str) -> str:
    """An over-long line as paragraphs of at most MAX_PARAGRAPH_CHARS, cut at spaces."""
    pieces, start = [], 0
    while len(line) - start > MAX_PARAGRAPH_CHARS:
        cut = line.rfind(" ", start, start + MAX_PARAGRAPH_CHARS)
        cut = start + MAX_PARAGRAPH_CHARS if cut <= start else cut
        pieces.append(line[start:cut])
        start = cut
    pieces.append(line[start:])
    return "\n\n".join(pieces)


def restore_markdown_output(html_text: str) -> str:
    """Markdown's HTML with each stand-in back as the character it stands for (as text)."""

    def back(m: re.Match[str]) -> str:
        c = chr(ord(m[0]) - STAND_IN_BASE)
        return "&lt;" if c == "<" else "&gt;" if c == ">" else "&amp;" if c == "&" else c

    return STAND_INS.sub(back, html_text)


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of non-blank lines: no inline construct crosses a blank line."""
    start = None
    for m in re.finditer(r"[^\n]*+\n?", text):  # line by line: a regex for the run rescans
        if m[0].strip():
            start = m.start() if start is None else start
        elif start is not None:
            yield start, m.start()
            start = None
    if start is not None:
        yield start, len(text)


def _fences(text: str, chars: list[str]) -> list[tuple[int, int]]:
    """Fence lines that open a code block nothing closes are made inert: Markdown looks for
    the closing fence of each one to the end of the text. So are fences whose info string
    has a quote (Markdown's ``hl_lines="..."`` search crosses lines), and every fence after
    MAX_CODE_BLOCKS blocks. Returns the (start, end) of the fenced blocks kept."""
    fences = [(m.start(), m[1], m[2]) for m in _FENCE.finditer(text)]
    # For each fence line, the index of the next line that closes it (its string, then spaces).
    next_close: list[int | None] = [None] * len(fences)
    last_closing: dict[str, int] = {}
    for index in range(len(fences) - 1, -1, -1):
        _, fence, rest = fences[index]
        next_close[index] = last_closing.get(fence)
        if not rest.strip(" "):
            last_closing[fence] = index
    blocks: list[tuple[int, int]] = []
    index = 0
    while index < len(fences):
        pos, _, rest = fences[index]
        close = next_close[index]
        if close is not None and not _QUOTES.intersection(rest) and len(blocks) < MAX_CODE_BLOCKS:
            blocks.append((pos, fences[close][0]))
            index = close + 1
            continue
        chars[pos] = _inert(text[pos])
        index += 1
    return blocks


def _links(text: str, chars: list[str], start: int, end: int, protected: set[int]) -> None:
    """``[`` that no ``]`` closes in the paragraph, or nested deeper than MAX_BRACKET_DEPTH,
    and ``](`` whose target does not close on its line within MAX_LINK_PAREN_DEPTH are inert."""
    stack: list[int] = []
    closes: list[int] = []  # ``]`` that closed a bracket, followed by ``(``
    i = start
    while i < end:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            if len(stack) >= MAX_BRACKET_DEPTH:
                chars[i] = _inert(c)
            else:
                stack.append(i)
        elif c == "]" and stack:
            stack.pop()
            if i + 1 < end and text[i + 1] == "(":
                closes.append(i + 1)
        i += 1
    for pos in stack:
        chars[pos] = _inert("[")
    if not closes:
        return
    matches = _paren_matches(text, start, end)
    for pos in closes:
        close = matches.get(pos)
        if close is not None and not _QUOTES.intersection(text[pos:close]):
            continue
        m = _STRICT_TARGET.match(text, pos, end)
        if m is not None:
            if text[m.start() + 1 : m.end()].lstrip().startswith("<"):
                protected.add(text.index("<", pos))
            continue
        chars[pos] = _inert("(")


def _paren_matches(text: str, start: int, end: int) -> dict[int, int]:
    """For each ``(`` in text[start:end] that a ``)`` on the same line closes with at most
    MAX_LINK_PAREN_DEPTH levels of nesting inside, the position of that ``)``."""
    found: dict[int, int] = {}
    stack: list[list[int]] = []  # [position, deepest nesting inside]
    for i in range(start, end):
        c = text[i]
        if c == "(":
            stack.append([i, 1])
        elif c == ")" and stack:
            pos, depth = stack.pop()
            if depth <= MAX_LINK_PAREN_DEPTH:
                found[pos] = i
            if stack:
                stack[-1][1] = max(stack[-1][1], depth + 1)
        elif c == "\n":
            stack.clear()
    return found


def _code_spans(text: str, chars: list[str], start: int, end: int) -> None:
    """A backtick run with no later run of the same length in the paragraph is inert (Markdown
    would look for its closing run to the end); a code span's content is left as it is."""
    runs = [(m.start(), m.end() - m.start()) for m in re.finditer(r"`++", text[start:end])]
    if not runs:
        return
    of_length: dict[int, list[int]] = {}  # run length -> indexes of the runs of that length
    for index, (_, length) in enumerate(runs):
        of_length.setdefault(length, []).append(index)
    passed: dict[int, int] = {}  # run length -> how many of its runs are behind us

    def step_over(index: int) -> None:
        length = runs[index][1]
        passed[length] = passed.get(length, 0) + 1

    index = 0
    while index < len(runs):
        pos, length = runs[index]
        step_over(index)
        at = start + pos
        opens = length
        if at > 0 and text[at - 1] == "\\":  # Markdown: an escaped first backtick opens nothing
            at, opens = at + 1, length - 1
        if opens == 0 or _fence_line(text, start + pos):
            index += 1
            continue
        same = of_length.get(opens, [])
        following = passed.get(opens, 0)
        if following < len(same):
            closing = same[following]
            for inside in range(index + 1, closing + 1):  # the span's content, and its end
                step_over(inside)
            index = closing + 1
            continue
        for k in range(at, start + pos + length):
            chars[k] = _inert("`")
        index += 1


def _fence_line(text: str, pos: int) -> bool:
    """True if a fence line starts at `pos` (fences are at the start of their line)."""
    return (pos == 0 or text[pos - 1] == "\n") and _FENCE.match(text, pos) is not None


def _emphasis(text: str, chars: list[str], start: int, end: int) -> None:
    """Runs of ``*``/``_`` longer than MAX_EMPHASIS_RUN are inert, except a line that is
    only the run (Markdown's horizontal rule)."""
    pattern = rf"[*_]{{{MAX_EMPHASIS_RUN + 1},}}+"
    for m in re.finditer(pattern, text[start:end]):
        a, b = start + m.start(), start + m.end()
        line_start = a
        while line_start > 0 and a - line_start < 3 and text[line_start - 1] == " ":
            line_start -= 1
        rest = b
        while rest < len(text) and text[rest] == " ":
            rest += 1
        alone = (line_start == 0 or text[line_start - 1] == "\n") and (
            rest == len(text) or text[rest] == "\n"
        )
        if alone and len(set(m[0])) == 1:
            continue  # ``****`` alone on its line: a rule
        for k in range(a, b):
            chars[k] = _inert(text[k])


def _angles(text: str, chars: list[str], protected: set[int]) -> None:
    """``<`` that starts no complete tag, comment or autolink is inert: Markdown's and the
    HTML parser's scans for the end of each would cover the rest of the text."""
    comment_end = -1  # where the next ``-->`` ends (searched once per comment, not per ``<``)
    skip_to = 0
    for m in re.finditer("<", text):
        i = m.start()
        if i < skip_to or i in protected:
            continue
        if text.startswith("<!--", i):
            if comment_end < i + 4:
                found = text.find("-->", i + 4)
                comment_end = len(text) + 10 if found < 0 else found + 3
            if comment_end <= len(text):
                skip_to = comment_end
                continue
        elif _TAG.match(text, i) or _AUTOLINK.match(text, i):
            continue
        chars[i] = _inert("<")
