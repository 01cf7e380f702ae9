"""The template editor in a real Chromium: live preview while typing, refusal to save."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.console.conftest import ConsoleEnv

pytestmark = pytest.mark.browser


def open_new_template(page: Any, login: Callable[..., None]) -> None:
    login(page, "arthur")
    page.goto("/templates/new?handler=vehicle_registration&name=registered")
    page.fill("#subject", "Vehicle {{ plate_number }} registered")
    page.fill("#body", "")


def test_typing_updates_the_html_and_text_previews(page: Any, login: Callable[..., None]) -> None:
    open_new_template(page, login)
    # Typed key by key: the preview is triggered by keyup, as for a person typing.
    page.locator("#body").press_sequentially("Dear {{ owner }}, plate **{{ plate_number }}** ok.")

    frame = page.frame_locator("iframe.mail-frame.desktop")
    # The sample plate comes from the schema's description; ** became <strong>.
    frame.locator("strong", has_text="AB-123-CD").wait_for()
    assert "plate AB-123-CD ok." in frame.locator("body").inner_text()

    page.click("label[for=tab-text]")
    text = page.locator("#preview-text")
    assert text.is_visible()
    assert "plate **AB-123-CD** ok." in text.inner_text()
    assert page.locator(".preview-status .ok").inner_text() == "Renders cleanly: ready to save."
    # The tab chosen survives the next preview refresh (the radios are outside the swap).
    page.locator("#body").press_sequentially(" Bye.")
    page.locator("#preview-text", has_text="ok. Bye.").wait_for()
    assert page.locator("#preview-text").is_visible()

    page.click("label[for=tab-mobile]")  # the textarea's blur refreshes the preview again
    mobile = page.locator("iframe.mail-frame.mobile")
    mobile.wait_for(state="visible")
    assert mobile.evaluate("e => e.getBoundingClientRect().width") <= 400
    assert page.locator("iframe.mail-frame.desktop").get_attribute("sandbox") == ""


def test_a_template_with_an_undefined_placeholder_cannot_be_saved(
    page: Any, login: Callable[..., None], console_env: ConsoleEnv
) -> None:
    open_new_template(page, login)
    page.locator("#body").press_sequentially("Your file: {{ file_number }}")

    beside_body = page.locator("#problems-body")
    beside_body.get_by_text("undefined placeholder {{ file_number }}").wait_for()
    assert "Line 1" in beside_body.inner_text()

    page.click("#save")
    page.locator(".refused").wait_for()
    refused = page.locator(".refused").inner_text()
    assert "Not saved." in refused
    assert "Body line 1: undefined placeholder {{ file_number }}" in refused
    assert console_env.services.templates.versions("registered") == []
    # What the author typed is still there to fix.
    assert "{{ file_number }}" in page.locator("#body").input_value()


def border_color(page: Any, selector: str) -> str:
    return str(page.locator(selector).evaluate("e => getComputedStyle(e).borderTopColor"))


def test_fixing_a_template_error_clears_its_red_border_at_once(
    page: Any, login: Callable[..., None]
) -> None:
    open_new_template(page, login)
    normal = border_color(page, "#body")
    page.locator("#body").press_sequentially("Your file: {{ file_number }}")
    page.locator("#problems-body .error").wait_for()
    red = border_color(page, "#body")
    assert red != normal  # the body is marked while its problem is listed
    page.locator("#body").press("Control+a")
    page.locator("#body").press_sequentially("Your vehicle: {{ plate_number }}")
    page.locator(".preview-status .ok").wait_for()
    assert page.locator("#problems-body .error").count() == 0
    assert border_color(page, "#body") == normal
    # The same for the subject, which a new template no longer opens with empty.
    page.fill("#subject", "")
    page.locator("#subject").press("Space")
    page.locator("#problems-subject .error").wait_for()
    assert border_color(page, "#subject") == red
    page.locator("#subject").press_sequentially("Ready")
    page.locator(".preview-status .ok").wait_for()
    assert border_color(page, "#subject") == normal


def test_a_template_is_previewed_in_two_languages(page: Any, login: Callable[..., None]) -> None:
    open_new_template(page, login)
    page.locator("#body").press_sequentially("Dear {{ owner }}, your car is registered.")
    page.fill("#new-language", "fr")
    page.click("#add-language")
    page.locator("#variant-subject-fr").wait_for()
    page.fill("#variant-subject-fr", "")
    page.locator("#variant-subject-fr").press_sequentially("Véhicule {{ plate_number }} prêt")
    page.fill("#variant-body-fr", "")
    page.locator("#variant-body-fr").press_sequentially("Bonjour {{ owner }}, c'est prêt.")
    page.select_option("#preview-language", "fr")
    page.locator("#preview-shown", has_text="fr").wait_for()
    page.locator("#preview-subject", has_text="Véhicule AB-123-CD prêt").wait_for()
    frame = page.frame_locator("iframe.mail-frame.desktop")
    frame.locator("body", has_text="c'est prêt").wait_for()
    assert frame.locator("html").get_attribute("lang") == "fr"
    page.select_option("#preview-language", "default")
    page.locator("#preview-subject", has_text="Vehicle AB-123-CD registered").wait_for()
    frame.locator("body", has_text="your car is registered").wait_for()
    page.click("#save")
    page.locator(".flash-success").wait_for()
    assert page.locator("#variant-subject-fr").input_value() == "Véhicule {{ plate_number }} prêt"
