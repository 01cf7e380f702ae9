"""`mailcore parse FILE.eml`: show what extraction finds in a message, as JSON."""

from __future__ import annotations

import json
import sys

import click

from mailcore.inbound.extract import extract


@click.command()
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False))
def parse(file: str) -> None:
    """Print the extraction of FILE (an .eml message; "-" reads stdin) as indented JSON."""
    if file == "-":
        raw = sys.stdin.buffer.read()
    else:
        try:
            with open(file, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from exc
    result = extract(raw)
    click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
