"""`mailcore demo`, `mailcore serve` and `mailcore create-user` (the click commands; `serve`
lives in console.serving, the parts they share in console.poller, console.server,
console.first_run and console.demo_setup, re-exported here for the code that imports them
from this module)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from console.demo_setup import DEMO_PASSWORD_FILE, DemoEnv, echo_demo, prepare_demo
from console.first_run import (
    DEMO_DATA,
    admin_email,
    database_label,
    ensure_admin,
    mailcore_command,
    user_database,
)
from console.poller import Poller
from console.server import (
    SERVER_THREADS,
    SERVER_TIMEOUT,
    check_port,
    make_console_server,
    serve_app,
)
from console.serving import serve

__all__ = [
    "DEMO_DATA",
    "DEMO_PASSWORD_FILE",
    "SERVER_THREADS",
    "SERVER_TIMEOUT",
    "DemoEnv",
    "Poller",
    "admin_email",
    "check_port",
    "create_user",
    "database_label",
    "demo",
    "ensure_admin",
    "mailcore_command",
    "make_console_server",
    "prepare_demo",
    "serve",
    "user_database",
]


@click.command()
@click.option("--data", "data_dir", default="demo-data", show_default=True, type=click.Path())
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--reset", is_flag=True, help="Start again from the sample mails.")
@click.option("--poll-interval", default=10.0, show_default=True, help="Seconds between polls.")
def demo(data_dir: str, host: str, port: int, reset: bool, poll_interval: float) -> None:
    """The console on a local demo mailbox seeded with sample mails; no server needed."""
    from console import create_app

    check_port(host, port, f"run `make run PORT={port + 1}` (or `mailcore demo --port {port + 1}`)")
    demo_env = prepare_demo(Path(data_dir), reset=reset)
    svc = demo_env.services
    svc.poller = Poller(svc.engine, poll_interval).start()
    app = create_app({"SECRET_KEY": demo_env.secret_key, "MAILCORE_SERVICES": svc})
    url = f"http://{host}:{port}/"
    echo_demo(demo_env, url, poll_interval, data_dir)
    try:
        serve_app(app, host, port)
    finally:
        svc.close()


@click.command("create-user")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(["operator", "author", "admin"]),
    default="operator",
    show_default=True,
)
@click.option("--email", default=None)
@click.option("--config", "config_path", type=click.Path(exists=True), help="TOML settings file.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False),
    help="The demo's directory (`make run`'s: demo-data): its database. Default: the settings"
    " (--config, MAILCORE_CONFIG, MAILCORE_DATABASE_URL), else ./demo-data when it exists.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(
    username: str,
    role: str,
    email: str | None,
    config_path: str | None,
    data_dir: str | None,
    password_stdin: bool,
) -> None:
    """Create a console user in the database `mailcore serve` (or `make run`) uses; says
    which (the password is asked for, never passed as an argument)."""
    from console.accounts import AccountError, Accounts
    from mailcore import History
    from mailcore.errors import ConfigError

    try:
        database_url = user_database(config_path, data_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Database: {database_label(database_url)}")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    history = History(database_url)
    try:
        user = Accounts(history.engine, history).create(
            username, password, role, email=email, by="cli"
        )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        history.close()
    click.echo(f"created {user.role} {user.username!r} in {database_label(database_url)}")
