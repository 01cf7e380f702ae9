"""`mailcore render TEMPLATE --data data.json`: the message a template makes, or one part."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from mailcore.outbound.templating import TEMPLATE_FILE_HELP, Problem, Template, parse_template_file

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


@click.command(epilog=TEMPLATE_FILE_HELP)
@template_argument
@data_option()
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

    tmpl, body_line = load_template(template)
    data = load_data(data_path)
    scheme = IdentScheme(domain=domain) if domain else DEFAULT_SCHEME
    result = preview(tmpl, data, to=list(to), resource_id=resource_id, sender=sender, scheme=scheme)
    for problem in result.problems:
        click.echo(describe(problem, template, body_line), err=True)
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
