"""The console in English and French: the catalogs, the language of a request (the user's
preference, else the browser's Accept-Language) and the preference itself."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from console.translations import DIRECTORY, LANGUAGES, catalog_bytes, compile_catalogs
from tests.console.conftest import ConsoleEnv, csrf_token

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}


def _forms(value: object) -> tuple[str, ...]:
    """A message's id or string as a tuple (plural messages have several forms)."""
    return (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]


def _messages(mo: Any) -> dict[tuple[str, ...], tuple[str, ...]]:
    return {_forms(m.id): _forms(m.string) for m in read_mo(mo) if m.id}


def test_every_language_has_a_complete_catalog_and_its_mo_is_current() -> None:
    for code in LANGUAGES:
        if code == "en":
            continue  # the source strings
        po = DIRECTORY / code / "LC_MESSAGES" / "messages.po"
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=code)
        untranslated = [m.id for m in catalog if m.id and not all(_forms(m.string))]
        assert not untranslated, f"{code}: untranslated {untranslated[:5]}"
        with po.with_suffix(".mo").open("rb") as fh:
            committed = _messages(fh)
        fresh = _messages(io.BytesIO(catalog_bytes(po)))
        assert committed == fresh, f"{code}: messages.mo is older than messages.po: recompile"


def test_placeholders_survive_translation() -> None:
    po = DIRECTORY / "fr" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale="fr")
    for message in catalog:
        if not message.id or not isinstance(message.id, str):
            continue
        assert message.python_format == ("%(" in str(message.string)), message.id
        for part in str(message.id).split("%(")[1:]:
            name = part.split(")")[0]
            assert f"%({name})" in str(message.string), (message.id, message.string)


def test_a_stale_mo_is_compiled_again(tmp_path: Path) -> None:
    po = tmp_path / "fr" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n\nmsgid "Apply"\nmsgstr "Appliquer"\n', encoding="utf-8")
    assert compile_catalogs(tmp_path) == [po.with_suffix(".mo")]
    assert compile_catalogs(tmp_path) == []  # up to date: left alone
    with po.with_suffix(".mo").open("rb") as fh:
        assert {m.id: m.string for m in read_mo(fh)}["Apply"] == "Appliquer"


def test_the_browser_language_picks_french(console_env: ConsoleEnv) -> None:
    client = console_env.app.test_client()
    html = client.get("/login", headers=FRENCH).get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "Mot de passe" in html and "Password" not in html
    bounced = client.get("/failed/", headers=FRENCH, follow_redirects=True)
    assert "Connectez-vous pour continuer." in bounced.get_data(as_text=True)
    english = client.get("/login", headers={"Accept-Language": "de,en;q=0.5"})
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert "Password" in english.get_data(as_text=True)


def test_a_users_preference_beats_the_browser(console_env: ConsoleEnv) -> None:
    client = console_env.client("ada")
    page = client.get("/admin/", headers=FRENCH).get_data(as_text=True)
    assert "Se déconnecter" in page
    token = csrf_token(client, "/")
    response = client.post(
        "/language", data={"language": "en", "next": "/admin/", "csrf_token": token}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    page = client.get("/admin/", headers=FRENCH).get_data(as_text=True)
    assert "Log out" in page and "Se déconnecter" not in page
    client.post("/language", data={"language": "fr", "csrf_token": token})
    page = client.get("/admin/").get_data(as_text=True)  # no Accept-Language at all
    assert '<html lang="fr">' in page and "Se déconnecter" in page
    # The preference is the user's, on every device: a new login keeps it.
    again = console_env.client("ada")
    assert "Se déconnecter" in again.get("/admin/").get_data(as_text=True)
    client.post("/language", data={"language": "", "csrf_token": token})  # the browser's again
    page = client.get("/admin/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Log out" in page


def test_an_unknown_language_is_refused(console_env: ConsoleEnv) -> None:
    client = console_env.client("ada")
    token = csrf_token(client, "/")
    client.post("/language", data={"language": "xx", "csrf_token": token})
    assert "Log out" in client.get("/admin/").get_data(as_text=True)
    bounced = client.post(
        "/language", data={"language": "en", "next": "https://evil.example/", "csrf_token": token}
    )
    assert bounced.headers["Location"] == "/"


def test_account_refusals_are_in_the_admins_language_next_to_their_field(
    console_env: ConsoleEnv,
) -> None:
    admin = console_env.client("ada")
    token = csrf_token(admin, "/")
    admin.post("/language", data={"language": "fr", "csrf_token": token})
    password = "long-enough-password"
    fields = {"username": "olivia", "role": "operator", "password": password, "confirm": password}
    response = admin.post("/admin/users", data={**fields, "csrf_token": token})  # olivia: taken
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Le nom d&#39;utilisateur &#39;olivia&#39; est déjà pris." in page
    assert 'id="username-error"' in page.split("déjà pris")[0].rsplit("<p", 1)[1]


def test_a_form_without_its_token_says_what_to_do_in_french(console_env: ConsoleEnv) -> None:
    client = console_env.client("ada")
    response = client.post("/language", data={"language": "fr"}, headers=FRENCH)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Requête refusée" in page and "rechargez la page" in page


def test_messages_made_outside_a_request_are_in_english(console_env: ConsoleEnv) -> None:
    from console.accounts import AccountError

    with console_env.app.app_context(), pytest.raises(AccountError, match="is already taken"):
        console_env.services.accounts.create("olivia", "a-long-password", "operator")


def test_the_mail_and_history_pages_in_french(console_env: ConsoleEnv) -> None:
    from console.demo import sample_mails

    svc = console_env.services
    for _name, raw in sample_mails():
        svc.mailbox.append("INBOX", raw)
    svc.engine.poll_once()
    admin = console_env.client("ada")
    token = csrf_token(admin, "/")
    admin.post("/language", data={"language": "fr", "csrf_token": token})
    failed = admin.get("/failed/").get_data(as_text=True)
    assert "Courrier en échec" in failed and "messages · page 1 sur 1" in failed
    uid = svc.engine.failed_page(1, 1).items[0].summary.uid
    detail = admin.get(f"/failed/{uid}").get_data(as_text=True)
    assert "Ce qui est arrivé" in detail and "Ce que nous avons compris" in detail
    history = admin.get("/history/").get_data(as_text=True)
    assert "Historique des traitements" in history and "traité" in history
