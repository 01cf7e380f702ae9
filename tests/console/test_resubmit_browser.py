"""End to end on a real Dovecot: an operator fixes a failed mail in Chromium and re-submits it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from console.demo import MAILS_DIR
from tests.console.conftest import ConsoleEnv
from tests.servers import Account

pytestmark = pytest.mark.browser

SCHEMA_ERROR_MAIL = (MAILS_DIR / "06-thunderbird-schema-error.eml").read_bytes()
SUBJECT = "Re: [VEH-1045] Registration request"


@pytest.fixture
def console_env(
    app_factory: Callable[..., ConsoleEnv], account: Account, make_imap_mailbox: Any
) -> ConsoleEnv:
    """The console on a fresh Dovecot account, the schema-error mail polled into `failed`."""
    env = app_factory(mailbox=make_imap_mailbox(account))
    account.append("INBOX", SCHEMA_ERROR_MAIL)
    outcomes = env.services.engine.poll_once()
    assert [o.status for o in outcomes] == ["failed"]
    return env


def folder_subjects(account: Account, folder: str) -> list[str]:
    """Subjects in `folder`, read over a raw IMAP session (not through mailcore)."""
    with account.session() as imap:
        if not imap.folder_exists(folder):
            return []
        imap.select_folder(folder, readonly=True)
        uids = imap.search(["NOT", "DELETED"])
        fetched = imap.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]) if uids else {}
    return [
        data[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().split(":", 1)[1].strip()
        for data in fetched.values()
    ]


def test_operator_fixes_payload_and_resubmits(
    page: Any, login: Callable[..., None], console_env: ConsoleEnv, account: Account
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, "olivia")
    page.goto("/failed/")
    row = page.locator("table.failed tbody tr", has_text=SUBJECT)
    assert row.count() == 1
    assert "is not in the expected form" in row.locator("td.reason").inner_text()
    row.locator("td.subject a").click()

    # Side by side: the original mail and the extracted payload with errors by field.
    page.wait_for_selector("#editor textarea#payload")
    assert "Hugo Petit" in page.locator("section.original").inner_text()
    assert page.locator("table.fields tr.has-error[data-path=plate_number]").count() == 1
    assert page.locator("table.fields tr.has-error[data-path=vin]").count() == 1

    payload = json.loads(page.locator("#payload").input_value())
    assert payload["plate_number"] == "AB123CD"

    # Live validation while typing: fix two of three fields, the third is still flagged.
    payload.update(plate_number="AB-123-CD", vin="VF3AB000012345678")
    page.fill("#payload", json.dumps(payload, indent=2))
    page.wait_for_selector("table.fields tr[data-path=plate_number]:not(.has-error)")
    assert page.locator("table.fields tr.has-error[data-path=category]").count() == 1

    # Re-submitting a still-invalid payload shows the new reason and moves nothing.
    page.click("#resubmit")
    page.wait_for_selector("#resubmit-result")
    assert "category" in page.locator("#editor").inner_text()
    assert folder_subjects(account, "failed") == [SUBJECT]
    assert folder_subjects(account, "processed") == []

    payload["category"] = "motorcycle"
    page.fill("#payload", json.dumps(payload, indent=2))
    page.wait_for_selector("#validation .status.good")
    page.click("#resubmit")

    # Back on the list: gone from it, a flash says so, and the mail is in `processed` on IMAP.
    page.wait_for_url("**/failed/")
    assert "processed by vehicle_registration" in page.locator("#flashes").inner_text()
    assert page.locator("table.failed tbody tr", has_text=SUBJECT).count() == 0
    assert folder_subjects(account, "processed") == [SUBJECT]
    assert folder_subjects(account, "failed") == []
    assert console_env.office.records[0]["data"]["category"] == "motorcycle"
    assert dialogs == []

    # The correction is recorded with the user and the before/after payloads.
    events = console_env.services.history.events(limit=50)
    corrected = sorted((e for e in events if e.kind == "corrected"), key=lambda e: e.id)
    assert len(corrected) == 2 and all(e.actor == "olivia" for e in corrected)
    first, last = corrected[0], corrected[-1]
    assert first.before is not None and first.before["plate_number"] == "AB123CD"
    assert last.after is not None and last.after["category"] == "motorcycle"
