"""The failed mailbox through the Flask test client, on a local Maildir with the demo mails."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from console.accounts import AccountError
from console.commands import create_user
from console.mailview import safe_html
from console.presenters import PayloadSyntaxError, field_rows, parse_payload
from mailcore.processing.vocabulary import ErrorKind, SchemaError
from tests.console.conftest import ConsoleEnv, csrf_token, failed_uid


@pytest.fixture
def env(demo_env: ConsoleEnv) -> ConsoleEnv:
    return demo_env


def test_list_shows_failed_mails_newest_first_with_reason_and_handler(env: ConsoleEnv) -> None:
    html = env.client("olivia").get("/failed/").get_data(as_text=True)
    assert "5 messages" in html
    assert html.index("Question about my registration") < html.index("VEH-1044")
    assert "unknown identifier VEH-9913" in html and "vehicle_registration" in html


def test_htmx_filter_returns_only_the_results_partial(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    response = client.get(
        "/failed/?reason=no+payload", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    html = response.get_data(as_text=True)
    assert "<html" not in html and "1 message matching" in html
    assert "VEH-1044" in html and "VEH-9913" not in html
    by_sender = client.get("/failed/?sender=gmail").get_data(as_text=True)
    assert "VEH-9913" in by_sender and "VEH-1044" not in by_sender


def test_pagination(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    assert "page 1 of 1" in client.get("/failed/").get_data(as_text=True)
    html = client.get("/failed/?per_page=2&page=3").get_data(as_text=True)
    assert "page 3 of 3" in html and "VEH-1044" in html and html.count('name="uid"') == 1
    assert 'href="/failed/?page=2&amp;per_page=2"' in html


def test_detail_shows_both_sides_and_errors_by_field(env: ConsoleEnv) -> None:
    uid = failed_uid(env, "VEH-1046")
    html = env.client("olivia").get(f"/failed/{uid}").get_data(as_text=True)
    assert "What arrived" in html and "What we understood" in html
    assert 'sandbox src="/failed/' in html and "allow-scripts" not in html
    assert 'data-path="plate_numbr" data-suggestion="plate_number"' in html
    assert "not in the schema -- did you mean &#39;plate_number&#39;?" in html
    assert 'data-path="plate_number"' in html and "this field is missing" in html
    assert "1 remote reference" in html  # the tracking pixel


def test_detail_timeline_names_a_status_once(env: ConsoleEnv) -> None:
    html = env.client("olivia").get(f"/failed/{failed_uid(env, 'VEH-1046')}").get_data(as_text=True)
    assert "<b>Failed</b>" in html and "<b>Failed</b> → failed" not in html
    assert "<b>Routed</b>" in html


def test_detail_of_a_mail_without_payload_is_not_ready_to_resubmit(env: ConsoleEnv) -> None:
    html = env.client("olivia").get(f"/failed/{failed_uid(env, 'VEH-1044')}").get_data(as_text=True)
    assert "ready to re-submit" not in html and "Fix the fields marked below" in html


def test_html_frame_embeds_cid_images_and_blocks_remote_ones(env: ConsoleEnv) -> None:
    uid = failed_uid(env, "VEH-1046")
    response = env.client("olivia").get(f"/failed/{uid}/html")
    body = response.get_data(as_text=True)
    assert "data:image/png;base64," in body
    assert "tracking.flotte-roux.example" not in body
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_raw_source_and_attachment_download(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    uid = failed_uid(env, "VEH-1044")
    raw = client.get(f"/failed/{uid}/raw", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Message-ID: &lt;DB9P195MB1322" in raw
    pdf = client.get(f"/failed/{uid}/attachments/0?inline=1")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    download = client.get(f"/failed/{uid}/attachments/0")
    assert download.mimetype == "application/octet-stream"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert client.get(f"/failed/{uid}/attachments/9").status_code == 404
    assert client.get("/failed/99999").status_code == 404


def test_convert_to_yaml_keeps_the_edits(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    uid = failed_uid(env, "VEH-1045")
    token = csrf_token(client, f"/failed/{uid}")
    response = client.post(
        f"/failed/{uid}/convert",
        data={"payload": '{"owner": "Edited Owner"}', "current_syntax": "json", "syntax": "yaml"},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    html = response.get_data(as_text=True)
    assert "owner: Edited Owner" in html and "Payload (YAML)" in html


def test_resubmit_without_javascript_moves_the_mail(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    uid = failed_uid(env, "VEH-1046")
    token = csrf_token(client, f"/failed/{uid}")
    payload = (
        '{"plate_number": "PQ-321-RS", "vin": "VF1FL000123456789",'
        ' "owner": "Flotte Roux SAS", "category": "van"}'
    )
    response = client.post(
        f"/failed/{uid}/resubmit",
        data={"payload": payload, "syntax": "json", "handler": "", "csrf_token": token},
    )
    assert response.status_code == 303
    assert uid not in env.services.mailbox.uids("failed")
    assert len(env.services.mailbox.uids("processed")) == 5
    page = client.get("/failed/").get_data(as_text=True)
    assert "re-submitted and processed" in page and "VEH-1046" not in page


def test_resubmit_with_broken_json_says_where(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    uid = failed_uid(env, "VEH-1045")
    token = csrf_token(client, f"/failed/{uid}")
    response = client.post(
        f"/failed/{uid}/resubmit",
        data={"payload": '{"owner": "x",\n}', "syntax": "json", "csrf_token": token},
    )
    assert response.status_code == 422
    assert "Line 2" in response.get_data(as_text=True)
    assert uid in env.services.mailbox.uids("failed")


def test_reject_needs_a_note_then_moves_to_rejected(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    uid = failed_uid(env, "Question about my registration")
    token = csrf_token(client, f"/failed/{uid}")
    client.post(f"/failed/{uid}/reject", data={"note": "", "csrf_token": token})
    assert uid in env.services.mailbox.uids("failed")
    response = client.post(
        f"/failed/{uid}/reject", data={"note": "asked by phone", "csrf_token": token}
    )
    assert response.status_code == 303
    assert uid not in env.services.mailbox.uids("failed")
    assert len(env.services.mailbox.uids("rejected")) == 1
    rejected = [e for e in env.services.history.events(limit=100) if e.kind == "rejected"]
    assert rejected[0].actor == "olivia" and rejected[0].reason == "asked by phone"


def test_bulk_rerun_of_a_selection(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    env.office.records.clear()
    uids = [failed_uid(env, "VEH-1044"), failed_uid(env, "VEH-9913")]
    token = csrf_token(client, "/failed/")
    response = client.post(
        "/failed/rerun", data={"uid": [str(u) for u in uids], "csrf_token": token}
    )
    assert response.status_code == 303
    page = client.get("/failed/").get_data(as_text=True)
    assert "Re-run of 2 messages: 0 processed, 2 still failing" in page
    assert set(uids) <= set(env.services.mailbox.uids("failed"))


def test_parse_payload_reports_yaml_line() -> None:
    assert parse_payload("a: 1\nb: [2]", "yaml") == {"a": 1, "b": [2]}
    with pytest.raises(PayloadSyntaxError) as info:
        parse_payload("a: 1\nb: [2", "yaml")
    assert info.value.line is not None
    with pytest.raises(PayloadSyntaxError):
        parse_payload("[1, 2]", "json")


def test_field_rows_attach_nested_errors() -> None:
    rows, general = field_rows(
        {"owner": {"name": "x"}, "items": [{"qty": 0}]},
        [("$.owner.name", "too short"), ("$.items[0].qty", "below minimum"), ("$", "odd")],
    )
    by_path = {r.path: r.errors for r in rows}
    assert by_path == {"owner.name": ["too short"], "items.0.qty": ["below minimum"]}
    assert general == ["odd"]


def test_field_rows_show_did_you_mean_next_to_the_misspelt_key() -> None:
    rows, general = field_rows(
        {"owner": {"nmae": "x", "extra": 1}},
        [
            SchemaError(
                "$.owner",
                ErrorKind.UNKNOWN,
                "'nmae' is not a field of $.owner in vehicle -- did you mean 'name'?",
                key="nmae",
                suggestion="name",
                keys=("nmae",),
            ),
            SchemaError(
                "$.owner",
                ErrorKind.UNKNOWN,
                "Additional properties are not allowed ('extra' was unexpected)",
                keys=("extra",),
            ),
            SchemaError("$.owner.name", ErrorKind.REQUIRED, "is required", key="name"),
        ],
    )
    by_path = {r.path: r for r in rows}
    assert by_path["owner.nmae"].suggestion == "name"
    assert by_path["owner.nmae"].errors == ["not in the schema -- did you mean 'name'?"]
    assert by_path["owner.extra"].suggestion is None
    assert by_path["owner.extra"].errors == ["not in the schema: a typo, or a field to remove"]
    assert by_path["owner.name"].missing and general == []


def test_field_rows_show_the_errors_of_a_row_stored_by_the_previous_version() -> None:
    """Old history rows hold (path, message) pairs: the missing field and the rest still show."""
    rows, general = field_rows(
        {"owner": {"nmae": "x"}},
        [
            ("$.owner", "'nmae' is not a field of $.owner in vehicle -- did you mean 'name'?"),
            ("$.owner.name", "is required"),
        ],
    )
    by_path = {r.path: r for r in rows}
    assert by_path["owner.name"].missing
    assert by_path["owner.nmae"].errors == [
        "'nmae' is not a field of $.owner in vehicle -- did you mean 'name'?"
    ]
    assert general == []


def test_safe_html_drops_handlers_and_remote_urls() -> None:
    safe = safe_html(
        '<img src="https://t.example/p.gif" onerror="x()"><p style="background:url(//e/x)">t</p>'
        '<a href="javascript:x()">j</a><script>x()</script>'
    )
    assert "onerror" not in safe.html and "script" not in safe.html
    assert "t.example" not in safe.html and "//e/x" not in safe.html
    assert "javascript" not in safe.html
    assert safe.blocked == ["https://t.example/p.gif", "//e/x"]


def test_accounts_guard_the_last_admin(env: ConsoleEnv) -> None:
    accounts = env.services.accounts
    with pytest.raises(AccountError, match="last active admin"):
        accounts.set_role("ada", "operator", by="ada")
    with pytest.raises(AccountError, match="too short"):
        accounts.create("bob", "short", "operator")
    with pytest.raises(AccountError, match="taken"):
        accounts.create("OLIVIA", "long-enough-password", "operator")


def test_create_user_command(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "users.db"
    monkeypatch.setenv("MAILCORE_DATABASE_URL", f"sqlite:///{db}")
    result = CliRunner().invoke(
        create_user, ["carol", "--role", "admin", "--password-stdin"], input="carol-password-1\n"
    )
    assert result.exit_code == 0, result.output
    from console.accounts import Accounts
    from mailcore.store.db import connect

    accounts = Accounts(connect(f"sqlite:///{db}"))
    user = accounts.authenticate("carol", "carol-password-1")
    assert user is not None and user.role == "admin"
    again = CliRunner().invoke(create_user, ["carol", "--password-stdin"], input="x\n")
    assert again.exit_code != 0 and "too short" in again.output


def test_a_hint_for_a_key_with_a_quote_stays_on_its_field_row() -> None:
    """The registry's hint reaches the field row as a record, whatever quotes its key needs."""
    from mailcore.processing.registry import Registry

    schema = {
        "type": "object",
        "required": ["owner_name"],
        "additionalProperties": False,
        "properties": {"owner_name": {"type": "string"}},
    }
    spec = Registry().add("vehicle", lambda ctx: None, prefix="V-", schema=schema)
    payload = {"owner'nme": "Ann"}
    rows, general = field_rows(payload, spec.validate(payload))
    by_path = {r.path: r for r in rows}
    assert by_path["owner'nme"].suggestion == "owner_name"
    assert by_path["owner'nme"].errors == ["not in the schema -- did you mean 'owner_name'?"]
    assert by_path["owner_name"].missing and general == []
