"""Templates through the API as in the editor: a preview lists problems, a save that does
not render is refused with them (nothing saved), a good one becomes version 1, a change
version 2, an old version restored as version 3; the editor's rules hold (reserved names, a
new template whose name is taken); the history page's filters give the same rows."""

from __future__ import annotations

from tests.console.api.conftest import ApiEnv

DRAFT = {"subject": "Hello {{ name }}", "body": "Dear {{ name }},\n\nyour file.",
         "sample_data": {"name": "Ann"}}  # fmt: skip


def test_preview_save_versions_restore(api: ApiEnv) -> None:
    bad = {**DRAFT, "body": "Dear {{ nam }}"}
    preview = api.call("author", "POST", "/api/v1/templates/welcome/preview", bad).json
    assert preview["ok"] is False and any("nam" in p["message"] for p in preview["problems"])
    refused = api.call("author", "POST", "/api/v1/templates/welcome", bad)
    assert refused.status_code == 422 and refused.json["error"]["code"] == "not_saved"
    assert "body" in refused.json["error"]["fields"]
    assert api.call("author", "GET", "/api/v1/templates/welcome/versions").status_code == 404
    first = api.call("author", "POST", "/api/v1/templates/welcome", {**DRAFT, "base": 0})
    assert first.status_code == 201 and first.json["number"] == 1
    assert first.json["by"] == "token:author-bot"
    taken = api.call("author", "POST", "/api/v1/templates/welcome", {**DRAFT, "base": 0})
    assert taken.status_code == 409 and "already exists" in taken.json["error"]["message"]
    fr = {"fr": {"subject": "Bonjour {{ name }}", "body": "Cher {{ name }}"}}
    changed = {**DRAFT, "subject": "Hi {{ name }}", "variants": fr, "note": "fr"}
    second = api.call("author", "POST", "/api/v1/templates/welcome", changed)
    assert second.json["number"] == 2 and second.json["variants"] == fr
    shown = api.call("author", "POST", "/api/v1/templates/welcome/preview",
                     {**DRAFT, "variants": fr, "language": "fr"}).json  # fmt: skip
    assert shown["language"] == "fr" and "Cher Ann" in shown["text"]
    restored = api.call("author", "POST", "/api/v1/templates/welcome/versions/1/restore")
    assert restored.status_code == 201 and restored.json["restored_from"] == 1
    listed = api.call("author", "GET", "/api/v1/templates/").json["templates"]
    assert [(t["name"], t["versions"]) for t in listed] == [("welcome", 3)]
    versions = api.call("author", "GET", "/api/v1/templates/welcome/versions").json["versions"]
    assert [v["number"] for v in versions] == [3, 2, 1]
    reserved = api.call("author", "POST", "/api/v1/templates/preview", DRAFT)  # the route
    assert reserved.status_code in (404, 405, 422)
    new = api.call("author", "POST", "/api/v1/templates/sample", DRAFT)
    assert new.status_code == 422 and "reserved" in new.json["error"]["message"]


def test_history_search_and_timeline(api: ApiEnv) -> None:
    found = api.call("admin", "GET", "/api/v1/history/?status=failed&per_page=2").json
    assert found["messages"] and all(m["status"] == "failed" for m in found["messages"])
    key = found["messages"][0]["message_key"]
    timeline = api.call("admin", "GET", f"/api/v1/history/messages/{key}").json
    assert timeline["events"][0]["kind"] == "received"
    bad = api.call("admin", "GET", "/api/v1/history/?status=nonsense")
    assert bad.status_code == 422 and "status" in bad.json["error"]["fields"]


def test_counts_and_accounts(api: ApiEnv) -> None:
    counts = api.call("admin", "GET", "/api/v1/history/counts?status=failed").json["counts"]
    total = api.env.services.engine.failed_page(1, 1).total
    assert sum(c["count"] for c in counts) == total and {c["status"] for c in counts} == {"failed"}
    weak = api.call("admin", "POST", "/api/v1/admin/users", {"username": "bob", "password": "x"})
    assert weak.status_code == 422 and "password" in weak.json["error"]["fields"]
    bob = {"username": "bob", "password": "bob-long-password", "role": "author"}
    made = api.call("admin", "POST", "/api/v1/admin/users", bob)
    assert made.status_code == 201 and "password" not in made.json
    change = {"role": "operator", "active": False}
    changed = api.call("admin", "PATCH", "/api/v1/admin/users/bob", change)
    assert changed.json == {"username": "bob", "role": "operator", "email": None, "active": False}
    assert api.call("admin", "DELETE", "/api/v1/admin/users/bob").status_code == 204
    assert api.call("admin", "DELETE", "/api/v1/admin/users/bob").status_code == 404
    last = api.call("admin", "PATCH", "/api/v1/admin/users/ada", {"role": "author"})
    assert last.status_code == 422  # the last active admin keeps the role
