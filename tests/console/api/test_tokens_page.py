"""The admins' API tokens page: a token made there works on /api/v1 and its secret is shown
on that answer only; revoked there, it is refused; other roles cannot open the page."""

from __future__ import annotations

import re

from tests.console.conftest import ConsoleEnv, csrf_token


def test_an_admin_makes_uses_and_revokes_a_token(console_env: ConsoleEnv) -> None:
    admin = console_env.client("ada")
    token = csrf_token(admin, "/admin/tokens/")
    made = admin.post("/admin/tokens/", data={"name": "crm", "role": "author",
                                              "csrf_token": token})  # fmt: skip
    assert made.status_code == 201
    secret = re.search(r'<code id="token-secret">(mc_[A-Za-z0-9_-]{43})</code>', made.text)
    assert secret, made.text[:2000]
    api = console_env.app.test_client()
    bearer = {"Authorization": f"Bearer {secret.group(1)}"}
    assert api.get("/api/v1/templates/", headers=bearer).status_code == 200
    assert api.get("/api/v1/mail/failed/", headers=bearer).status_code == 403  # an author's
    listed = admin.get("/admin/tokens/").text
    assert 'data-token="crm" data-active="yes"' in listed and secret.group(1) not in listed
    again = admin.post("/admin/tokens/", data={"name": "crm", "role": "author",
                                               "csrf_token": token})  # fmt: skip
    assert again.status_code == 422 and "exists already" in again.text
    revoked = admin.post("/admin/tokens/crm/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert api.get("/api/v1/templates/", headers=bearer).status_code == 401
    assert 'data-token="crm" data-active="no"' in admin.get("/admin/tokens/").text
    kinds = [e.reason for e in console_env.services.history.events(actor="ada")]
    assert "API token crm created (author)" in kinds and "API token crm revoked" in kinds


def test_the_page_is_the_admins_and_needs_its_form_token(console_env: ConsoleEnv) -> None:
    for name in ("olivia", "arthur"):
        assert console_env.client(name).get("/admin/tokens/").status_code == 403
    admin = console_env.client("ada")
    refused = admin.post("/admin/tokens/", data={"name": "x", "role": "admin"})
    assert refused.status_code == 400  # no CSRF token: the console's forms stay protected
    assert "api-tokens" in admin.get("/admin/tokens/").text
