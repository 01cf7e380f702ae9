"""What keeps a template from being saved: the store's `Problem`, `TemplateHasErrors`, and the
checks -- the name, subject and sample data themselves (`field_problems`, `text_problems`),
then a render on the sample data (`check_template`), stricter than sending.

(`mailcore.outbound.template_problems.Problem` is the renderer's own; `as_problem` turns one
into the store's, which adds the placeholder's name and the sources "sample data" and "name".)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mailcore.errors import TemplateError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Problem:
    """One reason a template cannot be saved; `line` is 1-based in `source` when known."""

    line: int | None
    message: str
    kind: str  # "syntax" | "undefined" | "unsafe" | "refused" | "data"
    name: str | None = None  # the placeholder, for "undefined"
    source: str = "body"  # "subject" | "body" | "sample data" | "name"


class TemplateHasErrors(TemplateError):
    """Saving was refused: `problems` says what to fix, each with its line when known."""

    def __init__(self, name: str, problems: Sequence[Problem]) -> None:
        first = problems[0]
        undefined = [p.name for p in problems if p.kind == "undefined" and p.name]
        where = f" (line {first.line})" if first.line else ""
        more = f", and {len(problems) - 1} more" if len(problems) > 1 else ""
        super().__init__(
            f"template {name!r} not saved: {first.message}{where}{more}",
            line=first.line,
            names=undefined,
        )
        self.problems = list(problems)


Checker = Callable[[str, str, str, Mapping[str, Any]], list[Problem]]


def check_template(name: str, subject: str, body: str, data: Mapping[str, Any]) -> list[Problem]:
    """Everything that would keep this template from rendering cleanly on `data`.

    Stricter than sending: markup the sanitizer would remove ("unsafe") is an error here, so
    what is stored is exactly what partners receive.
    """
    # Imported here: templating pulls in Markdown and bleach, which the store's readers
    # (history page, version list) never need.
    from mailcore.outbound.templating import Template, render_all

    result = render_all(Template(name=name, subject=subject, body=body), dict(data))
    return [as_problem(p) for p in result.problems]


def as_problem(found: Any) -> Problem:
    """A store Problem from a templating or compose problem (line, message, kind, source)."""
    kind = str(found.kind)
    name = placeholder_name(found.message) if kind == "undefined" else None
    return Problem(found.line, str(found.message), kind, name, getattr(found, "source", "body"))


def placeholder_name(message: str) -> str | None:
    """The name in a message such as "undefined placeholder {{ owner.name }}"."""
    found = re.search(r"\{\{\s*([^\s}]+)\s*\}\}|['\"`]([A-Za-z_][\w.]*)['\"`]", message)
    return (found.group(1) or found.group(2)) if found else None


def field_problems(name: str, subject: str, sample_data: Any) -> list[Problem]:
    """Problems of the name, subject and sample data themselves, before any rendering."""
    found: list[Problem] = []
    if not NAME_RE.match(name):
        found.append(
            Problem(
                None,
                "the name must be 1-64 lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit",
                "refused",
                source="name",
            )
        )
    if not subject.strip():
        found.append(Problem(None, "the subject is empty", "refused", source="subject"))
    if not isinstance(sample_data, Mapping):
        found.append(
            Problem(None, "sample data must be a JSON object", "data", source="sample data")
        )
    return found


def text_problems(subject: str, body: str) -> list[Problem]:
    """A NUL character in the subject or body: PostgreSQL cannot store it, nobody means it."""
    found: list[Problem] = []
    for source, text in (("subject", subject), ("body", body)):
        if "\x00" in text:
            line = text.count("\n", 0, text.index("\x00")) + 1
            found.append(Problem(line, "contains a NUL character", "refused", source=source))
    return found
