"""The console served on 127.0.0.1 and driven by the system Chromium.

Shared by the browser tests (tests/console/conftest.py) and the screenshot scripts, so both
start the server and the browser the same way. Playwright is a development dependency: it is
imported only when a browser is asked for.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.serving import make_server

if TYPE_CHECKING:
    from flask import Flask

    from console.services import Services

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own browser builds are not used
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (a Playwright Browser), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Any, username: str, password: str, base: str = "") -> None:
    """Log in through the login form and wait until the console lets the page in."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


@contextmanager
def demo_console(
    username: str, role: str, seed: Callable[[Services], None] | None = None
) -> Iterator[tuple[str, str]]:
    """A throw-away demo (the mails of `make run`) served on 127.0.0.1, with one account.

    Yields (base URL, password of `username`); `seed` may add data before serving.
    """
    from console import create_app
    from console.commands import prepare_demo

    with tempfile.TemporaryDirectory() as tmp:
        demo = prepare_demo(Path(tmp) / "demo-data")
        try:
            if seed is not None:
                seed(demo.services)
            password = secrets.token_urlsafe(12)
            demo.services.accounts.create(username, password, role, by="screenshots")
            app = create_app({"SECRET_KEY": demo.secret_key, "MAILCORE_SERVICES": demo.services})
            with serve(app) as base:
                yield base, password
        finally:
            demo.services.close()
