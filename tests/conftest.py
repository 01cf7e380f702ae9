"""Shared fixtures: private Dovecot, tinyproxy, Dante and PostgreSQL servers, fresh accounts,
ImapMailbox, fresh databases.

Servers are session-scoped (one per xdist worker, on free ports); each test gets its own account
so nobody sees anybody else's mail, and its own database. `database_url` runs a test twice: on a
SQLite file and on PostgreSQL. Browser and SMTP fixtures live next to their tests
(tests/console/conftest.py and the compose tests), not here.

    def test_x(account, imap_mailbox):
        uid = account.append("INBOX", message(subject="hi"))   # raw APPEND, returns the UID
        assert imap_mailbox.uids("INBOX") == [uid]             # ImapMailbox on the same account

    def test_y(database_url):                                  # [sqlite] and [postgresql]
        history = History(database_url)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.servers import (
    DANTED,
    Account,
    Dante,
    Dovecot,
    Postgres,
    Tinyproxy,
    message,
    postgres_bin_dir,
    start_dante,
    start_dovecot,
    start_postgres,
    start_tinyproxy,
)

if TYPE_CHECKING:
    from mailcore.mailboxes.imap import ImapConfig, ImapMailbox

__all__ = ["message"]  # re-exported for convenience: `from tests.conftest import message` works too


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A private Dovecot: .host, .port (IMAP + STARTTLS), .imaps_port, .ca_file, .new_user()."""
    server = start_dovecot()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tinyproxy(dovecot: Dovecot) -> Iterator[Tinyproxy]:
    """A private HTTP CONNECT proxy (.url) allowed to reach both Dovecot ports."""
    proxy = start_tinyproxy([dovecot.port, dovecot.imaps_port])
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="session")
def dante() -> Iterator[Dante]:
    """A private SOCKS5 proxy (.url), allowed to reach loopback; skips without dante-server."""
    if not os.access(DANTED, os.X_OK):
        pytest.skip("dante-server is not installed (make system installs it)")
    proxy = start_dante()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A private PostgreSQL cluster: .create_database() -> URL, .url(db), .log(); skips only
    when the server is not installed (Debian package postgresql; make system installs it)."""
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (make system installs it)")
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres: Postgres) -> Iterator[str]:
    """postgresql+psycopg://... whose sessions see only a fresh, empty schema of their own
    (dropped after the test); postgres.create_database() when a test needs a whole database."""
    url = postgres.create_schema()
    yield url
    postgres.drop_schema(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database's URL: a SQLite file, then (second run) a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mailcore.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def account(dovecot: Dovecot) -> Account:
    """A fresh, empty IMAP account: .username, .password, .append(folder, raw), .session()."""
    return dovecot.new_user()


def imap_config(dovecot: Dovecot, account: Account, **overrides: Any) -> ImapConfig:
    """An ImapConfig for `account`: plain IMAP by default; security="tls" uses the IMAPS port
    and trusts the test certificate, "starttls" upgrades the plain port."""
    from mailcore.mailboxes.imap import ImapConfig

    security = overrides.pop("security", "plain")
    port = dovecot.imaps_port if security == "tls" else dovecot.port
    settings: dict[str, Any] = {
        "host": dovecot.host,
        "port": port,
        "security": security,
        "username": account.username,
        "password": account.password,
        "ca_file": dovecot.ca_file,
        "timeout": 10.0,
    }
    settings.update(overrides)
    return ImapConfig(**settings)


@pytest.fixture
def make_imap_mailbox(dovecot: Dovecot) -> Iterator[Callable[..., ImapMailbox]]:
    """Factory: make_imap_mailbox(account=None, **ImapConfig overrides) -> connected ImapMailbox
    (a fresh account unless one is given); every mailbox made is closed after the test."""
    from mailcore.mailboxes.imap import ImapMailbox

    made: list[ImapMailbox] = []

    def make(account: Account | None = None, **overrides: Any) -> ImapMailbox:
        mailbox = ImapMailbox(imap_config(dovecot, account or dovecot.new_user(), **overrides))
        made.append(mailbox)
        return mailbox

    yield make
    for mailbox in made:
        mailbox.close()


@pytest.fixture
def imap_mailbox(account: Account, make_imap_mailbox: Callable[..., ImapMailbox]) -> ImapMailbox:
    """An ImapMailbox (plain IMAP) logged in to the `account` fixture's fresh account."""
    return make_imap_mailbox(account)
