"""`mailcore keys import|list|remove`: the certificates and OpenPGP keys of the key store.

    mailcore keys import partner.pem               # a partner's certificate (or their CA's)
    mailcore keys import ops.pem                   # ours: certificate and private key in one file
    mailcore keys import partner.asc [--untrusted] # an OpenPGP key (--armor export)
    mailcore keys list
    mailcore keys remove 3F2A9C1B                  # 8 or more digits of the fingerprint

Private keys are stored encrypted with $MAILCORE_SECRET_KEY and never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailcore.config import Settings
from mailcore.errors import MailcoreError

if TYPE_CHECKING:
    from mailcore.store.keys import StoredKey

CONFIG = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings."
)


@click.group()
def keys() -> None:
    """Certificates and keys that verify, decrypt, sign and encrypt mail."""


@keys.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--untrusted", is_flag=True, help="Only encrypt to it; its signatures are not trusted."
)
@CONFIG
def import_(path: str, untrusted: bool, config_path: str | None) -> None:
    """Import a PEM certificate (with its private key, for ours) or an armored OpenPGP key."""
    from mailcore.security.keyinfo import read_keys
    from mailcore.security.service import key_store

    try:
        store = key_store(Settings.load(config_path))
        for key in read_keys(Path(path).read_bytes(), trusted=not untrusted):
            stored = store.add(key, "cli")
            click.echo(f"imported {line(stored)}")
    except MailcoreError as exc:
        raise click.ClickException(str(exc)) from exc


@keys.command("list")
@CONFIG
def list_(config_path: str | None) -> None:
    """Every key: scheme, fingerprint, who, addresses, expiry, trust, private key or not."""
    from mailcore.security.service import key_store

    try:
        found = key_store(Settings.load(config_path)).list()
    except MailcoreError as exc:
        raise click.ClickException(str(exc)) from exc
    for key in found:
        click.echo(line(key))
    if not found:
        click.echo("no keys (mailcore keys import FILE)", err=True)


@keys.command("remove")
@click.argument("fingerprint")
@CONFIG
def remove(fingerprint: str, config_path: str | None) -> None:
    """Remove the key of FINGERPRINT (8 or more of its digits)."""
    from mailcore.security.service import key_store

    try:
        gone = key_store(Settings.load(config_path)).remove(fingerprint)
    except MailcoreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"removed {line(gone)}")


def line(key: StoredKey) -> str:
    """One key on one line (never its private part)."""
    expiry = key.expires.date().isoformat() if key.expires else "never"
    flags = [
        "trusted" if key.trusted else "untrusted",
        "EXPIRED" if key.expired() else f"expires {expiry}",
    ]
    if key.has_secret:
        flags.append("private key")
    emails = ", ".join(key.emails) or "-"
    return f"{key.scheme} {key.fingerprint} {key.label} <{emails}> ({'; '.join(flags)})"
