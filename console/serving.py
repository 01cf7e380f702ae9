"""`mailcore serve`: the console on the configured mailbox and database, on waitress in
`--workers` processes of `--threads` threads (console.production), or on werkzeug's
development server with `--dev`."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from typing import Any

import click

from console.first_run import admin_email, database_label, ensure_admin
from console.poller import Poller
from console.production import ServerOptions, listening_socket, run_workers
from console.server import check_port, serve_app

log = logging.getLogger(__name__)


@click.command()
@click.option("--config", "config_path", type=click.Path(exists=True), help="TOML settings file.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--poll/--no-poll",
    default=False,
    show_default=True,
    help="Also poll the mailbox in a background thread (else run `mailcore poll` separately).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes serving the console.",
)
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Request threads in each process.",
)
@click.option("--dev", is_flag=True, help="werkzeug's development server (one process).")
def serve(
    config_path: str | None, host: str, port: int, poll: bool, workers: int, threads: int, dev: bool
) -> None:
    """The console on the configured mailbox and database (MAILCORE_* settings)."""
    from console import create_app
    from console.services import build_services
    from mailcore import Settings
    from mailcore.errors import ConfigError

    check_port(host, port, f"pass another one, e.g. --port {port + 1}")
    if workers > 1 and not hasattr(os, "fork"):
        raise click.ClickException("--workers above 1 needs fork (Linux, macOS): use --threads")
    try:
        settings = Settings.load(config_path)
        svc = build_services(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    overrides: dict[str, Any] = {"MAILCORE_SETTINGS": settings, "SECRET_KEY": _secret(settings)}
    password = ensure_admin(svc.accounts, email=admin_email(settings))
    click.echo(f"Database: {database_label(settings.database_url)}")
    if password:
        click.echo(f"First run: created user 'admin' with password {password} (shown only now).")
    if dev:
        if poll:
            svc.poller = Poller(svc.polling, settings.poll_interval).start()
        click.echo(f"Console: http://{host}:{port}/ (development server)")
        try:
            serve_app(create_app({**overrides, "MAILCORE_SERVICES": svc}), host, port)
        finally:
            svc.close()
        return
    # One process serves with these services; several build their own after the fork, and
    # nothing of this process (connections, threads) may live on in them.
    spare = [svc] if workers == 1 else _quiesce(svc)

    def make_app(index: int) -> tuple[Any, Callable[[], None]]:
        worker = spare.pop() if spare else build_services(settings)
        if poll and index == 0:
            worker.poller = Poller(worker.polling, settings.poll_interval).start()
            click.echo(f"worker 0 (pid {os.getpid()}) polls every {settings.poll_interval:g} s")
        return create_app({**overrides, "MAILCORE_SERVICES": worker}), worker.close

    options = ServerOptions(workers=workers, threads=threads)
    sock = listening_socket(host, port)
    click.echo(f"Console: http://{host}:{port}/ ({workers} worker(s) x {threads} threads)")
    try:
        if not run_workers(make_app, sock, options):
            raise click.ClickException("the workers keep failing as they start: see the log")
    finally:
        sock.close()


def _quiesce(svc: Any) -> list[Any]:
    """Close `svc` before the fork: its mailbox, its events-out thread, its connections."""
    svc.close()
    deliverer = getattr(getattr(svc.history, "outbox", None), "deliverer", None)
    if deliverer is not None:
        deliverer.stop()
    svc.history.engine.dispose()
    return []


def _secret(settings: Any) -> str:
    """The key sessions are signed with: every worker must share it."""
    key = settings.section("console").get("secret_key") or os.environ.get("MAILCORE_SECRET_KEY")
    if key:
        return str(key)
    log.warning("MAILCORE_SECRET_KEY is not set: sessions end when the server restarts")
    return secrets.token_hex(32)
