"""User management: only admins, every change recorded in the history and shown there."""

from __future__ import annotations

from tests.console.conftest import ConsoleEnv, csrf_token


def test_an_author_cannot_see_user_management(console_env: ConsoleEnv) -> None:
    author = console_env.client("arthur")
    assert author.get("/admin/").status_code == 403
    token = csrf_token(author, "/templates/")
    response = author.post("/admin/users/olivia/role", data={"role": "admin", "csrf_token": token})
    assert response.status_code == 403
    assert console_env.services.accounts.by_name("olivia").role == "operator"


def test_an_admin_creates_a_user_and_the_history_shows_who_did(console_env: ConsoleEnv) -> None:
    admin = console_env.client("ada")
    response = admin.post(
        "/admin/users",
        data={
            "username": "bruno",
            "email": "bruno@example.com",
            "role": "author",
            "password": "bruno-long-password",
            "confirm": "bruno-long-password",
            "csrf_token": csrf_token(admin, "/admin/"),
        },
    )
    assert response.status_code == 302
    bruno = console_env.services.accounts.by_name("bruno")
    assert bruno is not None and (bruno.role, bruno.email) == ("author", "bruno@example.com")
    assert console_env.services.accounts.authenticate("bruno", "bruno-long-password") is not None

    history = admin.get("/history/?kind=admin").get_data(as_text=True)
    assert "created user bruno with role author" in history
    row = history.split("created user bruno")[0].rsplit("<tr>", 1)[1]
    assert '<td class="actor">ada</td>' in row
    users_page = admin.get("/admin/").get_data(as_text=True)
    assert "<strong>ada</strong> created user bruno with role author" in users_page


def test_form_errors_are_shown_next_to_their_field(console_env: ConsoleEnv) -> None:
    admin = console_env.client("ada")
    response = admin.post(
        "/admin/users",
        data={
            "username": "olivia",  # taken
            "role": "operator",
            "password": "short",
            "confirm": "other",
            "csrf_token": csrf_token(admin, "/admin/"),
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<p class="error" id="password-error">Too short: at least 10 characters.</p>' in html
    assert '<p class="error" id="confirm-error">The two passwords differ' in html

    taken = admin.post(
        "/admin/users",
        data={
            "username": "olivia",
            "role": "operator",
            "password": "a-long-enough-pw",
            "confirm": "a-long-enough-pw",
            "csrf_token": csrf_token(admin, "/admin/"),
        },
    )
    assert taken.status_code == 422
    assert "Username &#39;olivia&#39; is already taken." in taken.get_data(as_text=True)


def test_disable_enable_and_change_role_are_recorded(console_env: ConsoleEnv) -> None:
    admin = console_env.client("ada")
    token = csrf_token(admin, "/admin/")
    accounts = console_env.services.accounts

    admin.post("/admin/users/olivia/active", data={"active": "0", "csrf_token": token})
    assert accounts.by_name("olivia").active is False
    assert accounts.authenticate("olivia", console_env.password("olivia")) is None
    admin.post("/admin/users/olivia/active", data={"active": "1", "csrf_token": token})
    assert accounts.by_name("olivia").active is True
    admin.post("/admin/users/olivia/role", data={"role": "author", "csrf_token": token})
    assert accounts.by_name("olivia").role == "author"

    events = console_env.services.history.events(kind="admin", actor="ada")
    reasons = [e.reason for e in reversed(events)]
    assert reasons == [
        "disabled user olivia",
        "enabled user olivia",
        "changed role of olivia from operator to author",
    ]


def test_an_admin_cannot_disable_their_own_account(console_env: ConsoleEnv) -> None:
    admin = console_env.client("ada")
    token = csrf_token(admin, "/admin/")
    response = admin.post(
        "/admin/users/ada/active", data={"active": "0", "csrf_token": token}, follow_redirects=True
    )
    assert "You cannot disable your own account" in response.get_data(as_text=True)
    assert console_env.services.accounts.by_name("ada").active is True


def test_a_disabled_user_loses_access_at_the_next_request(console_env: ConsoleEnv) -> None:
    operator = console_env.client("olivia")
    assert operator.get("/failed/").status_code == 200
    admin = console_env.client("ada")
    admin.post(
        "/admin/users/olivia/active",
        data={"active": "0", "csrf_token": csrf_token(admin, "/admin/")},
    )
    assert operator.get("/failed/").status_code in (302, 401)


def test_an_admin_resetting_their_own_password_keeps_this_session_only(
    console_env: ConsoleEnv,
) -> None:
    here, elsewhere = console_env.client("ada"), console_env.client("ada")
    response = here.post(
        "/admin/users/ada/password",
        data={"password": "ada-new-password", "csrf_token": csrf_token(here, "/admin/")},
        follow_redirects=True,
    )
    assert "Password of ada changed and their sessions ended" in response.get_data(as_text=True)
    assert here.get("/admin/").status_code == 200
    assert elsewhere.get("/admin/").status_code == 302


def test_an_admin_edits_and_removes_an_e_mail_address(console_env: ConsoleEnv) -> None:
    admin = console_env.client("ada")
    token = csrf_token(admin, "/admin/")
    accounts = console_env.services.accounts
    admin.post(
        "/admin/users/olivia/email", data={"email": " olivia@example.com ", "csrf_token": token}
    )
    assert accounts.by_name("olivia").email == "olivia@example.com"
    page = admin.get("/admin/").get_data(as_text=True)
    assert "E-mail of olivia is now olivia@example.com." in page
    refused = admin.post(
        "/admin/users/olivia/email", data={"email": "not an address", "csrf_token": token}
    )
    assert refused.status_code == 302
    assert accounts.by_name("olivia").email == "olivia@example.com"
    assert "E-mail of olivia not changed: invalid e-mail address" in admin.get("/admin/").get_data(
        as_text=True
    )
    admin.post("/admin/users/olivia/email", data={"email": "", "csrf_token": token})
    assert accounts.by_name("olivia").email is None
    assert "changed e-mail of olivia" in admin.get("/history/?kind=admin").get_data(as_text=True)


def test_an_admin_deletes_a_user_who_then_cannot_log_in(console_env: ConsoleEnv) -> None:
    olivia = console_env.client("olivia")
    admin = console_env.client("ada")
    token = csrf_token(admin, "/admin/")
    unconfirmed = admin.post("/admin/users/olivia/delete", data={"csrf_token": token})
    assert unconfirmed.status_code == 302
    assert console_env.services.accounts.by_name("olivia") is not None
    admin.post("/admin/users/olivia/delete", data={"confirm": "1", "csrf_token": token})
    assert console_env.services.accounts.by_name("olivia") is None
    assert olivia.get("/failed/").status_code == 302  # the open session ended with the account
    response = console_env.log_in(console_env.app.test_client(), "olivia")
    assert response.status_code == 401
    assert "deleted user olivia" in admin.get("/history/?kind=admin").get_data(as_text=True)
    own = admin.post("/admin/users/ada/delete", data={"confirm": "1", "csrf_token": token})
    assert own.status_code == 302 and console_env.services.accounts.by_name("ada") is not None


def test_each_admin_page_links_to_the_others(console_env: ConsoleEnv) -> None:
    import re

    admin = console_env.client("ada")
    pages = ["/admin/", "/admin/keys/", "/admin/oauth2/", "/admin/webhooks/", "/admin/tokens/"]
    for page in pages:
        response = admin.get(page)
        if response.status_code == 404:  # a page whose blueprint this console leaves out
            continue
        html = response.get_data(as_text=True)
        tabs = html.split('<nav class="tabs"', 1)[1].split("</nav>", 1)[0]
        linked = re.findall(r'href="([^"]+)"', tabs)
        assert page in linked, (page, linked)
        current = re.findall(r'href="([^"]+)" aria-current="page"', tabs)
        assert current == [page], (page, current)
        nav = html.split('<nav class="nav"', 1)[1].split("</nav>", 1)[0]
        assert 'href="/admin/" aria-current="page"' in nav or page == "/admin/keys/"
    assert len(linked) >= 4  # users, keys, OAuth2 accounts, webhooks (and API tokens)
