"""The operator's dead ends of the demo, as a person gets out of them, in a real Chromium: the
unknown identifier attached to the right file, a VIN fixed by its description, a reject found
and undone, the Reason filter followed as one types; and no htmx syntax error on any page."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import ConsoleEnv

pytestmark = pytest.mark.browser


@pytest.fixture
def console_env(demo_env: ConsoleEnv) -> ConsoleEnv:
    """The live server serves the demo, its mails polled once."""
    return demo_env


@pytest.fixture
def demo_env(app_factory: Callable[..., ConsoleEnv]) -> ConsoleEnv:
    from console.demo import sample_mails

    env = app_factory()
    for _name, raw in sample_mails():
        env.services.mailbox.append("INBOX", raw)
    env.services.engine.poll_once()
    return env


@pytest.fixture
def console_log(page: Any) -> Iterator[list[str]]:
    """Every console message and page error of the test, to assert none is an htmx error."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: seen.append(f"pageerror: {e}"))
    yield seen
    assert not [m for m in seen if "htmx" in m.lower() or "pageerror" in m], seen


def _open(page: Any, subject: str) -> None:
    page.goto("/failed/")
    page.locator("table.failed tbody tr", has_text=subject).locator("td.subject a").click()
    page.wait_for_selector("#editor textarea#payload")


def _in_folder(page: Any, tab: str, subject: str) -> Any:
    page.goto("/failed/")
    page.locator("nav.tabs").get_by_role("link", name=tab).click()
    return page.locator("table.mail-list tbody tr", has_text=subject)


def test_the_unknown_identifier_mail_goes_to_the_file_the_operator_picks(
    page: Any, login: Callable[..., None], console_env: ConsoleEnv, console_log: list[str]
) -> None:
    login(page, "olivia")
    _open(page, "VEH-9913")
    assert "unknown identifier VEH-9913" in page.locator("#failure-reason").inner_text()
    # The handler's records offer the files of this sender and plate, the right one first.
    offered = page.locator("#candidates button.candidate")
    expect(offered.first).to_have_text("VEH-1051")
    assert "Thomas Moreau" in page.locator("#candidates").inner_text()
    # Typing part of a number asks again: VEH-105 narrows to the files starting so.
    page.fill("#identifier", "VEH-105")
    expect(page.locator("#candidates button.candidate", has_text="VEH-1053")).to_have_count(1)
    page.locator("#candidates button.candidate", has_text="VEH-1051").click()
    expect(page.locator("#identifier")).to_have_value("VEH-1051")
    page.click("#resubmit")
    page.wait_for_url("**/failed/")
    assert "processed by vehicle_registration" in page.locator("#flashes").inner_text()
    row = _in_folder(page, "Processed", "VEH-9913")
    expect(row).to_have_count(1)
    row.locator("td.subject a").click()
    timeline = page.locator("section.timeline")
    expect(timeline).to_contain_text("identifier VEH-9913 -> VEH-1051")
    expect(timeline).to_contain_text("olivia")


def test_a_vin_is_fixed_by_its_description_and_a_category_picked_from_its_choices(
    page: Any, login: Callable[..., None], console_env: ConsoleEnv, console_log: list[str]
) -> None:
    login(page, "olivia")
    _open(page, "VEH-1045")
    vin = page.locator("table.fields tr[data-path=vin]")
    # What the field expects, in words: never the pattern.
    expect(vin.locator(".expected")).to_have_text("17 characters, no I, O or Q")
    expect(vin.locator(".error")).to_contain_text("is not in the expected form")
    assert "[A-HJ-NPR-Z0-9]" not in page.locator("section.understood").inner_text()
    # The category is a select of the schema's choices; picking one rewrites the payload.
    page.select_option("table.fields tr[data-path=category] select", label="motorcycle")
    expect(page.locator("table.fields tr.has-error[data-path=category]")).to_have_count(0)
    # htmx wires the swapped-in editor up as it settles (20 ms later), dropping its
    # htmx-added class then: typed before that, the payload's input would go unvalidated.
    expect(page.locator(".htmx-added")).to_have_count(0)
    payload = json.loads(page.locator("#payload").input_value())
    assert payload["category"] == "motorcycle"
    # The VIN the owner sent is 14 characters: the description says 17, without I, O or Q.
    payload.update(vin="VF3AB000012345678", plate_number="AB-123-CD")
    page.fill("#payload", json.dumps(payload, indent=2))
    expect(page.locator("table.fields tr.has-error")).to_have_count(0)
    expect(page.locator("#validation .status.good")).to_contain_text("ready to re-submit")
    page.click("#resubmit")
    page.wait_for_url("**/failed/")
    expect(_in_folder(page, "Processed", "VEH-1045")).to_have_count(1)


def test_a_rejected_mail_is_found_in_rejected_and_taken_back(
    page: Any, login: Callable[..., None], console_env: ConsoleEnv, console_log: list[str]
) -> None:
    page.on("dialog", lambda d: d.accept())
    login(page, "olivia")
    _open(page, "VEH-1046")
    page.locator("details.reject-box summary").click()
    page.fill("#reject-form textarea", "duplicate of an earlier mail")
    page.locator("#reject-form button[type=submit]").click()
    page.wait_for_url("**/failed/")
    expect(page.locator("table.failed tbody tr", has_text="VEH-1046")).to_have_count(0)
    row = _in_folder(page, "Rejected", "VEH-1046")
    expect(row.locator("td.reason")).to_have_text("duplicate of an earlier mail")
    row.locator("td.subject a").click()
    page.fill("#undo-reject textarea", "rejected by mistake: the fleet has no other file")
    page.click("#undo-reject-button")
    page.wait_for_url("**/failed/*")
    expect(page.locator("#flashes")).to_contain_text("back in failed mail")
    expect(page.locator("section.timeline")).to_contain_text("reject undone: rejected by mistake")
    expect(page.locator("#failure-reason")).to_contain_text("plate_numbr")  # why it failed
    page.goto("/failed/")
    page.locator("nav.tabs").get_by_role("link", name="What I did today").click()
    today = page.locator("table.today tbody tr", has_text="VEH-1046")
    expect(today).to_contain_text("duplicate of an earlier mail")
    expect(today).to_contain_text("rejected by mistake")


def test_the_list_follows_the_reason_typed_and_a_page_too_far_is_explained(
    page: Any, login: Callable[..., None], console_env: ConsoleEnv, console_log: list[str]
) -> None:
    login(page, "olivia")
    page.goto("/failed/")
    rows = page.locator("table.failed tbody tr")
    expect(rows).to_have_count(5)
    page.locator("#reason").press_sequentially("schema", delay=20)  # no Enter
    expect(rows).to_have_count(2)
    page.wait_for_url(lambda url: "reason=schema" in url)
    page.fill("#reason", "")
    page.locator("#sender").press_sequentially("gmail", delay=20)
    expect(rows).to_have_count(1)
    page.goto("/failed/?page=2")
    expect(page.locator("#list-problems")).to_contain_text("There is 1 page")
    expect(rows).to_have_count(0)
    # The admin's history: an invalid range explains itself and lists nothing.
    page.context.clear_cookies()
    login(page, "ada")
    page.goto("/history/")
    expect(page.locator("table.messages tbody.message")).to_have_count(10)
    page.fill("#since", "2025-11-20")
    page.fill("#until", "2025-11-10")
    expect(page.locator("#results")).to_contain_text("The end date is before the start date")
    expect(page.locator("table.messages")).to_have_count(0)
    expect(page.locator("figure.chart")).to_have_count(0)
