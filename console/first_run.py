"""What the console commands share: the first admin, which database an account command
writes to and how to name it, and how to run mailcore again."""

from __future__ import annotations

import os
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any


def mailcore_command() -> str:
    """How to run mailcore again from this shell (it may not be on PATH, e.g. after
    `make run`): the script this process was started as."""
    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).name == "mailcore":
        return shlex.quote(argv0)
    beside = Path(sys.executable).parent / "mailcore"
    return shlex.quote(str(beside)) if beside.exists() else "mailcore"


def ensure_admin(accounts: Any, username: str = "admin", email: str | None = None) -> str | None:
    """Create the first admin when there is no account, with `email` (so "Send a test"
    works for it); returns its password (shown once)."""
    if accounts.count() > 0:
        return None
    password = secrets.token_urlsafe(12)
    accounts.create(username, password, "admin", email=email, by="first-run")
    return password


def admin_email(settings: Any) -> str:
    """The first admin's e-mail address: $MAILCORE_ADMIN_EMAIL, else the configured sender's
    address, else this user's on this machine (user@localhost)."""
    import getpass
    from email.utils import parseaddr

    from mailcore import configured_sender

    chosen = os.environ.get("MAILCORE_ADMIN_EMAIL", "").strip()
    if chosen:
        return chosen
    sender = parseaddr(configured_sender(settings) or "")[1]
    if "@" in sender:
        return sender
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        user = "admin"
    return f"{user}@localhost"


def database_label(url: str) -> str:
    """A database URL as the commands name it: the file of a SQLite one, else the URL
    without its password."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return str(Path(parsed.database).resolve())
    return parsed.render_as_string(hide_password=True)


def write_private(path: Path, text: str) -> None:
    """Create `path` as 0600 from the start (a chmod after writing leaves a window)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


DEMO_DATA = "demo-data"  # `mailcore demo`'s (and so `make run`'s) default directory


def user_database(config_path: str | None, data_dir: str | None) -> str:
    """The database an account command writes to: the demo's under `data_dir` when given;
    else the settings' when any say where (a file, MAILCORE_CONFIG, MAILCORE_DATABASE_URL);
    else the demo's in ./demo-data when there is one; else the settings' default."""
    from mailcore import Settings
    from mailcore.errors import ConfigError

    if data_dir is not None:
        database = Path(data_dir) / "mailcore.db"
        if not database.exists():
            raise ConfigError(f"no demo database in {data_dir}: run `make run` first")
        return f"sqlite:///{database.resolve()}"
    settings = Settings.load(config_path)
    configured = config_path or os.environ.get("MAILCORE_CONFIG")
    demo = Path(DEMO_DATA) / "mailcore.db"
    if not configured and not os.environ.get("MAILCORE_DATABASE_URL") and demo.exists():
        return f"sqlite:///{demo.resolve()}"
    return str(settings.database_url)
