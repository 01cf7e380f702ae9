"""The French console in a real Chromium: from the browser's language, and from the user's
own choice, which then wins over the browser's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.console.conftest import ConsoleEnv

pytestmark = pytest.mark.browser


def test_a_french_browser_gets_the_french_console(
    browser: Any, live_server: str, console_env: ConsoleEnv
) -> None:
    context = browser.new_context(base_url=live_server, locale="fr-FR")
    try:
        page = context.new_page()
        page.goto("/login")
        assert page.locator("html").get_attribute("lang") == "fr"
        page.fill("#username", "olivia")
        page.fill("#password", console_env.password("olivia"))
        page.get_by_role("button", name="Connexion").click()
        page.get_by_role("link", name="Courrier", exact=True).wait_for()
        assert page.get_by_role("button", name="Se déconnecter").is_visible()
    finally:
        context.close()


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
