"""`mailcore check`: read the configuration, connect to each mailbox and to the SMTP server,
look at the database, and print what was found, with a fix for each problem
(mailcore.commands.checks). Exit 1 on any problem (`--strict`: on any warning too)."""

from __future__ import annotations

import click

from mailcore.commands.checks import (
    Finding,
    Level,
    database_findings,
    mailbox_findings,
    smtp_findings,
    token_findings,
)
from mailcore.config import Settings
from mailcore.errors import ConfigError


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def check(config_path: str | None, strict: bool) -> None:
    """Check the settings, each mailbox, the SMTP server and the database, changing nothing."""
    try:
        settings = Settings.load(config_path)
    except ConfigError as exc:
        click.echo(Finding(Level.FAIL, "settings", str(exc), "correct the settings").line())
        raise SystemExit(1) from None
    click.echo(f"settings: {settings.source or 'the environment (MAILCORE_*)'}")
    findings: list[Finding] = []
    for mailbox in settings.all_mailboxes():
        findings += _shown(mailbox_findings(mailbox))
    findings += _shown(smtp_findings(settings))
    findings += _shown(database_findings(settings))
    findings += _shown(token_findings(settings))
    failing = {Level.FAIL, Level.WARN} if strict else {Level.FAIL}
    problems = sum(f.level in failing for f in findings)
    if problems:
        click.echo(f"{problems} problem(s)")
        raise SystemExit(1)
    click.echo("no problem found")


def _shown(findings: list[Finding]) -> list[Finding]:
    for finding in findings:
        click.echo(finding.line())
    return findings
