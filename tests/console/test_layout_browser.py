"""The console's pages at 1280 px (side by side) and on a 768 px tablet (stacked)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from console.demo import sample_mails
from tests.console.conftest import ConsoleEnv

pytestmark = pytest.mark.browser


@pytest.fixture
def console_env(app_factory: Callable[..., ConsoleEnv]) -> ConsoleEnv:
    env = app_factory()
    for _name, raw in sample_mails():
        env.services.mailbox.append("INBOX", raw)
    env.services.engine.poll_once()
    return env


def boxes(page: Any) -> tuple[dict[str, float], dict[str, float]]:
    original = page.locator("section.original").bounding_box()
    understood = page.locator("section.understood").bounding_box()
    return original, understood


def test_side_by_side_on_desktop_and_stacked_on_tablet(
    page: Any, login: Callable[..., None], console_env: ConsoleEnv
) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, "olivia")
    page.goto("/failed/")
    page.locator("table.failed td.subject a").first.click()
    page.wait_for_selector("section.understood")
    original, understood = boxes(page)
    assert understood["x"] > original["x"] + original["width"] - 1  # beside each other
    assert abs(understood["y"] - original["y"]) < 2

    page.set_viewport_size({"width": 768, "height": 1024})
    original, understood = boxes(page)
    assert understood["y"] >= original["y"] + original["height"]  # stacked
    assert original["width"] <= 768 and understood["width"] <= 768
    page.goto("/failed/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 768  # no sideways scroll
    # No CSP violation or script error on the way (htmx runs under the strict policy).
    assert errors == []


def test_every_failed_mail_fits_a_phone(
    page: Any, login: Callable[..., None], console_env: ConsoleEnv
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, "olivia")
    page.goto("/failed/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    links = page.locator("table.failed td.subject a")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs
    for href in hrefs:
        page.goto(href)
        page.wait_for_selector("section.understood")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (href, width)  # no sideways scroll on any detail page
