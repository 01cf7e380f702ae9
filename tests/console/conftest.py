"""Console fixtures: an app on real mailcore objects, served for real, driven by a real Chromium.

    def test_x(console_env):                      # app + services + users, Maildir mailbox
        client = console_env.client("olivia")     # a test client logged in as the operator

    @pytest.mark.browser
    def test_y(page, login):                      # Chromium on the app served on 127.0.0.1
        login(page, "olivia")
        page.goto("/failed/")

Override `console_env` in a test module to serve another app (e.g. one on Dovecot).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from console import create_app
from console.demo import Office, build_registry
from console.services import Services
from console.testing import chromium, log_in, serve

# One account per role; passwords long enough for the accounts policy.
USERS = {
    "olivia": ("operator", "olivia-operator-pw"),
    "arthur": ("author", "arthur-author-pw"),
    "ada": ("admin", "ada-admin-password"),
}


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the page at `path` (from the meta tag every page carries)."""
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


@dataclass
class ConsoleEnv:
    app: Flask
    services: Services
    office: Office
    users: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(USERS))

    def client(self, username: str | None = None) -> FlaskClient:
        """A test client, logged in through the login form as `username` when given."""
        client = self.app.test_client()
        if username is not None:
            response = self.log_in(client, username)
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    def log_in(
        self, client: FlaskClient, username: str, password: str | None = None, **fields: str
    ) -> TestResponse:
        """POST the login form with its CSRF token (the password from USERS by default)."""
        data = {
            "username": username,
            "password": self.password(username) if password is None else password,
            "csrf_token": csrf_token(client, "/login"),
            **fields,
        }
        return client.post("/login", data=data)

    def add_user(self, username: str, role: str, email: str | None = None) -> FlaskClient:
        """Create an account beside the three of USERS; a client logged in as it."""
        password = f"{username}-{role}-pw"
        self.services.accounts.create(username, password, role, email=email, by="test")
        self.users[username] = (role, password)
        return self.client(username)

    def password(self, username: str) -> str:
        return self.users[username][1]


def make_services(mailbox: Any, db_path: Path, registry: Any = None) -> tuple[Services, Office]:
    """Engine, history and accounts on `mailbox` and a SQLite file, with the demo handlers."""
    from console.accounts import Accounts
    from mailcore.processing.engine import Engine
    from mailcore.store.history import History

    office = Office()
    registry = registry if registry is not None else build_registry(office)
    history = History(f"sqlite:///{db_path}")
    engine = Engine(mailbox, registry, history)
    accounts = Accounts(history.engine, history)
    templates = None
    try:
        from mailcore.store.template_store import TemplateStore

        templates = TemplateStore(history.engine, history)
    except ImportError:  # pragma: no cover - the store ships with mailcore
        pass
    svc = Services(None, mailbox, registry, history, engine, accounts, templates)
    return svc, office


@pytest.fixture
def app_factory(tmp_path: Path) -> Iterator[Callable[..., ConsoleEnv]]:
    """Factory: app_factory(mailbox=None, **flask_config) -> ConsoleEnv with the three users.

    Without a mailbox, a MaildirMailbox in tmp_path is used."""
    made: list[ConsoleEnv] = []

    def make(mailbox: Any = None, **config: Any) -> ConsoleEnv:
        if mailbox is None:
            from mailcore.mailboxes.maildir import MaildirMailbox

            mailbox = MaildirMailbox(tmp_path / f"mail{len(made)}")
        svc, office = make_services(mailbox, tmp_path / f"console{len(made)}.db")
        for name, (role, password) in USERS.items():
            svc.accounts.create(name, password, role, by="test")
        app = create_app(
            {"TESTING": True, "SECRET_KEY": "test-secret", "MAILCORE_SERVICES": svc, **config}
        )
        env = ConsoleEnv(app, svc, office)
        made.append(env)
        return env

    yield make
    for env in made:
        env.services.close()


@pytest.fixture
def console_env(app_factory: Callable[..., ConsoleEnv]) -> ConsoleEnv:
    """The console on a local Maildir; override in a module for another mailbox."""
    return app_factory()


@pytest.fixture
def demo_env(console_env: ConsoleEnv) -> ConsoleEnv:
    """The console with the demo mails polled once: the failing ones are in `failed`."""
    from console.demo import sample_mails

    for _name, raw in sample_mails():
        console_env.services.mailbox.append("INBOX", raw)
    console_env.services.engine.poll_once()
    return console_env


def failed_uid(env: ConsoleEnv, subject_part: str) -> int:
    """The UID in `failed` of the mail whose subject holds `subject_part`."""
    for item in env.services.engine.failed_page(1, 200).items:
        if subject_part in item.summary.subject:
            return item.summary.uid
    raise AssertionError(f"no failed mail about {subject_part!r}")


@pytest.fixture
def live_server(console_env: ConsoleEnv) -> Iterator[str]:
    """The console_env app served on 127.0.0.1 (free port) in a thread; yields its base URL."""
    with serve(console_env.app) as base:
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium per worker (Debian's /usr/bin/chromium)."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A fresh browser context (1280 px wide) whose relative URLs go to the live server."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture
def login(console_env: ConsoleEnv) -> Callable[..., None]:
    """login(page, username, password=None): log in through the form (password from USERS)."""

    def do(page: Any, username: str, password: str | None = None) -> None:
        log_in(page, username, password or console_env.password(username))

    return do
