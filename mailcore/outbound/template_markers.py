"""The markers that stand for values while a template's own text is formatted.

Each ``{{ ... }}`` output is replaced by ``OPEN <index> CLOSE`` (private-use code points) while
the template runs, so Markdown and the HTML allowlist apply to the author's text only; the
values are put back afterwards. The marker characters are removed from templates and values
beforehand (`FORGED`, `FORGED_SOURCE`, `clean_value`) so nobody can forge one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# Private-use code points stand for values while Markdown and cleaning run; they are
# removed from templates and values beforehand so nobody can forge one.
OPEN, CLOSE = "\ue000", "\ue001"
MARK = re.compile(f"{OPEN}(\\d+){CLOSE}")
FORGED = re.compile(f"[{OPEN}{CLOSE}]")
# A template's text also loses the stand-ins of `markdown_limits.markdown_input` (values keep
# them: they are markers while Markdown runs, and put back after the stand-ins are restored).
FORGED_SOURCE = re.compile(f"[{OPEN}{CLOSE}\ue100-\ue17f]")


def clean_value(value: Any) -> Any:
    """Data without marker characters, strings inside mappings and lists included."""
    if isinstance(value, str):
        return FORGED.sub("", value)
    if isinstance(value, Mapping):
        return {k: clean_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_value(v) for v in value]
    return value


def fill_text(marked: str, values: Sequence[str]) -> str:
    """Marked text with each marker replaced by its value, verbatim (the text part)."""
    return MARK.sub(lambda m: values[int(m[1])], marked)


def markdown_size(marked: str) -> int:
    """What MAX_MARKDOWN_CHARS measures: the author's text, each value counting as one."""
    return len(marked) - sum(len(m[0]) - 1 for m in MARK.finditer(marked))
