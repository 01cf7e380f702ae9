"""An admin finds a corrected message in the history, in a real Chromium."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import ConsoleEnv
from tests.console.test_history import seed_correction

pytestmark = pytest.mark.browser


def test_an_admin_finds_who_corrected_a_message_and_the_diff(
    page: Any, login: Callable[..., None], console_env: ConsoleEnv
) -> None:
    seed_correction(console_env, by="alice")
    login(page, "ada")
    page.goto("/history/")
    assert page.locator("figure.chart svg rect").count() >= 1

    # Filtering swaps only the results (htmx) and keeps the URL bookmarkable.
    page.fill("#sender", "carrosserie-petit")
    page.select_option("#status", "failed")
    page.wait_for_url(lambda url: "status=failed" in url and "sender=carrosserie-petit" in url)
    rows = page.locator("table.events tbody tr")
    # Retried until the swap lands: no other sender, no other status left in the table.
    expect(rows.locator("td.sender").filter(has_not_text="carrosserie-petit.fr")).to_have_count(0)
    expect(rows.locator(".status").filter(has_not_text="failed")).to_have_count(0)
    assert rows.count() >= 1

    rows.first.get_by_role("link", name="Timeline").click()
    page.wait_for_url("**/history/message/**")
    corrected = page.locator("li.step.kind-corrected")
    assert corrected.locator(".actor").inner_text() == "alice"
    changes = corrected.locator("table.changes")
    plate = changes.locator("tr", has=page.locator("code", has_text="plate_number"))
    assert plate.locator("td.before").inner_text() == "AB123CD"
    assert plate.locator("td.after").inner_text() == "AB-123-CD"
    corrected.get_by_text("Line diff of the payload").click()
    assert corrected.locator("pre.diff .diff-add", has_text='"category": "motorcycle"').is_visible()
    steps = page.locator("ol.timeline > li .step-head strong").all_inner_texts()
    assert steps.index("Failed") < steps.index("Corrected") < steps.index("Re-submitted")
