"""The template editor: roles, saving only clean templates, versions, previews, test sends."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from console.demo import MAILS_DIR
from mailcore.config import Settings
from tests.console.conftest import ConsoleEnv, csrf_token
from tests.servers import free_port

BODY = "Hello {{ owner }},\n\nthe vehicle **{{ plate_number }}** is registered.\n"
DATA = {"owner": "Hugo Petit", "plate_number": "AB-123-CD"}


def form(client: Any, **fields: str) -> dict[str, str]:
    values = {
        "name": "registered",
        "handler": "vehicle_registration",
        "subject": "Vehicle {{ plate_number }} registered",
        "body": BODY,
        "sample_data": json.dumps(DATA),
        "note": "first version",
        "base": "0",
        "csrf_token": csrf_token(client, "/templates/new"),
    }
    values.update(fields)
    return values


def test_an_operator_can_neither_open_nor_save_templates(console_env: ConsoleEnv) -> None:
    operator = console_env.client("olivia")
    token = csrf_token(operator, "/failed/")
    assert operator.get("/templates/").status_code == 403
    response = operator.post(
        "/templates/save",
        data={"name": "x", "subject": "s", "body": "b", "sample_data": "{}", "csrf_token": token},
    )
    assert response.status_code == 403
    assert console_env.services.templates.names() == []


def test_an_author_saves_a_template_and_it_becomes_version_1(console_env: ConsoleEnv) -> None:
    author = console_env.client("arthur")
    response = author.post("/templates/save", data=form(author))
    assert response.status_code == 302
    version = console_env.services.templates.get("registered")
    assert (version.number, version.by, version.note) == (1, "arthur", "first version")
    assert version.handler == "vehicle_registration"
    page = author.get("/templates/registered").get_data(as_text=True)
    assert "Saved registered as version 1." in page
    assert "AB-123-CD" in page  # the preview is rendered with the page


def test_a_template_with_an_undefined_placeholder_is_refused_naming_it(
    console_env: ConsoleEnv,
) -> None:
    author = console_env.client("arthur")
    body = BODY + "\nYour file: {{ file_number }}\n"
    response = author.post("/templates/save", data=form(author, body=body))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Not saved." in html
    assert "Body line 5: undefined placeholder {{ file_number }}" in html
    assert console_env.services.templates.versions("registered") == []


def test_invalid_sample_json_is_shown_with_its_line_next_to_the_field(
    console_env: ConsoleEnv,
) -> None:
    author = console_env.client("arthur")
    response = author.post(
        "/templates/preview", data=form(author, sample_data='{\n  "owner": "Hugo",\n  oops\n}')
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    [slot] = re.findall(r'<div id="problems-sample-data"[^>]*>(.*?)</div>', html, re.S)
    assert "Line 3: not valid JSON" in slot


def test_the_preview_lists_unsafe_markup_with_its_line(console_env: ConsoleEnv) -> None:
    author = console_env.client("arthur")
    body = BODY + '\n<a href="javascript:alert(1)">click</a>\n'
    html = author.post("/templates/preview", data=form(author, body=body)).get_data(as_text=True)
    assert "Body line 5" in html
    assert "unsafe" in html
    mime = html.split('id="preview-mime">')[1].split("</pre>")[0]
    assert "click" in mime
    assert "javascript:" not in mime


def test_the_preview_html_is_served_to_its_iframe_under_a_sandboxing_csp(
    console_env: ConsoleEnv,
) -> None:
    author = console_env.client("arthur")
    html = author.post("/templates/preview", data=form(author)).get_data(as_text=True)
    [src] = set(re.findall(r'<iframe sandbox [^>]*src="([^"]+)"', html))
    frame = author.get(src)
    assert frame.status_code == 200
    assert "AB-123-CD" in frame.get_data(as_text=True)
    policy = frame.headers["Content-Security-Policy"]
    assert "sandbox" in policy and "script-src" not in policy and "default-src 'none'" in policy


def test_sample_data_is_generated_from_the_handler_schema(console_env: ConsoleEnv) -> None:
    author = console_env.client("arthur")
    response = author.get("/templates/sample?handler=vehicle_registration&sample=schema")
    data = sample_textarea(response.get_data(as_text=True))
    assert {"plate_number", "vin", "owner", "category"} <= set(data)
    assert data["category"] == "car"  # first enum value
    assert response.headers["HX-Trigger-After-Settle"] == "sample-loaded"


def test_versions_can_be_restored_and_compared(console_env: ConsoleEnv) -> None:
    author = console_env.client("arthur")
    assert author.post("/templates/save", data=form(author)).status_code == 302
    second = form(author, subject="Registered: {{ plate_number }}", note="shorter", base="1")
    assert author.post("/templates/save", data=second).status_code == 302

    diff = author.get("/templates/registered/diff?a=1&b=2").get_data(as_text=True)
    assert '<span class="diff-del">-Subject: Vehicle {{ plate_number }} registered</span>' in diff
    assert '<span class="diff-add">+Subject: Registered: {{ plate_number }}</span>' in diff

    token = csrf_token(author, "/templates/registered/versions")
    restored = author.post("/templates/registered/versions/1/restore", data={"csrf_token": token})
    assert restored.status_code == 302
    store = console_env.services.templates
    latest = store.get("registered")
    assert (latest.number, latest.restored_from, latest.by) == (3, 1, "arthur")
    assert latest.subject == "Vehicle {{ plate_number }} registered"
    listing = author.get("/templates/registered/versions").get_data(as_text=True)
    assert "copy of v1" in listing


def test_saving_over_someone_elses_newer_version_is_refused(console_env: ConsoleEnv) -> None:
    author = console_env.client("arthur")
    admin = console_env.client("ada")
    assert author.post("/templates/save", data=form(author)).status_code == 302
    assert admin.post("/templates/save", data=form(admin, subject="A", base="1")).status_code == 302
    stale = author.post("/templates/save", data=form(author, subject="B", base="1"))
    assert stale.status_code == 409
    assert "saved as version 2 by ada" in stale.get_data(as_text=True)
    assert console_env.services.templates.get("registered").subject == "A"


def test_a_new_template_cannot_take_an_existing_name(console_env: ConsoleEnv) -> None:
    author = console_env.client("arthur")
    assert author.post("/templates/save", data=form(author)).status_code == 302
    again = author.post("/templates/save", data=form(author, subject="Other", base="0"))
    assert again.status_code == 409
    assert "already exists" in again.get_data(as_text=True)
    assert len(console_env.services.templates.versions("registered")) == 1


# -- "Send a test" -------------------------------------------------------------------------


class Inbox:
    """What a real SMTP server (aiosmtpd) received."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.received = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.received.set()
        return "250 OK"


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_send_a_test_without_smtp_says_which_setting_to_set(console_env: ConsoleEnv) -> None:
    author = console_env.add_user("erin", "author", email="erin@example.com")
    html = author.post("/templates/test", data=form(author)).get_data(as_text=True)
    assert "no SMTP server configured: set MAILCORE_SMTP_URL" in html


def test_send_a_test_without_an_address_says_how_to_get_one(console_env: ConsoleEnv) -> None:
    author = console_env.client("arthur")  # no e-mail address on the account
    html = author.post("/templates/test", data=form(author)).get_data(as_text=True)
    assert "Your account has no e-mail address" in html


def test_send_a_test_delivers_the_rendered_mail_to_the_author(
    console_env: ConsoleEnv, smtp_inbox: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_inbox
    console_env.services.settings = Settings.from_mapping(
        {
            "smtp": {
                "url": f"smtp://127.0.0.1:{port}?security=plain",
                "sender": "Registrations <registrations@example.com>",
            }
        }
    )
    author = console_env.add_user("erin", "author", email="erin@example.com")
    html = author.post("/templates/test", data=form(author)).get_data(as_text=True)
    assert "Test sent to erin@example.com." in html
    assert inbox.received.wait(5)
    [(mail_from, rcpts, raw)] = inbox.messages
    assert (mail_from, rcpts) == ("registrations@example.com", ["erin@example.com"])
    assert b"Vehicle AB-123-CD registered" in raw
    assert b"X-Mailcore-Test: template registered previewed by erin" in raw


def sample_textarea(html: str) -> dict[str, Any]:
    found = re.search(r"<textarea[^>]*>(.*?)</textarea>", html, re.S)
    assert found is not None
    return dict(json.loads(found.group(1).replace("&#34;", '"')))


def test_sample_data_can_be_the_last_payload_really_processed(console_env: ConsoleEnv) -> None:
    from tests.console.test_history import CORRECTED, seed_correction

    author = console_env.client("arthur")
    url = "/templates/sample?handler=vehicle_registration&sample=history"
    empty = author.get(url).get_data(as_text=True)
    assert "No processed payload for vehicle_registration in the history yet" in empty

    mailbox = console_env.services.mailbox
    mailbox.ensure_folder("INBOX")
    mailbox.append("INBOX", (MAILS_DIR / "01-thunderbird-json-attachment.eml").read_bytes())
    console_env.services.engine.poll_once()
    # Extracted again from the message filed in `processed`.
    assert sample_textarea(author.get(url).get_data(as_text=True))["owner"] == "Claire Fontaine"

    seed_correction(console_env)
    # The payload an operator corrected and re-submitted is newer.
    assert sample_textarea(author.get(url).get_data(as_text=True)) == CORRECTED


@pytest.mark.parametrize(
    "query",
    ["?version=" + "1" * 30, "?version=-1", "?version=x", "?version=" + "9" * 5000, "?version=7"],
)
def test_a_version_number_that_names_no_version_is_a_404(
    console_env: ConsoleEnv, query: str
) -> None:
    console_env.services.templates.save("greeting", "Hello", "Hi.", {}, "first", "arthur")
    author = console_env.client("arthur")
    assert author.get("/templates/greeting?version=1").status_code == 200
    assert author.get(f"/templates/greeting{query}").status_code == 404  # huge: was a 500
    diff_query = query.replace("version", "a")
    assert author.get(f"/templates/greeting/diff{diff_query}").status_code == 404
    assert author.get(f"/templates/greeting/diff{query.replace('version', 'b')}").status_code == 404


def test_a_template_building_too_much_shows_the_limit_and_cannot_be_saved(
    console_env: ConsoleEnv,
) -> None:
    author = console_env.client("arthur")
    body = BODY + "\n{{ 'a'.ljust(5000000)|length }} {{ lipsum(20000)|length }}\n"
    preview = author.post("/templates/preview", data=form(author, body=body))
    page = preview.get_data(as_text=True)
    assert "Body line 5" in page and "MAX_RENDER_WORK" in page
    response = author.post("/templates/save", data=form(author, body=body))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Not saved." in html
    assert "Body line 5: refused: ljust() would build 5,000,000 characters" in html
    assert console_env.services.templates.versions("registered") == []
