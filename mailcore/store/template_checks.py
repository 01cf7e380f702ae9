"""What keeps a template from being saved: `TemplateHasErrors`, and the checks -- the name,
subject and sample data themselves (`field_problems`, `text_problems`), then a render on the
sample data (`check_template`), stricter than sending. Each reason is a `Problem`, the same type
the renderer reports (mailcore.outbound.template_problems).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from mailcore.errors import TemplateError
from mailcore.outbound.template_problems import Problem, ProblemKind

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class TemplateHasErrors(TemplateError):
    """Saving was refused: `problems` says what to fix, each with its line when known."""

    def __init__(self, name: str, problems: Sequence[Problem]) -> None:
        first = problems[0]
        undefined = [p.name for p in problems if p.kind == ProblemKind.UNDEFINED and p.name]
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
    return list(result.problems)


def field_problems(name: str, subject: str, sample_data: Any) -> list[Problem]:
    """Problems of the name, subject and sample data themselves, before any rendering."""
    found: list[Problem] = []
    if not NAME_RE.match(name):
        found.append(
            Problem(
                None,
                "the name must be 1-64 lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit",
                ProblemKind.REFUSED,
                source="name",
            )
        )
    if not subject.strip():
        found.append(Problem(None, "the subject is empty", ProblemKind.REFUSED, source="subject"))
    if not isinstance(sample_data, Mapping):
        found.append(
            Problem(
                None, "sample data must be a JSON object", ProblemKind.DATA, source="sample data"
            )
        )
    return found


def text_problems(subject: str, body: str) -> list[Problem]:
    """A NUL character in the subject or body: PostgreSQL cannot store it, nobody means it."""
    found: list[Problem] = []
    for source, text in (("subject", subject), ("body", body)):
        if "\x00" in text:
            line = text.count("\n", 0, text.index("\x00")) + 1
            found.append(
                Problem(line, "contains a NUL character", ProblemKind.REFUSED, source=source)
            )
    return found


MAX_VARIANTS = 30  # languages per template: more is a mistake, not a translation


def variant_problems(
    name: str,
    variants: Mapping[str, tuple[str, str]],
    sample_data: Mapping[str, Any],
    checker: Checker,
) -> list[Problem]:
    """Problems of each language's subject and body (source "fr subject", "fr body"), and
    of the language tags themselves (source "languages")."""
    from mailcore.outbound.templating import language_tag

    found: list[Problem] = []
    if len(variants) > MAX_VARIANTS:
        message = f"{len(variants)} languages: at most {MAX_VARIANTS}"
        return [Problem(None, message, ProblemKind.REFUSED, source="languages")]
    for tag, (subject, body) in variants.items():
        if language_tag(tag) != tag:
            message = f"{tag[:20]!r} is not a language tag such as fr or pt-br"
            found.append(Problem(None, message, ProblemKind.REFUSED, source="languages"))
            continue
        own = field_problems(name, subject, sample_data)
        own = [p for p in own if p.source == "subject"] + text_problems(subject, body)
        if not own:
            own = checker(name, subject, body, sample_data)
        found += [replace(p, source=f"{tag} {p.source}") for p in own]
    return found
