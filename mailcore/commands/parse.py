"""`mailcore parse FILE.eml`: show what extraction finds in a message, as JSON."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from mailcore.inbound.extract import extract

# Exit codes: 0 a payload was found; these otherwise (click's own usage errors are 2).
EXIT_NO_PAYLOAD = 1
EXIT_NOT_A_MESSAGE = 3
# Headers of which a message has at least one; a file with none is not an e-mail.
_MESSAGE_HEADERS = ("from", "to", "subject", "date", "message_id")


@click.command(
    epilog=f"Exit status: 0 when a payload was found, {EXIT_NO_PAYLOAD} when the message holds "
    f"none, {EXIT_NOT_A_MESSAGE} when FILE is not an e-mail message (no From, To, Subject, "
    "Date or Message-ID header)."
)
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
    found = extract(raw).to_json()
    if not is_message(found):
        click.echo(
            f"{file} is not an e-mail message (no From, To, Subject, Date or Message-ID "
            'header): nothing extracted. Save the mail as .eml ("Show original" or '
            '"View source" in most mail programs) and try again.',
            err=True,
        )
        sys.exit(EXIT_NOT_A_MESSAGE)
    click.echo(json.dumps(found, indent=2, ensure_ascii=False))
    if not found.get("payload"):
        click.echo("no payload found in this message", err=True)
        sys.exit(EXIT_NO_PAYLOAD)


def is_message(found: dict[str, Any]) -> bool:
    """Whether an extraction's headers show an e-mail message rather than any text file."""
    headers = found.get("headers") or {}
    return any(headers.get(name) for name in _MESSAGE_HEADERS)
