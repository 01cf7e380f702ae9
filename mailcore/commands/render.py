"""`mailcore render TEMPLATE --data data.json`: the message a template makes, or one part."""

from __future__ import annotations

import glob
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from mailcore.outbound.templating import (
    TEMPLATE_FILE_HELP,
    Problem,
    Template,
    language_tag,
    parse_template_file,
)

F = TypeVar("F", bound=Callable[..., Any])
PARTS = ("message", "html", "text", "json", "subject")
EXISTING_FILE = click.Path(exists=True, dir_okay=False)

# The arguments every template command takes (`render`, `send`).
template_argument = click.argument("template", type=EXISTING_FILE)


def data_option(*, required: bool = False) -> Callable[[F], F]:
    """--data FILE: the JSON object a template is rendered with."""
    return click.option(
        "--data",
        "data_path",
        type=click.Path(allow_dash=True, dir_okay=False),
        required=required,
        help="JSON object with the values ('-' for stdin).",
    )


def id_option(**kwargs: Any) -> Callable[[F], F]:
    """--id: the resource the mail is about."""
    return click.option(
        "--id",
        "resource_id",
        help="Resource identifier (in Reply-To, subject tag and Message-IDs).",
        **kwargs,
    )


LANGUAGES_HELP = """Other languages: a file NAME.<language>.md beside NAME.md (e.g. ready.fr.md
beside ready.md, the same format) is the template in that language. The recipient reads the
one in --lang when given (e.g. the partner's language), else the one the data's `language`
(or `lang`, `locale`) field names; fr-CA falls back to fr, and a language without its file
gets NAME.md."""


def lang_option() -> Callable[[F], F]:
    """--lang: the recipient's language, over the data's."""
    return click.option(
        "--lang",
        "lang",
        help="The recipient's language (fr, pt-br...): picks TEMPLATE's variant in it,"
        " over the data's `language` field.",
    )


@dataclass(frozen=True)
class ChosenTemplate:
    """The variant a recipient reads, and where its text is (for problems' file lines)."""

    template: Template
    path: str
    body_line: int


def variant_files(path: str) -> dict[str, Path]:
    """The language variants beside template `path`: language tag -> NAME.<tag>.<suffix>."""
    default = Path(path)
    found: dict[str, Path] = {}
    prefix = default.stem + "."
    for sibling in sorted(default.parent.glob(f"{glob.escape(prefix)}*{default.suffix}")):
        middle = sibling.name[len(prefix) : len(sibling.name) - len(default.suffix)]
        tag = language_tag(middle)
        if tag is not None and tag == middle.lower() and sibling != default:
            found[tag] = sibling
    return found


def choose_template(path: str, data: dict[str, Any], lang: str | None) -> ChosenTemplate:
    """The variant of template `path` for a recipient: `lang` when given, else the data's
    language, else the default (ClickException for an unreadable file or a bad --lang)."""
    if lang is not None and language_tag(lang) is None:
        raise click.BadParameter(
            f"{lang!r} is not a language tag: use one such as fr, de or pt-br", param_hint="--lang"
        )
    default = _loaded(path)
    variants = {tag: _loaded(str(file)) for tag, file in variant_files(path).items()}
    template = default.template
    template.variants = {t: (v.template.subject, v.template.body) for t, v in variants.items()}
    chosen = template.for_data(data, lang)
    wanted = language_tag(lang)
    if wanted and not chosen.language:
        click.echo(
            f"{path}: no {wanted} variant ({Path(path).stem}.{wanted}{Path(path).suffix}):"
            " the default is used",
            err=True,
        )
    where = variants[chosen.language] if chosen.language else default
    return ChosenTemplate(chosen, where.path, where.body_line)


def _loaded(path: str) -> ChosenTemplate:
    template, body_line = load_template(path)
    return ChosenTemplate(template, path, body_line)


def load_template(path: str) -> tuple[Template, int]:
    """The template in a file, and the file line where its body starts (ClickException)."""
    from mailcore.errors import TemplateError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read template {path}: {exc}") from exc
    try:
        return parse_template_file(text, Path(path).stem)
    except TemplateError as exc:
        raise click.ClickException(f"{path}: {exc}") from exc


def load_data(path: str | None) -> dict[str, Any]:
    """The JSON object in a file ("-": stdin); {} without a file (ClickException)."""
    if path is None:
        return {}
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"cannot read data {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise click.ClickException(
            f"data {path} must hold a JSON object, not {type(data).__name__}"
        )
    return data


def describe(problem: Problem, path: str, body_line: int) -> str:
    """`file:line: kind: message`, with body lines counted from the top of the file."""
    if problem.line is None:
        where = path
    elif problem.source == "subject":
        where = f"{path}:1"
    else:
        where = f"{path}:{problem.line + body_line - 1}"
    return f"{where}: {problem.kind}: {problem.message}"


@click.command(epilog=TEMPLATE_FILE_HELP + "\n\n" + LANGUAGES_HELP)
@template_argument
@data_option()
@lang_option()
@click.option(
    "--part",
    type=click.Choice(PARTS),
    default="message",
    show_default=True,
    help="Print only this part (html: the full page as a browser shows it).",
)
@click.option("--to", "to", multiple=True, default=("partner@example.com",), show_default=True)
@id_option(default="preview", show_default=True)
@click.option("--from", "sender", default="mailcore <noreply@example.com>", show_default=True)
@click.option("--domain", default=None, help="Domain of reply addresses and Message-IDs.")
def render(
    template: str,
    data_path: str | None,
    lang: str | None,
    part: str,
    to: tuple[str, ...],
    resource_id: str,
    sender: str,
    domain: str | None,
) -> None:
    """Render TEMPLATE with --data and print the message (or --part).

    Problems (undefined placeholders, syntax errors, refused constructs, removed markup) go
    to stderr as FILE:LINE: KIND: MESSAGE; the exit status is 1 when the template cannot be
    rendered, 0 otherwise (removed markup is only a warning).
    """
    from mailcore.ident import DEFAULT_SCHEME, IdentScheme
    from mailcore.outbound.compose import preview

    data = load_data(data_path)
    chosen = choose_template(template, data, lang)
    scheme = IdentScheme(domain=domain) if domain else DEFAULT_SCHEME
    result = preview(
        chosen.template, data, to=list(to), resource_id=resource_id, sender=sender, scheme=scheme
    )
    for problem in result.problems:
        click.echo(describe(problem, chosen.path, chosen.body_line), err=True)
    if not result.ok:
        sys.exit(1)
    output = {
        "message": result.mime,
        "html": result.html,
        "text": result.text,
        "json": result.json,
        "subject": result.subject,
    }[part]
    click.echo(output, nl=not output.endswith("\n"))
