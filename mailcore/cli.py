"""The `mailcore` command line; each command lives in its own module and loads on use."""

from __future__ import annotations

import importlib
import logging

import click

# name -> "module:attribute"; loading lazily keeps `mailcore parse` from importing Flask.
COMMANDS = {
    "parse": "mailcore.commands.parse:parse",
    "poll": "mailcore.commands.poll:poll",
    "keys": "mailcore.commands.keys:keys",
    "oauth2": "mailcore.commands.oauth2:oauth2",
    "render": "mailcore.commands.render:render",
    "send": "mailcore.commands.send:send",
    "ingest": "mailcore.commands.ingest:ingest",
    "migrate": "mailcore.commands.migrate:migrate",
    "check": "mailcore.commands.check:check",
    "demo": "console.commands:demo",
    "serve": "console.commands:serve",
    "create-user": "console.commands:create_user",
    "token": "console.api_tokens:token",  # the API tokens (console.api_tokens)
}


class LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a MailcoreError it lets through (a setting missing, a mailbox
        unreachable) is its message and exit status 1, not a traceback."""
        from mailcore.errors import MailcoreError

        try:
            return super().invoke(ctx)
        except MailcoreError as exc:
            raise click.ClickException(str(exc)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def main(verbose: int) -> None:
    """mailcore: inbound extraction, processing, outbound composition, and the console."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
