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

    # Filtering swaps only the results (htmx) and keeps the URL bookmarkable; one row per
    # message, in its current state (the mail failed, then was corrected: processed).
    page.fill("#sender", "carrosserie-petit")
    page.select_option("#status", "processed")
    page.wait_for_url(lambda url: "status=processed" in url and "sender=carrosserie-petit" in url)
    rows = page.locator("table.messages tbody.message")
    expect(rows).to_have_count(1)
    expect(rows.locator("td.sender")).to_contain_text("contact@carrosserie-petit.fr")
    # Its events on expand, oldest first; the full timeline from there.
    rows.locator("details summary").click()
    events = rows.locator(".events-of ol li")
    expect(events.filter(has_text="Corrected")).to_have_count(1)
    titles = events.locator("strong").all_inner_texts()
    assert titles.index("Failed") < titles.index("Corrected") < titles.index("Handled")
    rows.get_by_role("link", name="Full timeline").click()
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
