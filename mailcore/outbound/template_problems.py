"""What can be wrong with a template, and how each problem is found and reported.

- `Problem`: one thing wrong, with its kind (`ProblemKind`), its 1-based line in its source
  ("subject", "body"; the store adds "sample data" and "name") and, for an undefined
  placeholder, its name. The template store reports the reasons it refuses a save with it too.
- `collected_problems`: the refused constructs and undefined placeholders a render collected.
- `removal_problems`: what the sanitizer removed from the body, each with its source line.
- `error_line`: the template line of an exception raised while rendering.
- `error_from`: one `TemplateError` listing every fatal problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType

from mailcore.errors import TemplateError

MAX_REPORTED_REMOVALS = 50  # removals listed one by one; the rest are counted in one line


class ProblemKind(StrEnum):
    """What kind of thing is wrong with a template (the editor styles each its own way)."""

    SYNTAX = "syntax"
    UNDEFINED = "undefined"  # a placeholder the data does not have
    UNSAFE = "unsafe"  # markup or a link the sanitizer removed: not fatal
    REFUSED = "refused"  # a construct or an amount of work the sandbox refuses
    DATA = "data"  # the sample data, not the template


@dataclass(frozen=True)
class Problem:
    """Something wrong with a template. `line` is 1-based in `source`; `name` is the
    placeholder of an UNDEFINED problem."""

    line: int | None
    message: str
    kind: str  # a ProblemKind
    source: str = "body"  # "subject" | "body" | "sample data" | "name"
    name: str | None = None


def error_line(exc: BaseException) -> int | None:
    """The template line of an exception raised while rendering (Jinja rewrites tracebacks)."""
    line = None
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


Found = Mapping[tuple[str, str], int | None]  # (source, what) -> line


def collected_problems(refused: Found, undefined: Found) -> list[Problem]:
    """The refusals, then the undefined placeholders (the subject's first, by line)."""
    problems = [
        Problem(line, f"refused: {hint}", ProblemKind.REFUSED, where)
        for (where, hint), line in refused.items()
    ]
    by_line = sorted(undefined.items(), key=lambda kv: (kv[0][0] != "subject", kv[1] or 0))
    for (where, name), line in by_line:
        message = f"undefined placeholder {{{{ {name} }}}}"
        problems.append(Problem(line, message, ProblemKind.UNDEFINED, where, name))
    return problems


def _source_line(lowered: str, needle: str) -> int | None:
    """The line of `needle`'s first occurrence in the (lower-cased) source."""
    index = lowered.find(needle.lower())
    return None if index < 0 else lowered.count("\n", 0, index) + 1


_NEEDLE = re.compile(r"<(\w+)>|^'([^']+)' attribute|unsafe link '([^']+?)…?'")


def removal_problems(body: str, removals: list[str]) -> list[Problem]:
    """An "unsafe" problem for each of the first MAX_REPORTED_REMOVALS removals, at the line of
    the body where what was removed is first written, and one line counting the rest."""
    problems: list[Problem] = []
    lowered = body.lower()
    for message in removals[:MAX_REPORTED_REMOVALS]:
        m = _NEEDLE.search(message)
        needle = next((g for g in m.groups() if g), "") if m else ""
        if m and m[1]:
            needle = f"<{needle}"
        line = _source_line(lowered, needle) if needle else None
        problems.append(Problem(line, message, ProblemKind.UNSAFE))
    if len(removals) > MAX_REPORTED_REMOVALS:
        more = len(removals) - MAX_REPORTED_REMOVALS
        problems.append(Problem(None, f"and {more:,} more removals", ProblemKind.UNSAFE))
    return problems


def error_from(problems: list[Problem]) -> TemplateError:
    """One TemplateError for fatal problems: all listed, undefined names in `names`."""
    names = [p.name for p in problems if p.kind == ProblemKind.UNDEFINED and p.name]
    first = next((p for p in problems if p.kind != ProblemKind.UNDEFINED), problems[0])
    parts = [
        f"{p.source} line {p.line}: {p.message}" if p.line else f"{p.source}: {p.message}"
        for p in problems
    ]
    return TemplateError("; ".join(parts), line=first.line, names=names)
