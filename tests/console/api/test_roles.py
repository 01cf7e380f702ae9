"""Every endpoint x every role: a token of one role cannot do another's actions (403), the
roles allowed get past the check; no token, an unknown or revoked one: 401; cookies grant
nothing on /api."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console.api.conftest import ROLES, ApiEnv
from tests.console.conftest import failed_uid

# (method, path, body, the role it needs); {uid}: a failed mail's UID.
DRAFT = {"subject": "Hello {{ name }}", "body": "Dear {{ name }}", "sample_data": {"name": "A"}}
ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("GET", "/api/v1/mail/failed/", None, "operator"),
    ("GET", "/api/v1/mail/processed/?per_page=5", None, "operator"),
    ("GET", "/api/v1/mail/failed/{uid}", None, "operator"),
    ("POST", "/api/v1/mail/failed/{uid}/validate", {"payload": {}}, "operator"),
    ("POST", "/api/v1/mail/failed/{uid}/resubmit", {"payload": {}}, "operator"),
    ("POST", "/api/v1/mail/failed/{uid}/rerun", None, "operator"),
    ("POST", "/api/v1/mail/failed/rerun", {"uids": [999999]}, "operator"),
    ("POST", "/api/v1/mail/failed/999999/reject", {"note": "spam"}, "operator"),
    ("POST", "/api/v1/mail/rejected/999999/undo", {"note": "oops"}, "operator"),
    ("GET", "/api/v1/mail/today", None, "operator"),
    (
        "POST",
        "/api/v1/send",
        {"template": "nope", "data": {}, "to": ["a@example.com"], "identifier": "ORD-1"},
        "operator",
    ),  # fmt: skip
    ("GET", "/api/v1/templates/", None, "author"),
    ("GET", "/api/v1/templates/nope/versions", None, "author"),
    ("GET", "/api/v1/templates/nope/versions/1", None, "author"),
    ("POST", "/api/v1/templates/welcome/preview", DRAFT, "author"),
    ("POST", "/api/v1/templates/welcome", DRAFT, "author"),
    ("POST", "/api/v1/templates/nope/versions/1/restore", None, "author"),
    ("GET", "/api/v1/history/", None, "admin"),
    ("GET", "/api/v1/history/messages/nope", None, "admin"),
    ("GET", "/api/v1/history/counts", None, "admin"),
    ("GET", "/api/v1/admin/users", None, "admin"),
    ("POST", "/api/v1/admin/users", {"username": "x", "password": "p"}, "admin"),
    ("PATCH", "/api/v1/admin/users/nobody", {"role": "author"}, "admin"),
    ("DELETE", "/api/v1/admin/users/nobody", None, "admin"),
    ("GET", "/api/v1/admin/tokens", None, "admin"),
    ("POST", "/api/v1/admin/tokens", {"name": "new-bot", "role": "operator"}, "admin"),
    ("DELETE", "/api/v1/admin/tokens/operator-bot", None, "admin"),
]


def _allowed(role: str, needed: str) -> bool:
    return role == "admin" or role == needed


def _error(response: Any) -> dict[str, Any]:
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    return dict(body["error"])


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_its_endpoints_and_only_those(api: ApiEnv, role: str) -> None:
    uid = failed_uid(api.env, "VEH-1046")
    for method, path, body, needed in ENDPOINTS:
        response = api.call(role, method, path.format(uid=uid), body)
        if _allowed(role, needed):
            assert response.status_code not in (401, 403, 500), (method, path, response.json)
        else:
            assert response.status_code == 403, (method, path, response.status_code)
            assert _error(response)["code"] == "forbidden"
            assert needed in _error(response)["message"]


def test_without_a_valid_token_every_endpoint_answers_401(api: ApiEnv) -> None:
    client = api.client
    for method, path, body, _needed in ENDPOINTS:
        path = path.format(uid=1)
        for headers in (
            {},
            {"Authorization": "Bearer mc_not-a-token"},
            {"Authorization": "Basic eA=="},
        ):
            response = client.open(path, method=method, json=body, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert _error(response)["code"] == "unauthorized"


def test_a_revoked_token_is_refused(api: ApiEnv) -> None:
    assert api.call("operator", "GET", "/api/v1/mail/failed/").status_code == 200
    revoked = api.call("admin", "DELETE", "/api/v1/admin/tokens/operator-bot")
    assert revoked.status_code == 200 and revoked.json["revoked_by"] == "token:admin-bot"
    response = api.call("operator", "GET", "/api/v1/mail/failed/")
    assert response.status_code == 401
    assert "revoked" in _error(response)["message"]


def test_a_logged_in_browser_gets_nothing_without_a_token(api: ApiEnv) -> None:
    """Cookies are not read on /api: an operator's session (and so a cross-site form riding
    on it) cannot act; and no CSRF token is asked of bearer requests."""
    browser = api.env.client("ada")
    assert browser.get("/api/v1/mail/failed/").status_code == 401
    uid = failed_uid(api.env, "VEH-1046")
    assert browser.post(f"/api/v1/mail/failed/{uid}/reject", json={"note": "x"}).status_code == 401
    done = api.call("operator", "POST", f"/api/v1/mail/failed/{uid}/reject", {"note": "spam"})
    assert done.status_code == 200, done.json
    assert done.json["status"] == "rejected"


def test_unknown_paths_and_methods_answer_in_the_error_shape(api: ApiEnv) -> None:
    missing = api.call("admin", "GET", "/api/v1/nothing-here")
    assert missing.status_code == 404 and _error(missing)["code"] == "not_found"
    wrong = api.call("admin", "PUT", "/api/v1/mail/today")
    assert wrong.status_code == 405 and _error(wrong)["code"] == "method_not_allowed"
    page = api.env.client("olivia").get("/nothing-here")
    assert page.status_code == 404 and page.mimetype == "text/html"  # the console's own
