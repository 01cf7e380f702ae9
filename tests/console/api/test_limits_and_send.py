"""The per-token rate limit (429 with Retry-After, other tokens unaffected), the send API
against a real SMTP server (composed, filed in Sent, recorded, its Message-ID out), the
error shape of a refused request, and `mailcore token`."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests.console.api.conftest import ApiEnv, make_tokens
from tests.console.conftest import ConsoleEnv


def test_a_token_over_its_rate_is_refused_with_retry_after(app_factory: Any) -> None:
    env: ConsoleEnv = app_factory(MAILCORE_API_RATE_LIMIT="3/minute")
    api = ApiEnv(env, make_tokens(env))
    codes = [api.call("operator", "GET", "/api/v1/mail/today").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = api.call("operator", "GET", "/api/v1/mail/today")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.json["error"]["code"] == "rate_limited"
    assert api.call("author", "GET", "/api/v1/templates/").status_code == 200  # its own count


def test_invalid_fields_answer_422_in_the_one_shape(api: ApiEnv) -> None:
    response = api.call("operator", "POST", "/api/v1/send", {"template": "", "to": "x"})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid"
    assert {"template", "to", "data", "identifier"} <= set(error["fields"]), error


def _settings(server: Any, maildir: Path) -> Any:
    from mailcore import Settings

    return Settings.from_mapping(
        {
            "maildir": str(maildir),
            "smtp": {"url": f"smtp://{server.host}:{server.port}?security=plain",
                     "sender": "Registrations <registrations@example.com>",
                     "sent_folder": "Sent"},
            "database_url": "sqlite://",  # never opened: the console's database is used
        }
    )  # fmt: skip


def test_send_composes_sends_files_and_records(api: ApiEnv, tmp_path: Path) -> None:
    from mailcore import MaildirMailbox
    from tests.mailcore.smtp_server import smtp_server

    api.env.services.templates.save(
        "welcome", "Welcome {{ name }}", "Dear {{ name }},\n\nyour file {{ ref }}.",
        {"name": "Ann", "ref": "F-1"},
        "first", "test", variants={"fr": ("Bienvenue {{ name }}", "Cher {{ name }}")},
    )  # fmt: skip
    body = {"template": "welcome", "data": {"name": "Zoë", "ref": "F-7"},
            "to": ["ann@example.com"], "identifier": "F-7"}  # fmt: skip
    with smtp_server() as server:
        api.env.services.settings = _settings(server, tmp_path / "mail")
        sent = api.call("operator", "POST", "/api/v1/send", body)
        french = api.call("operator", "POST", "/api/v1/send", {**body, "language": "fr"})
    assert sent.status_code == 201, sent.json
    first, second = server.recorder.messages
    parsed = email.message_from_bytes(first.data, policy=policy.default)
    assert parsed["Message-ID"] == sent.json["message_id"]
    assert parsed["Subject"] == "[F-7] Welcome Zoë" and first.rcpt_tos == ["ann@example.com"]
    types = {p.get_content_type() for p in parsed.walk()}
    assert {"text/plain", "text/html", "application/json"} <= types
    assert french.status_code == 201
    assert "Bienvenue" in email.message_from_bytes(second.data, policy=policy.default)["Subject"]
    box = MaildirMailbox(tmp_path / "mail")
    assert len(box.uids("Sent")) == 2  # filed as `mailcore send` files them
    recorded = api.env.services.history.events(actor="token:operator-bot")
    assert {e.message_id for e in recorded} >= {sent.json["message_id"]}
    assert {e.kind for e in recorded if e.message_id == sent.json["message_id"]} == {"sent"}


def test_send_without_smtp_settings_says_which_to_set(api: ApiEnv) -> None:
    body = {"template": "welcome", "data": {}, "to": ["a@example.com"], "identifier": "F-1"}
    api.env.services.templates.save("welcome", "Hi", "Hello", {}, "first", "test")
    response = api.call("operator", "POST", "/api/v1/send", body)
    assert response.status_code == 503
    assert response.json["error"]["code"] == "not_configured"
    assert "smtp" in response.json["error"]["message"].lower()


def test_api_actions_are_in_the_history_under_the_tokens_name(api: ApiEnv) -> None:
    from tests.console.conftest import failed_uid

    uid = failed_uid(api.env, "VEH-1046")
    done = api.call("operator", "POST", f"/api/v1/mail/failed/{uid}/reject", {"note": "spam"})
    assert done.status_code == 200
    events = api.call("admin", "GET", "/api/v1/history/?kind=rejected").json["events"]
    assert [e["actor"] for e in events] == ["token:operator-bot"]
    today = api.call("operator", "GET", "/api/v1/mail/today").json["rows"]
    assert today and today[0]["status"] == "rejected"


def test_token_commands(tmp_path: Path, monkeypatch: Any) -> None:
    from console.api_tokens import token

    monkeypatch.setenv("MAILCORE_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv("MAILCORE_CONFIG", raising=False)
    runner = CliRunner()
    made = runner.invoke(token, ["create", "ci-bot", "--role", "author"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("mc_") and len(secret) == 46
    again = runner.invoke(token, ["create", "ci-bot"])
    assert again.exit_code != 0 and "exists already" in again.output
    listed = runner.invoke(token, ["list"]).stdout
    assert "ci-bot\tauthor" in listed and secret not in listed and "active" in listed
    assert runner.invoke(token, ["revoke", "ci-bot"]).exit_code == 0
    assert "revoked" in runner.invoke(token, ["list"]).stdout
    assert runner.invoke(token, ["revoke", "nope"]).exit_code != 0


def test_tokens_through_the_api(api: ApiEnv) -> None:
    made = api.call("admin", "POST", "/api/v1/admin/tokens", {"name": "crm", "role": "author"})
    assert made.status_code == 201 and made.json["token"].startswith("mc_")
    listed = api.call("admin", "GET", "/api/v1/admin/tokens").json["tokens"]
    assert "crm" in {t["name"] for t in listed}
    assert all("token" not in t and "digest" not in t for t in listed)
    twice = api.call("admin", "POST", "/api/v1/admin/tokens", {"name": "crm", "role": "author"})
    assert twice.status_code == 409
    bad = api.call("admin", "POST", "/api/v1/admin/tokens", {"name": "-x y", "role": "author"})
    assert bad.status_code == 422
    bearer = {"Authorization": f"Bearer {made.json['token']}"}
    assert api.client.get("/api/v1/templates/", headers=bearer).status_code == 200
