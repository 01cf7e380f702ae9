"""The body's HTML: Markdown of the author's text (values are markers), reduced to the allowlist
of `mailcore.outbound.sanitize`, then the values put back, HTML-escaped (URLs checked).

The Markdown+cleaning of a marked body is cached by its text (`markdown_html`), so a preview
on every keystroke and bulk sending of one template are both cheap.
"""

from __future__ import annotations

import bisect
import html as _html
import re
import threading
from collections.abc import Sequence
from functools import lru_cache

import markdown

from mailcore.outbound import markdown_limits, sanitize
from mailcore.outbound.template_markers import MARK, OPEN, fill_text
from mailcore.outbound.template_problems import Problem, ProblemKind

MARKDOWN_EXTENSIONS = ("tables", "fenced_code", "sane_lists")


class _Converters(threading.local):
    def __init__(self) -> None:
        self.md = markdown.Markdown(
            extensions=list(MARKDOWN_EXTENSIONS),
            extension_configs={"tables": {"use_align_attribute": True}},
            output_format="html",
        )


_converters = _Converters()


@lru_cache(maxsize=1024)
def markdown_html(marked: str) -> tuple[str, tuple[str, ...]]:
    """Markdown of the author's text (values are markers) to allowlisted HTML, and removals."""
    md = _converters.md
    md.reset()
    converted = md.convert(markdown_limits.markdown_input(marked))
    cleaned, removed = sanitize.clean_html(markdown_limits.restore_markdown_output(converted))
    return cleaned, tuple(removed)


# In clean HTML (bleach's serializer) every attribute is name="value" or name='value', and
# text holds no "<": a tag is everything from "<" to the next ">", and scanning it attribute
# by attribute never starts inside a value (the old one-regex scan was quadratic on a long
# word or run of spaces).
_TAG_WITH_VALUE = re.compile(f"<[^<>{OPEN}]*+{OPEN}[^<>]*+>")
_ATTR = re.compile(r"""(\s++)([^\s=<>/"']++)=(?:"([^"]*+)"|'([^']*+)')""")
_PRE = re.compile(r"<pre\b.*?(?:</pre>|\Z)", re.DOTALL | re.IGNORECASE)


def fill_html(
    marked_html: str,
    values: Sequence[str],
    value_lines: Sequence[int | None],
    problems: list[Problem],
) -> str:
    """Put the values back into clean HTML: escaped, and URLs checked (an unsafe link is
    removed, and reported in `problems` at the line of its value)."""

    def attribute(m: re.Match[str]) -> str:
        space, name, raw = m[1], m[2], m[3] if m[3] is not None else m[4]
        if OPEN not in raw:
            return m[0]
        value = fill_text(_html.unescape(raw), values)
        if name.lower() in sanitize.URL_ATTRIBUTES and not sanitize.is_safe_url(value):
            first = MARK.search(raw)
            line = value_lines[int(first[1])] if first else None
            problems.append(
                Problem(line, f"unsafe link {value[:40]!r} removed", ProblemKind.UNSAFE)
            )
            return ""
        return f'{space}{name}="{sanitize.escape(value)}"'

    filled = _TAG_WITH_VALUE.sub(lambda t: _ATTR.sub(attribute, t[0]), marked_html)
    pre_starts, pre_ends = [], []
    for m in _PRE.finditer(filled):
        pre_starts.append(m.start())
        pre_ends.append(m.end())

    def in_pre(pos: int) -> bool:
        index = bisect.bisect_right(pre_starts, pos) - 1
        return index >= 0 and pos < pre_ends[index]

    def text(m: re.Match[str]) -> str:
        escaped = sanitize.escape(values[int(m[1])])
        if "\n" in escaped and not in_pre(m.start()):
            escaped = escaped.replace("\n", "<br>\n")
        return escaped

    return MARK.sub(text, filled)
