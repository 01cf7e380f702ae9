"""`mailcore migrate`: bring the configured database's schema up to this mailcore's
(`mailcore.store.migrations`); `--check` only says whether it is."""

from __future__ import annotations

import click
import sqlalchemy as sa

from mailcore.config import Settings
from mailcore.errors import ConfigError
from mailcore.store import migrations


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings.")
@click.option("--check", is_flag=True, help="Change nothing: exit 1 when the schema is behind.")
def migrate(config_path: str | None, check: bool) -> None:
    """Apply the schema migrations the database lacks (run it after upgrading mailcore)."""
    settings = Settings.load(config_path)
    engine = _engine(settings.database_url)
    label = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            found = migrations.state(conn)
        if check:
            click.echo(f"database {label}: {found.describe()}")
            if not found.is_current:
                raise SystemExit(1)
            return
        if found.is_current:
            click.echo(f"database {label}: {found.describe()}; nothing to do")
            return
        before = migrations.upgrade(engine)
        if before.is_current:  # another process upgraded it while this one waited
            click.echo(f"database {label}: {before.describe()}; nothing to do")
            return
        click.echo(f"database {label}: upgraded from {before.current or 'none'} to {found.head}")
    except sa.exc.OperationalError as exc:
        raise ConfigError(f"cannot reach database {label}: {exc.orig}") from None
    finally:
        engine.dispose()


def _engine(url: str) -> sa.Engine:
    """An engine on `url` that does not itself check the schema (that is this command's job)."""
    from mailcore.store.db import engine_for

    return engine_for(url)
