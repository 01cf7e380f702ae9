"""The French console in a real Chromium: from the browser's language, and from the user's
own choice, which then wins over the browser's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from console.testing import log_in
from tests.console.conftest import ConsoleEnv

pytestmark = pytest.mark.browser


@pytest.fixture
def french_page(browser: Any, live_server: str) -> Iterator[Any]:
    """A page of a browser whose language is French, on the live console."""
    context = browser.new_context(base_url=live_server, locale="fr-FR")
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_french_browser_gets_the_french_console(
    french_page: Any, console_env: ConsoleEnv
) -> None:
    page = french_page
    page.goto("/login")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.fill("#username", "olivia")
    page.fill("#password", console_env.password("olivia"))
    page.get_by_role("button", name="Connexion").click()
    page.get_by_role("link", name="Courrier", exact=True).wait_for()
    assert page.get_by_role("button", name="Se déconnecter").is_visible()


def test_a_user_who_chooses_french_keeps_it_whatever_the_browser(
    page: Any, login: Callable[..., None], console_env: ConsoleEnv
) -> None:
    login(page, "arthur")  # the page fixture's browser speaks English
    page.goto("/templates/")
    assert page.get_by_role("heading", name="Templates").is_visible()
    page.get_by_role("button", name="Français").click()
    page.get_by_role("heading", name="Modèles").wait_for()
    assert page.url.endswith("/templates/")  # back where the choice was made
    page.goto("/templates/new?name=ready")
    assert page.get_by_text("Autres langues").is_visible()
    assert page.locator("button[aria-current=true]").inner_text() == "Français"
    page.get_by_role("button", name="(navigateur)").click()
    page.get_by_role("heading", name="New template").wait_for()  # the browser's English again
    assert page.get_by_role("button", name="(browser)").count() == 0  # nothing to undo now


def test_a_throttled_login_is_refused_in_french(french_page: Any, console_env: ConsoleEnv) -> None:
    page = french_page
    page.goto("/login")
    for attempt in range(5):  # the default policy locks an account after 5 failures
        page.fill("#username", "olivia")
        page.fill("#password", f"not-her-password-{attempt}")
        page.get_by_role("button", name="Connexion").click()
        page.locator("#password").wait_for()
    error = page.locator("#password-error").inner_text()  # beside the field it is about
    assert error == (
        "Trop de tentatives échouées pour ce compte depuis votre adresse réseau ;"
        " réessayez dans 1 minute."
    )
    assert "try again" not in page.content()


def test_re_run_selected_counts_and_reports_in_french(
    french_page: Any, demo_env: ConsoleEnv
) -> None:
    page = french_page
    log_in(page, "olivia", demo_env.password("olivia"))
    page.goto("/failed/")
    button = page.locator("#bulk-rerun")
    assert button.inner_text() == "Relancer la sélection" and button.is_disabled()
    page.locator("input[name=uid]").first.check()
    page.wait_for_function(
        "document.getElementById('bulk-rerun').textContent === 'Relancer la sélection (1)'"
    )
    page.locator("input[name=uid]").nth(1).check()
    assert button.inner_text() == "Relancer la sélection (2)"
    button.click()
    flash = page.locator(".flash").first
    flash.wait_for()
    assert flash.inner_text().startswith("Relance de 2 messages : ")
    assert "toujours en échec" in flash.inner_text()
