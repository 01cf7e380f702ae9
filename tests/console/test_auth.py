"""Login, roles, CSRF and security headers of the console (Flask test client, real stores)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from console.demo import sample_mails
from tests.console.conftest import ConsoleEnv, csrf_token


@pytest.fixture
def env(console_env: ConsoleEnv) -> ConsoleEnv:
    """The console with the demo mails polled, so the failed folder has messages."""
    svc = console_env.services
    for _name, raw in sample_mails():
        svc.mailbox.append("INBOX", raw)
    svc.engine.poll_once()
    return console_env


def first_failed_uid(env: ConsoleEnv) -> int:
    return env.services.engine.failed_page(1, 1).items[0].summary.uid


def protected_urls(env: ConsoleEnv) -> list[str]:
    """Every GET page of the console that needs no URL argument but a login."""
    uid = first_failed_uid(env)
    urls = ["/failed/", f"/failed/{uid}", f"/failed/{uid}/html", f"/failed/{uid}/raw"]
    urls.append(f"/failed/{uid}/attachments/0")
    for rule in env.app.url_map.iter_rules():
        if (
            "GET" in (rule.methods or ())
            and not rule.arguments
            and not rule.rule.startswith("/api/")  # bearer tokens, 401: tests/console/api
            and rule.endpoint
            not in (
                "static",
                "auth.login",
                "index",
            )
        ):
            urls.append(rule.rule)
    return sorted(set(urls))


def test_every_page_requires_login(env: ConsoleEnv) -> None:
    client = env.client()
    urls = protected_urls(env)
    assert len(urls) >= 5
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"], url


def test_posts_require_login(env: ConsoleEnv) -> None:
    client = env.client()
    token = csrf_token(client, "/login")
    uid = first_failed_uid(env)
    response = client.post(f"/failed/{uid}/resubmit", data={"payload": "{}", "csrf_token": token})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert uid in env.services.mailbox.uids("failed")


def test_wrong_password_is_refused(env: ConsoleEnv) -> None:
    client = env.client()
    response = env.log_in(client, "olivia", "not-her-password")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)
    assert client.get("/failed/").status_code == 302


def test_unknown_user_and_disabled_account_are_refused(env: ConsoleEnv) -> None:
    accounts = env.services.accounts
    assert accounts.authenticate("nobody", "whatever-password") is None
    accounts.set_active("olivia", False, by="ada")
    assert accounts.authenticate("olivia", env.password("olivia")) is None


def test_right_password_logs_in_and_logout_needs_post(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    assert client.get("/failed/").status_code == 200
    assert client.get("/logout").status_code == 405  # a link cannot log anyone out
    token = csrf_token(client, "/failed/")
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/failed/").status_code == 302


def test_open_redirect_after_login_is_refused(env: ConsoleEnv) -> None:
    client = env.client()
    response = env.log_in(client, "olivia", next="https://evil.example/phish")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_operator_cannot_reach_admin_pages(env: ConsoleEnv) -> None:
    admin_urls = [
        r.rule
        for r in env.app.url_map.iter_rules()
        if r.endpoint.startswith("admin.") and not r.arguments and "GET" in (r.methods or ())
    ]
    if not admin_urls:
        pytest.skip("the admin blueprint is not installed")
    operator = env.client("olivia")
    admin = env.client("ada")
    for url in admin_urls:
        assert operator.get(url).status_code == 403, url
    assert admin.get(admin_urls[0]).status_code == 200


def test_author_cannot_reach_the_failed_mailbox(env: ConsoleEnv) -> None:
    author = env.client("arthur")
    uid = first_failed_uid(env)
    assert author.get("/failed/").status_code == 403
    assert author.get(f"/failed/{uid}").status_code == 403
    token = csrf_token(author, "/")
    response = author.post(f"/failed/{uid}/reject", data={"note": "spam", "csrf_token": token})
    assert response.status_code == 403
    assert uid in env.services.mailbox.uids("failed")


def test_admin_passes_operator_checks(env: ConsoleEnv) -> None:
    assert env.client("ada").get("/failed/").status_code == 200


def test_post_without_csrf_token_is_refused(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    uid = first_failed_uid(env)
    response = client.post(f"/failed/{uid}/reject", data={"note": "spam"})
    assert response.status_code == 400
    response = client.post(
        f"/failed/{uid}/reject", data={"note": "spam"}, headers={"X-CSRFToken": "forged"}
    )
    assert response.status_code == 400
    assert uid in env.services.mailbox.uids("failed")


def test_login_form_without_csrf_token_is_refused(env: ConsoleEnv) -> None:
    client = env.client()
    response = client.post(
        "/login", data={"username": "olivia", "password": env.password("olivia")}
    )
    assert response.status_code == 400


def test_htmx_header_token_is_accepted(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    uid = first_failed_uid(env)
    token = csrf_token(client, f"/failed/{uid}")
    response = client.post(
        f"/failed/{uid}/validate",
        data={
            "payload": '{"plate_number": "AB-123-CD"}',
            "syntax": "json",
            "handler": "vehicle_registration",
        },
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "required: this field is missing" in response.get_data(as_text=True)


def test_security_headers(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    response = client.get("/failed/")
    csp = response.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'self'" in csp
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script in a page"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler in a page"
    uid = first_failed_uid(env)
    frame = client.get(f"/failed/{uid}/html")
    if frame.status_code == 200:
        assert frame.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_session_cookie_is_httponly_and_samesite(env: ConsoleEnv) -> None:
    client = env.client()
    response = env.log_in(client, "olivia")
    cookie = next(
        v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session=")
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_repeated_wrong_passwords_lock_the_account_with_a_clear_message(env: ConsoleEnv) -> None:
    client = env.client()

    for _ in range(4):
        assert env.log_in(client, "olivia", "wrong-password").status_code == 401
    locked = env.log_in(client, "olivia", "wrong-password")
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    message = "Too many failed attempts for this account from your network address; try again"
    message += " in 1 minute."
    assert message in locked.get_data(as_text=True)
    # Refused even with the right password while locked: guessing gains nothing.
    again = env.log_in(client, "olivia")
    assert again.status_code == 429 and message in again.get_data(as_text=True)
    assert client.get("/failed/").status_code == 302
    # Other accounts from the same address still log in.
    assert env.client("ada").get("/failed/").status_code == 200


def test_the_login_throttle_follows_the_console_settings(tmp_path: Path) -> None:
    from console import create_app
    from console.services import build_services
    from mailcore.config import Settings
    from mailcore.errors import ConfigError

    data = {
        "maildir": str(tmp_path / "mail"),
        "database_url": f"sqlite:///{tmp_path / 'console.db'}",
        "console": {"login_max_failures_per_user": 2},
    }
    env = {"MAILCORE_CONSOLE_LOGIN_FIRST_LOCKOUT_MINUTES": "7"}
    svc = build_services(Settings.from_mapping(data, env))
    try:
        svc.accounts.create("olivia", "olivia-password-1", "operator", by="test")
        app = create_app({"TESTING": True, "SECRET_KEY": "k", "MAILCORE_SERVICES": svc})
        client = app.test_client()

        def attempt() -> tuple[int, str]:
            form = {
                "username": "olivia",
                "password": "wrong-password",
                "csrf_token": csrf_token(client, "/login"),
            }
            response = client.post("/login", data=form)
            return response.status_code, response.get_data(as_text=True)

        assert attempt()[0] == 401
        status, page = attempt()  # the second failure locks, not the fifth
        assert status == 429 and "try again in 7 minutes" in page
    finally:
        svc.close()
    bad = {**env, "MAILCORE_CONSOLE_LOGIN_WINDOW_MINUTES": "a quarter hour"}
    with pytest.raises(ConfigError, match="MAILCORE_CONSOLE_LOGIN_WINDOW_MINUTES"):
        build_services(Settings.from_mapping(data, bad))


# -- sessions end on logout, password change and disable -----------------------------------


def cookie(client: FlaskClient, name: str) -> str:
    found = client.get_cookie(name)
    assert found is not None, f"no {name} cookie"
    return found.value


def replay(env: ConsoleEnv, **cookies: str) -> FlaskClient:
    """A fresh client holding only `cookies` (as an attacker who copied them would)."""
    client = env.app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def logged_in(client: FlaskClient) -> bool:
    response = client.get("/failed/")
    if response.status_code in (302, 401):
        assert response.status_code == 401 or "/login" in response.headers["Location"]
        return False
    assert response.status_code == 200
    return True


def log_out(client: FlaskClient) -> None:
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/failed/")})
    assert response.status_code == 302


def test_after_logout_the_old_session_cookie_is_refused(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    stolen = cookie(client, "session")
    assert logged_in(replay(env, session=stolen))
    log_out(client)
    assert not logged_in(client)
    assert not logged_in(replay(env, session=stolen))


def test_after_logout_the_old_remember_me_cookie_is_refused(env: ConsoleEnv) -> None:
    client = env.app.test_client()
    assert env.log_in(client, "olivia", remember="y").status_code == 302
    token = cookie(client, "remember_token")
    assert logged_in(replay(env, remember_token=token))  # the cookie alone logs in
    log_out(client)
    assert not logged_in(replay(env, remember_token=token))


def test_logout_ends_only_that_session(env: ConsoleEnv) -> None:
    laptop, phone = env.client("olivia"), env.client("olivia")
    log_out(laptop)
    assert not logged_in(laptop)
    assert logged_in(phone)


def admin_post(env: ConsoleEnv, path: str, **data: str) -> None:
    admin = env.client("ada")
    response = admin.post(path, data={**data, "csrf_token": csrf_token(admin, "/admin/")})
    assert response.status_code == 302


def olivia_everywhere(env: ConsoleEnv) -> list[FlaskClient]:
    """Olivia logged in three ways: a session, a remembered session, the remember cookie alone."""
    plain = env.client("olivia")
    remembered = env.app.test_client()
    assert env.log_in(remembered, "olivia", remember="y").status_code == 302
    only_cookie = replay(env, remember_token=cookie(remembered, "remember_token"))
    clients = [plain, remembered, only_cookie, replay(env, session=cookie(plain, "session"))]
    assert all(logged_in(c) for c in clients)
    return clients


def test_a_password_reset_ends_every_session_of_that_user_and_no_other(env: ConsoleEnv) -> None:
    olivia = olivia_everywhere(env)
    others = [env.client("arthur"), env.client("ada")]
    assert others[0].get("/templates/").status_code == 200
    admin_post(env, "/admin/users/olivia/password", password="a-brand-new-password")
    assert not any(logged_in(c) for c in olivia)
    assert others[0].get("/templates/").status_code == 200
    assert logged_in(others[1])
    env.users["olivia"] = ("operator", "a-brand-new-password")
    assert logged_in(env.client("olivia"))  # the new password works


def test_a_password_change_through_accounts_ends_every_session(env: ConsoleEnv) -> None:
    olivia = olivia_everywhere(env)
    env.services.accounts.set_password("olivia", "another-new-password", by="olivia")
    assert not any(logged_in(c) for c in olivia)


def test_disabling_ends_every_session_for_good(env: ConsoleEnv) -> None:
    olivia = olivia_everywhere(env)
    admin_post(env, "/admin/users/olivia/active", active="0")
    assert not any(logged_in(c) for c in olivia)
    # Enabled again, the account does not bring its old sessions back to life.
    admin_post(env, "/admin/users/olivia/active", active="1")
    assert not any(logged_in(c) for c in olivia)
    assert logged_in(env.client("olivia"))


def test_a_forged_or_old_style_session_id_is_refused(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    with client.session_transaction() as session:
        session["_user_id"] = str(env.services.accounts.by_name("ada").id)  # before: a user id
    assert client.get("/admin/").status_code in (302, 401)


# -- lockout cannot be turned against a legitimate user ------------------------------------


def client_at(env: ConsoleEnv, address: str) -> FlaskClient:
    client = env.app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_wrong_passwords_from_one_address_do_not_lock_the_user_out_elsewhere(
    env: ConsoleEnv,
) -> None:
    attacker = client_at(env, "203.0.113.66")
    statuses = [env.log_in(attacker, "ada", "guessed-password").status_code for _ in range(8)]
    assert statuses[:4] == [401] * 4 and set(statuses[4:]) == {429}
    # The right password from the attacker's address is refused: guessing gains nothing ...
    assert env.log_in(attacker, "ada").status_code == 429
    # ... while ada, at her own address, gets in.
    ada = client_at(env, "198.51.100.7")
    assert env.log_in(ada, "ada").status_code == 302
    assert ada.get("/admin/").status_code == 200


def test_an_attacker_re_locking_every_hour_never_keeps_the_user_out(env: ConsoleEnv) -> None:
    from datetime import timedelta

    accounts = env.services.accounts
    now = accounts.clock()
    accounts.clock = lambda: now
    attacker = client_at(env, "203.0.113.66")
    ada = client_at(env, "198.51.100.7")
    for _hour in range(24):
        for _ in range(6):
            env.log_in(attacker, "ada", "guessed-password")
        assert env.log_in(ada, "ada").status_code == 302
        log_out(ada)
        now += timedelta(minutes=61)


def test_an_address_that_keeps_failing_is_throttled_for_every_account(env: ConsoleEnv) -> None:
    sprayer = client_at(env, "203.0.113.99")
    statuses = [
        env.log_in(sprayer, f"user{i}", "spring2026-password").status_code for i in range(25)
    ]
    assert 429 in statuses and statuses[-1] == 429
    assert "from your network address" in env.log_in(sprayer, "olivia").get_data(as_text=True)
    assert env.log_in(sprayer, "olivia").status_code == 429
    assert env.log_in(client_at(env, "198.51.100.8"), "olivia").status_code == 302


def test_logging_in_again_replaces_the_session(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    before = cookie(client, "session")
    assert env.log_in(client, "olivia").status_code == 302
    assert logged_in(client)
    assert not logged_in(replay(env, session=before))
