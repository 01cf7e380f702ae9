"""User-written mail templates: a subject and a Markdown body with ``{{ placeholders }}``.

Rendering runs in Jinja's immutable sandbox: attribute tricks such as
``{{ ''.__class__.__mro__ }}`` or ``{{ cycler.__init__.__globals__ }}`` are refused, huge
``*``/``**`` results and over-long output are refused too, and so is a render doing more than
`MAX_LOOP_ITERATIONS` loop steps (plus one per item of the data, so walking the data always
fits): nested ``range()`` loops that print nothing would otherwise hold a worker for hours.
Every undefined placeholder is collected (with its dotted path and line) instead of stopping
at the first one.

Values never become markup: each ``{{ ... }}`` output is replaced by an inert marker while the
template runs, Markdown and the HTML allowlist of `mailcore.outbound.sanitize` apply to the author's
text only, and the values are put back afterwards -- HTML-escaped in the HTML (URLs checked
against the allowed protocols), verbatim in the text part. Macro output inserted with
``{{ macro() }}`` is a value like any other, so it is shown as text, not as Markdown.

Compiled templates and the Markdown+cleaning of a rendered body are cached by source, so a
preview on every keystroke and bulk sending of one template are both cheap.

This module holds the template, rendering and template files; the parts it puts together are
`template_sandbox` (the environment and the loop budget), `template_markers` (the values as
markers), `template_html` (Markdown to clean HTML, values put back), `template_problems`
(`Problem` and how problems are reported) and `template_limits` (what a render may build).
Their names that were imported from here still are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.exceptions import SecurityError

from mailcore.errors import TemplateError
from mailcore.outbound import markdown_limits, sanitize
from mailcore.outbound import template_limits as limits
from mailcore.outbound.template_html import MARKDOWN_EXTENSIONS, fill_html, markdown_html
from mailcore.outbound.template_markers import MARK, OPEN, clean_value, fill_text, markdown_size
from mailcore.outbound.template_problems import (
    MAX_REPORTED_REMOVALS,
    Problem,
    ProblemKind,
    collected_problems,
    error_from,
    error_line,
    removal_problems,
)
from mailcore.outbound.template_sandbox import (
    MAX_LOOP_ITERATIONS,
    MAX_OUTPUT,
    STATE,
    RenderState,
    compile_template,
    wrap_data,
)

# Names imported from this module before its parts had modules of their own.
__all__ = [
    "MARKDOWN_EXTENSIONS",
    "MAX_LOOP_ITERATIONS",
    "MAX_OUTPUT",
    "LANGUAGE_TAG",
    "MAX_REPORTED_REMOVALS",
    "TEMPLATE_FILE_HELP",
    "Problem",
    "ProblemKind",
    "RenderResult",
    "Rendered",
    "Template",
    "check",
    "error_from",
    "language_tag",
    "parse_template_file",
    "recipient_language",
    "render",
    "render_all",
]
_compile = compile_template  # the cache the benchmarks and tests clear and inspect
_markdown_html = markdown_html


# A language tag as templates name their variants: "fr", "pt-br" (lowercase, '-' separated).
LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})?$")
# Where a recipient's language is looked for in the data, in this order.
LANGUAGE_FIELDS = ("language", "lang", "locale")


def language_tag(value: object) -> str | None:
    """`value` as a language tag ("fr_FR" and "FR-fr" give "fr-fr"), None when it is none."""
    if not isinstance(value, str) or len(value) > 20:
        return None
    tag = value.strip().replace("_", "-").lower()
    return tag if LANGUAGE_TAG.match(tag) else None


def recipient_language(data: Mapping[str, Any]) -> str | None:
    """The recipient's language the data states (its `language`, `lang` or `locale` field)."""
    for key in LANGUAGE_FIELDS:
        tag = language_tag(data.get(key))
        if tag is not None:
            return tag
    return None


@dataclass
class Template:
    """A user-editable template: the subject and the Markdown body both take placeholders.

    `variants` holds the same message in other languages (tag -> (subject, body));
    `for_data` picks the one a recipient reads. `language` is the language of this
    subject and body when known ("": the template's default).
    """

    name: str
    subject: str
    body: str
    variants: dict[str, tuple[str, str]] = field(default_factory=dict)
    language: str = ""

    def for_language(self, language: str | None) -> Template:
        """The variant in `language` ("fr-ca" falls back to "fr"), else this default."""
        tag = language_tag(language)
        for candidate in (tag, tag.split("-")[0] if tag else None):
            if candidate and candidate in self.variants:
                subject, body = self.variants[candidate]
                return Template(self.name, subject, body, language=candidate)
        return Template(self.name, self.subject, self.body, language=self.language)

    def for_data(self, data: Mapping[str, Any], language: str | None = None) -> Template:
        """The variant for a recipient: `language` (e.g. the partner's configured one) when
        given, else the one the data states, else the default."""
        return self.for_language(language_tag(language) or recipient_language(data))


@dataclass
class Rendered:
    """A rendered template: `markdown` is the text part, `html` the sanitized body fragment."""

    subject: str
    markdown: str
    html: str
    problems: list[Problem] = field(default_factory=list)  # only "unsafe" ones


@dataclass
class RenderResult:
    """Everything rendering produced, problems included; what `preview` builds on."""

    subject: str
    markdown: str
    html: str
    problems: list[Problem]

    @property
    def fatal(self) -> list[Problem]:
        return [p for p in self.problems if p.kind != ProblemKind.UNSAFE]


# --- rendering ------------------------------------------------------------------------------


def _run(source: str, data: Mapping[str, Any], where: str, problems: list[Problem]) -> str | None:
    """Render one template source to marked text; None when it could not run."""
    try:
        tmpl = compile_template(source)
    except TemplateSyntaxError as exc:
        problems.append(
            Problem(exc.lineno, f"syntax error: {exc.message}", ProblemKind.SYNTAX, where)
        )
        return None
    state = STATE.get()
    work = state.work if state is not None else limits.current()
    out: list[str] = []
    try:
        for chunk in tmpl.generate(data):
            work.charge(len(chunk), "the template's output")
            if state is not None:
                # A value's marker is not output: `_finalize` counted the value itself.
                state.add_output(len(chunk) if OPEN not in chunk else len(MARK.sub("", chunk)))
            out.append(chunk)
    except (SecurityError, OverflowError) as exc:  # OverflowError: the sandbox's range() limit
        problems.append(Problem(error_line(exc), f"refused: {exc}", ProblemKind.REFUSED, where))
        return None
    except Exception as exc:  # noqa: BLE001 -- any runtime error is the template's fault
        message = f"cannot render: {type(exc).__name__}: {exc}"
        problems.append(Problem(error_line(exc), message, ProblemKind.SYNTAX, where))
        return None
    return "".join(out)


def render_all(template: Template, data: Mapping[str, Any]) -> RenderResult:
    """Render subject, text and HTML; never raises, every problem is in the result."""
    problems: list[Problem] = []
    state = RenderState()
    token = STATE.set(state)
    budget_token = limits.CURRENT.set(state.work)
    try:
        wrapped = wrap_data({k: clean_value(v) for k, v in data.items()}, "", state)
        state.where = "subject"
        subject_marked = _run(template.subject, wrapped, "subject", problems)
        state.where = "body"
        body_marked = _run(template.body, wrapped, "body", problems)
    finally:
        limits.CURRENT.reset(budget_token)
        STATE.reset(token)
    problems += collected_problems(state.refused, state.undefined)

    subject = " ".join(fill_text(subject_marked or "", state.values).split())
    text, html = "", ""
    if body_marked is not None and markdown_size(body_marked) > markdown_limits.MAX_MARKDOWN_CHARS:
        message = (
            f"refused: the body is {markdown_size(body_marked):,} characters once rendered, over"
            f" the {markdown_limits.MAX_MARKDOWN_CHARS:,} Markdown formats (MAX_MARKDOWN_CHARS);"
            " write less text (a value counts as one character)"
        )
        problems.append(Problem(None, message, ProblemKind.REFUSED))
        body_marked = None
    if body_marked is not None:
        plain, removed_text = sanitize.strip_markup(body_marked)
        text = fill_text(plain, state.values)
        marked_html, removed = markdown_html(body_marked)
        problems += removal_problems(template.body, sanitize.dedupe([*removed, *removed_text]))
        html = fill_html(marked_html, state.values, state.value_lines, problems)
    return RenderResult(subject, text, html, problems)


def render(template: Template, data: Mapping[str, Any]) -> Rendered:
    """Render a template; raises TemplateError naming every undefined placeholder, or the
    syntax error / refused construct with its line."""
    result = render_all(template, data)
    fatal = result.fatal
    if fatal:
        raise error_from(fatal)
    return Rendered(result.subject, result.markdown, result.html, result.problems)


def check(template: Template) -> list[Problem]:
    """Syntax problems of a template, without data (for saving a template)."""
    problems: list[Problem] = []
    for where, source in (("subject", template.subject), ("body", template.body)):
        try:
            compile_template(source)  # syntax only
        except TemplateSyntaxError as exc:
            problems.append(
                Problem(exc.lineno, f"syntax error: {exc.message}", ProblemKind.SYNTAX, where)
            )
    return problems


# --- template files -------------------------------------------------------------------------

TEMPLATE_FILE_HELP = """A template file looks like a short e-mail: a Subject line,
a blank line, then the Markdown body:

\b
    Subject: Vehicle {{ plate }} is ready

\b
    Dear {{ owner.name }},
    your vehicle **{{ plate }}** is ready.

Only the `Subject:` header is known (case-insensitive); the body is Markdown with
{{ placeholders }}. A file without a Subject line is all body, with an empty subject."""


def parse_template_file(text: str, name: str) -> tuple[Template, int]:
    """A Template from a template file's text, and the file line where the body starts.

    Raises TemplateError for an unknown header (probably a body missing its blank line).
    """
    lines = text.splitlines(keepends=True)
    if not lines or not re.match(r"(?i)subject\s*:", lines[0]):
        return Template(name, "", text), 1
    subject = ""
    for index, line in enumerate(lines):
        stripped = line.rstrip("\r\n")
        if not stripped.strip():
            return Template(name, subject, "".join(lines[index + 1 :])), index + 2
        if line[:1] in (" ", "\t"):  # folded subject
            subject += " " + stripped.strip()
            continue
        key, sep, value = stripped.partition(":")
        if not sep or key.strip().lower() != "subject":
            raise TemplateError(
                f"line {index + 1}: unknown header {key.strip()!r}; a template file starts with"
                " 'Subject: ...' and a blank line before the body",
                line=index + 1,
            )
        subject = value.strip()
    return Template(name, subject, ""), len(lines) + 1
