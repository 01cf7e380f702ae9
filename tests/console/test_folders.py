"""The operator's console without dead ends, through the Flask test client on the demo mails:
every folder browsable, a reject undone, identifiers and handlers corrected, choices picked,
"what I did today", and the list's page as a form error."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from console.demo import FILE_HOLDERS
from tests.console.conftest import ConsoleEnv, csrf_token, failed_uid


@pytest.fixture
def env(demo_env: ConsoleEnv) -> ConsoleEnv:
    return demo_env


def _post(env: ConsoleEnv, client: Any, path: str, **data: str) -> Any:
    data["csrf_token"] = csrf_token(client, "/failed/")
    return client.post(path, data=data)


def _edit(client: Any, uid: int, action: str, payload: str, **fields: str) -> str:
    """The editor's form posted to one of its actions (convert, choose...): the page's text."""
    data = {"payload": payload, "syntax": "json", "current_syntax": "json", **fields}
    data["csrf_token"] = csrf_token(client, "/failed/")
    return str(client.post(f"/failed/{uid}/{action}", data=data).get_data(as_text=True))


def _resubmit(client: Any, uid: int, payload: Any, **fields: str) -> Any:
    """The editor's form re-submitted (JSON), with the handler and identifier given."""
    data = {"payload": json.dumps(payload), "syntax": "json", **fields}
    data["csrf_token"] = csrf_token(client, "/failed/")
    return client.post(f"/failed/{uid}/resubmit", data=data)


def _uids(env: ConsoleEnv, folder: str) -> list[int]:
    svc = env.services
    return svc.mailbox.uids(getattr(svc.engine.folders, folder))


@pytest.mark.parametrize(
    ("key", "subject"),
    [
        ("processed", "Votre demande"),  # mail 02, French key lines
        ("auto", "Réponse automatique"),
    ],
)
def test_every_folder_lists_and_shows_its_mail(env: ConsoleEnv, key: str, subject: str) -> None:
    client = env.client("olivia")
    html = client.get(f"/mail/{key}/").get_data(as_text=True)
    count = len(_uids(env, key))
    assert count and f"{count} message" in html and subject in html
    assert f'data-folder="{key}"' in html and 'name="uid"' not in html  # no bulk re-run here
    found = re.search(rf'href="/mail/{key}/(\d+)"', html)
    assert found, html
    page = client.get(f"/mail/{key}/{found.group(1)}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "What arrived" in body and "Timeline" in body
    assert 'id="payload"' not in body  # read-only: no editor outside failed
    assert (
        client.get(f"/mail/{key}/?reason=zzz-no-such").get_data(as_text=True).count("data-uid=")
        == 0
    )
    assert client.get("/mail/bogus/").status_code == 404


def test_a_reject_is_found_in_rejected_and_undone(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    uid = failed_uid(env, "VEH-1046")
    reason = env.services.engine.inspect(uid).reason
    response = _post(env, client, f"/failed/{uid}/reject", note="looks like spam")
    assert response.status_code == 303
    [rejected] = _uids(env, "rejected")
    listed = client.get("/mail/rejected/").get_data(as_text=True)
    assert "VEH-1046" in listed and "looks like spam" in listed
    page = client.get(f"/mail/rejected/{rejected}").get_data(as_text=True)
    assert 'id="undo-reject"' in page
    refused = _post(env, client, f"/mail/rejected/{rejected}/undo", note="")
    assert refused.status_code == 303 and _uids(env, "rejected") == [rejected]
    back = _post(env, client, f"/mail/rejected/{rejected}/undo", note="rejected by mistake")
    assert back.status_code == 303 and _uids(env, "rejected") == []
    new_uid = int(back.headers["Location"].rsplit("/", 1)[1])
    inspection = env.services.engine.inspect(new_uid)
    assert inspection.reason == reason  # failed again, for the reason it had failed
    detail = client.get(f"/failed/{new_uid}").get_data(as_text=True)
    assert "reject undone: rejected by mistake" in detail  # in the timeline
    today = client.get("/mail/today").get_data(as_text=True)
    assert "VEH-1046" in today and "looks like spam" in today and "rejected by mistake" in today
    assert "1 message" in today


def test_the_unknown_identifier_mail_is_attached_to_the_file_the_handler_offers(
    env: ConsoleEnv,
) -> None:
    client = env.client("olivia")
    uid = failed_uid(env, "VEH-9913")
    detail = client.get(f"/failed/{uid}").get_data(as_text=True)
    assert 'id="identifier"' in detail and 'value="VEH-9913"' in detail
    assert 'id="refused-note"' in detail  # "valid" says the payload was not the problem
    # The handler's records offer Thomas Moreau's file first (holder and plate match).
    assert detail.index('data-identifier="VEH-1051"') < detail.index('data-identifier="VEH-1049"')
    typed = _post(
        env, client, f"/failed/{uid}/candidates", identifier="VEH-105", handler="", payload="{}"
    ).get_data(as_text=True)
    assert 'data-identifier="VEH-1051"' in typed and 'data-identifier="VEH-1053"' in typed
    payload = env.services.engine.inspect(uid).payload
    response = _resubmit(client, uid, payload, handler="", identifier="VEH-1051")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    assert uid not in _uids(env, "failed")
    [record] = [r for r in env.office.records if r["file"] == "VEH-1051"]
    assert record["data"]["owner"] == "Thomas Moreau"
    [corrected] = env.services.history.events(kind="corrected")
    assert corrected.reason == "identifier VEH-9913 -> VEH-1051"
    assert corrected.actor == "olivia" and corrected.identifier == "VEH-1051"


def test_the_mail_without_identifier_gets_a_handler_an_identifier_and_its_fields(
    env: ConsoleEnv,
) -> None:
    client = env.client("olivia")
    uid = failed_uid(env, "Question about my registration")
    handler = "vehicle_registration"
    plate = '{"plate_number": "GH-808-JK"}'
    editor = _edit(client, uid, "convert", plate, handler=handler, identifier="")
    # The handler chosen: its records offer the file with this plate, its schema the fields.
    assert 'data-identifier="VEH-1052"' in editor and "Nicolas Girard" in editor
    assert 'name="choice.category"' in editor and "17 characters, no I, O or Q" in editor
    chosen = _edit(client, uid, "choose", plate, handler=handler, **{"choice.category": '"van"'})
    assert "&#34;category&#34;: &#34;van&#34;" in chosen or '"category": "van"' in chosen
    payload = {
        "plate_number": "GH-808-JK",
        "vin": "VF1AB000012345678",
        "owner": "Nicolas Girard",
        "category": "van",
    }
    response = _resubmit(client, uid, payload, handler=handler, identifier="VEH-1052")
    assert response.status_code == 303
    [record] = [r for r in env.office.records if r["file"] == "VEH-1052"]
    assert record["data"]["category"] == "van"
    [corrected] = env.services.history.events(kind="corrected")
    assert corrected.reason is not None
    assert "identifier (none) -> VEH-1052" in corrected.reason
    assert f"handler (none) -> {handler}" in corrected.reason
    assert "payload corrected" in corrected.reason


def test_a_choice_outside_the_schema_is_not_written(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    uid = failed_uid(env, "VEH-1045")
    picked = {"choice.category": '"rocket"', "choice.vin": '"x"'}
    html = _edit(client, uid, "choose", '{"category": "motorbike"}', **picked)
    assert "motorbike" in html and "rocket" not in html.split("<textarea", 1)[1].split("</", 1)[0]


def test_schema_errors_are_said_with_the_fields_description_and_choices(
    env: ConsoleEnv,
) -> None:
    uid = failed_uid(env, "VEH-1045")
    reason = env.services.engine.inspect(uid).reason or ""
    assert "17 characters, no I, O or Q" in reason and "[A-HJ-NPR-Z0-9]" not in reason
    assert "did you mean 'motorcycle'?" in reason
    html = env.client("olivia").get(f"/failed/{uid}").get_data(as_text=True)
    assert "^[A-Z]{2}" not in html  # the pattern is never what an operator reads
    assert "French SIV format, e.g. AB-123-CD" in html
    assert '<option value="&#34;motorcycle&#34;">motorcycle</option>' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=2", "There is 1 page of messages here: enter a page from 1 to 1."),
        ("page=99999999999999999999", "Enter a page from 1 to 10000."),
        ("per_page=100000", "Enter a number from 1 to 200."),
        ("page=x", "Not a valid integer value."),
    ],
)
def test_a_page_past_the_last_is_a_form_error_listing_nothing(
    env: ConsoleEnv, query: str, message: str
) -> None:
    client = env.client("olivia")
    response = client.get(f"/failed/?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and 'id="list-problems"' in html and "data-uid=" not in html
    partial = client.get(
        f"/failed/?{query}", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert partial.status_code == 200 and message in partial.get_data(as_text=True)


def test_the_demo_knows_the_files_it_offers() -> None:
    from console.demo import OPEN_FILES

    assert set(FILE_HOLDERS) <= OPEN_FILES


def test_a_rerun_keeps_the_identifier_the_operator_gave(env: ConsoleEnv) -> None:
    svc = env.services
    uid = failed_uid(env, "VEH-9913")
    payload = dict(svc.engine.inspect(uid).payload or {})
    refused = svc.engine.resubmit(uid, payload, by="olivia", identifier="VEH-0001")
    assert refused.status == "failed" and "VEH-0001" in (refused.reason or "")
    # The mail still says VEH-9913; the history holds the operator's choice, and so does a
    # re-run after the handler was fixed (the office opens file VEH-0001).
    html = env.client("olivia").get(f"/failed/{uid}").get_data(as_text=True)
    assert 'value="VEH-0001"' in html
    assert "<b>VEH-0001</b> (given by an operator; the mail says VEH-9913)" in html
    from console import demo

    demo.OPEN_FILES.add("VEH-0001")
    try:
        [outcome] = svc.engine.rerun([uid], by="olivia")
    finally:
        demo.OPEN_FILES.discard("VEH-0001")
    assert outcome.status == "processed", outcome
    assert env.office.records[-1]["file"] == "VEH-0001"
