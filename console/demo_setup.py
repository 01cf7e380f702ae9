"""The demo's data directory: seeded once, polled, with a first admin whose password is
kept there; and what `mailcore demo` says at start-up."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from console.first_run import admin_email, ensure_admin, mailcore_command, write_private

DEMO_PASSWORD_FILE = "admin-password"  # under the demo's directory, mode 0600


@dataclass
class DemoEnv:
    root: Path
    settings: Any
    services: Any
    secret_key: str
    counts: dict[str, int]  # first poll: status -> number of messages
    password: str | None  # the first-run admin's password, None when accounts existed
    remembered: str | None = None  # the first-run password kept for later runs (demo only)


def prepare_demo(root: Path, *, reset: bool = False) -> DemoEnv:
    """Seed the demo mailbox under `root` (once), poll it, and ensure an admin exists."""
    from console.demo import Office, build_registry, sample_mails
    from console.services import build_services
    from mailcore import Settings

    root = root.resolve()
    if reset and root.exists():
        shutil.rmtree(root)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Mail, the database (password hashes) and the session key: the demo's user only, also
    # for a demo-data/ made by an older version with the umask's modes.
    root.chmod(0o700)
    key_file = root / "secret_key"
    if not key_file.exists():
        write_private(key_file, secrets.token_hex(32))
    settings = Settings(
        maildir=str(root / "mail"), database_url=f"sqlite:///{root / 'mailcore.db'}"
    )
    svc = build_services(settings, registry=build_registry(Office(root / "office.json")))
    seeded = root / ".seeded"
    if not seeded.exists():
        svc.mailbox.ensure_folder(settings.folders.inbox)
        for _name, raw in sample_mails():
            svc.mailbox.append(settings.folders.inbox, raw)
        seeded.touch(mode=0o600)
    counts: dict[str, int] = {}
    for outcome in svc.engine.poll_once():
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    password = ensure_admin(svc.accounts, email=admin_email(settings))
    # A demo is local and its directory the user's only: keep the first-run password there
    # so that every `make run` can say how to log in again.
    remembered_file = root / DEMO_PASSWORD_FILE
    if password is not None:
        remembered_file.unlink(missing_ok=True)
        write_private(remembered_file, password)
    remembered = (
        remembered_file.read_text(encoding="utf-8").strip() if remembered_file.exists() else None
    )
    secret = key_file.read_text(encoding="utf-8").strip()
    return DemoEnv(root, settings, svc, secret, counts, password, remembered)


def echo_demo(demo_env: DemoEnv, url: str, poll_interval: float, data_dir: str) -> None:
    """What a newcomer needs at every `make run`: where things are, how to log in, how to
    start again."""
    root, counts = demo_env.root, demo_env.counts
    database = root / "mailcore.db"
    click.echo(f"mailcore demo: mailbox {demo_env.settings.maildir}, database {database}")
    if counts:
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        click.echo(f"poll: {summary}")
    click.echo("")
    if demo_env.password:
        click.echo("  First run: an admin account was created.")
    if demo_env.remembered:
        click.echo(f"  Log in as:\n    username: admin\n    password: {demo_env.remembered}")
        click.echo(f"  (kept in {root / DEMO_PASSWORD_FILE}; wrong if it was changed since)")
    else:
        click.echo("  Log in with your console account (the first-run admin password is gone).")
    command = mailcore_command()
    click.echo(f"  More users: the Admin page, or {command} create-user --data {data_dir} NAME")
    click.echo(
        "  Start again from the sample mails (new admin password): make run RESET=1"
        f" (or {command} demo --reset)"
    )
    click.echo(f"\n  Console: {url}\n  The demo mailbox is polled every {poll_interval:g} s.\n")
