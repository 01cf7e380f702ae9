"""The console in English and French: the catalogs, the language of a request (the user's
preference, else the browser's Accept-Language) and the preference itself."""

from __future__ import annotations

import ast
import io
import re
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


def _french_client(env: ConsoleEnv, username: str) -> Any:
    """`username`'s client, who chose French."""
    client = env.client(username)
    client.post("/language", data={"language": "fr", "csrf_token": csrf_token(client, "/")})
    return client


def test_the_mail_and_history_pages_in_french(demo_env: ConsoleEnv) -> None:
    svc = demo_env.services
    admin = _french_client(demo_env, "ada")
    failed = admin.get("/failed/").get_data(as_text=True)
    assert "Courrier en échec" in failed and "messages · page 1 sur 1" in failed
    uid = svc.engine.failed_page(1, 1).items[0].summary.uid
    detail = admin.get(f"/failed/{uid}").get_data(as_text=True)
    assert "Ce qui est arrivé" in detail and "Ce que nous avons compris" in detail
    history = admin.get("/history/").get_data(as_text=True)
    assert "Historique des traitements" in history and "traité" in history


# -- every user-facing string is marked, and every marked string translated ----------------

ROOT = Path(__file__).resolve().parents[2]


def _marked_messages() -> set[str | tuple[str, ...]]:
    """What `pybabel extract` (README, Translating the console) finds in the sources now."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (DIRECTORY / "babel.cfg").open(encoding="utf-8") as fh:
        methods, options = parse_mapping_cfg(fh, "babel.cfg")
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    found = extract_from_dir(str(ROOT), methods, options, keywords=keywords)
    return {message for _file, _line, message, _comments, _context in found}


def test_every_marked_string_is_in_every_catalog_translated() -> None:
    marked = {_forms(m)[0] for m in _marked_messages()}
    assert len(marked) > 300  # the extraction really read the console (not an empty walk)
    for code in LANGUAGES:
        if code == "en":
            continue
        with (DIRECTORY / code / "LC_MESSAGES" / "messages.po").open("rb") as fh:
            catalog = read_po(fh, locale=code)
        translated = {_forms(m.id)[0] for m in catalog if m.id and all(_forms(m.string))}
        missing = sorted(marked - translated)
        assert not missing, f"{code}: run pybabel extract/update and translate {missing[:5]}"


# Calls whose text argument the reader sees: it must be _()/_l()/ngettext(...), never a
# literal. (Log records, the shared history's reasons and configuration errors stay English.)
_SHOWN_ARGUMENT = {
    "flash": 0,
    "Badge": 0,
    "SelectChoice": 1,
    "ValidationError": 0,
    "AccountError": 0,
    "PayloadSyntaxError": 0,
    "Problem": 1,
    "append": 0,  # row.errors.append / form errors
}


def _literal_text(node: ast.expr) -> str | None:
    """The English of a literal (f-strings too) with a word in it, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
    else:
        return None
    return text if re.search(r"[A-Za-z]{3,}", text) else None


def unmarked_python_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of each literal given where the reader sees it (see _SHOWN_ARGUMENT)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name == "append" and "errors" not in ast.unparse(func):
            continue  # a list of anything else
        shown = [node.args[i] for i in _shown_positions(name) if i < len(node.args)]
        shown += [k.value for k in node.keywords if k.arg in _SHOWN_KEYWORDS]
        for value in shown:
            text = _literal_text(value)
            if text is not None and text not in _UNTRANSLATED_WORDS:
                found.append((node.lineno, text))
    return found


# Keywords whose value the reader sees, whatever the call (WTForms validators and fields).
_SHOWN_KEYWORDS = {"message", "label", "description"}


def _shown_positions(name: str) -> tuple[int, ...]:
    """The positional arguments of a call named `name` that the reader sees."""
    if name.endswith("Field"):  # a WTForms field: its label
        return (0,)
    return (_SHOWN_ARGUMENT[name],) if name in _SHOWN_ARGUMENT else ()


def test_no_message_the_reader_sees_is_a_bare_literal_in_the_console() -> None:
    found = {
        f"{path.relative_to(ROOT)}:{line}": text
        for path in sorted((ROOT / "console").rglob("*.py"))
        if "api" not in path.relative_to(ROOT / "console").parts[:-1]  # JSON for programs
        for line, text in unmarked_python_literals(path.read_text(encoding="utf-8"))
    }
    assert found == {}, "wrap these in _() (gettext) or _l() (lazy_gettext)"


def test_the_python_check_catches_an_unmarked_flash() -> None:
    source = 'flash(f"Message {uid} rejected.", "ok")\nflash(_("Message %(u)s rejected.", u=1))\n'
    assert unmarked_python_literals(source) == [(1, "Message  rejected.")]
    assert unmarked_python_literals('row.errors.append("required: missing")') != []
    assert unmarked_python_literals('Badge(_("decrypted"), "good", "a b c")') == []
    assert unmarked_python_literals('Length(max=9, message="Too long.")') == [(1, "Too long.")]
    assert unmarked_python_literals('StringField(_l("Note"), [Optional()])') == []
    assert unmarked_python_literals('TextAreaField("Your note")') == [(1, "Your note")]


# Words a page may show untranslated: names, formats and protocol terms.
_UNTRANSLATED_WORDS = {"mailcore", "UID", "Message-ID", "UTC", "HTML", "JSON", "YAML", "Cc"}
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+")  # an example name, e.g. vehicle-ready
_TEXT_ATTRIBUTE = re.compile(r'\b(?:title|placeholder|aria-label|alt)="([^"{]*)"')


def unmarked_template_text(source: str) -> list[str]:
    """Text of a Jinja template shown to the reader outside _()/ngettext(): the words left
    when tags, expressions, statements, comments, scripts and styles are taken out, and
    literal title/placeholder/aria-label/alt attributes."""
    source = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    source = re.sub(r"<(script|style)\b.*?</\1>", " ", source, flags=re.S)
    found = [
        v
        for v in _TEXT_ATTRIBUTE.findall(source)
        if re.search(r"[A-Za-z]{3}", v) and not _SLUG.fullmatch(v)
    ]
    text = re.sub(r"\{%.*?%\}|\{\{.*?\}\}", " ", source, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text, flags=re.S)
    words = re.findall(r"[A-Za-z][A-Za-z-]+", text)
    return found + [w for w in words if w not in _UNTRANSLATED_WORDS]


def test_no_template_shows_unmarked_text() -> None:
    found = {}
    for path in sorted((ROOT / "templates").rglob("*.html")):
        if path.parent.name == "email":
            continue  # the e-mail layout: its text is the template author's
        words = unmarked_template_text(path.read_text(encoding="utf-8"))
        words = [w for w in words if w not in ("page", "wide", "narrow")]  # block arguments
        if words:
            found[str(path.relative_to(ROOT))] = words[:5]
    assert found == {}, "wrap these in {{ _('...') }}"


def test_the_template_check_catches_unmarked_text() -> None:
    assert unmarked_template_text("<p>{{ _('Hello') }} <b>world</b></p>") == ["world"]
    assert unmarked_template_text('<input placeholder="Search mail">') == ["Search mail"]
    assert unmarked_template_text("<p>{{ n }} UID {# note #}</p>") == []


def test_console_js_takes_its_words_from_the_page() -> None:
    """console.js writes text only from the page's data- attributes (which the templates
    translate); an English literal is allowed only as the fallback after `||`."""
    script = (ROOT / "static" / "console.js").read_text(encoding="utf-8")
    code = re.sub(r"//[^\n]*", "", script).replace('"use strict"', "")
    for match in re.finditer(r'"([^"\\\n]*)"', code):  # every string literal, in order
        if not re.search(r"[A-Za-z]{3,} ", match.group(1)):
            continue  # a selector, an event name, a data- key
        before = code[: match.start()].rstrip()
        assert before.endswith("||"), f"console.js writes {match.group(1)!r}: use a data- attribute"


def test_every_vocabulary_value_the_console_shows_has_a_french_name(
    console_env: ConsoleEnv,
) -> None:
    from console.translations import AUTO_KIND_NAMES, BOUNCE_NAMES, STATUS_NAMES
    from mailcore import AutoKind, BounceReason, BounceSeverity

    assert set(AUTO_KIND_NAMES) == set(AutoKind)
    assert set(BOUNCE_NAMES) == set(BounceReason) | set(BounceSeverity)
    names = [*AUTO_KIND_NAMES.values(), *BOUNCE_NAMES.values(), *STATUS_NAMES.values()]
    with console_env.app.test_request_context(headers=FRENCH):
        french = [str(n) for n in names]
    english = [str(n) for n in names]
    assert [f for f, e in zip(french, english, strict=True) if f == e] == []


def test_the_field_table_says_what_the_schema_expects_in_french(demo_env: ConsoleEnv) -> None:
    from console.schema_words import FORMAT_NAMES
    from mailcore.processing.schemacheck import FORMATS
    from tests.console.conftest import failed_uid

    assert set(FORMAT_NAMES) == set(FORMATS)  # every format mailcore names has a French name
    uid = failed_uid(demo_env, "VEH-1045")  # its VIN breaks the pattern, its category no enum
    english = demo_env.client("ada").get(f"/failed/{uid}").get_data(as_text=True)
    assert "is not in the expected form: 17 characters, no I, O or Q" in english
    page = _french_client(demo_env, "ada").get(f"/failed/{uid}").get_data(as_text=True)
    assert "n&#39;a pas la forme attendue : 17 characters, no I, O or Q" in page
    assert "l&#39;une des valeurs &#39;car&#39;" in page  # the category's choices
    fields = page.split('<table class="fields', 1)[1].split("</table>", 1)[0]
    assert "n&#39;a pas la forme attendue" in fields and "expected form" not in fields


def test_a_lockout_is_told_in_french_and_recorded_in_english(console_env: ConsoleEnv) -> None:
    from datetime import timedelta

    from console.throttle import LoginThrottled, describe_wait, english_wait

    with console_env.app.test_request_context(headers=FRENCH):
        assert describe_wait(timedelta(minutes=3, seconds=1)) == "4 minutes"
        assert describe_wait(timedelta(seconds=5)) == "1 minute"
        assert describe_wait(timedelta(hours=3)) == "3 heures"
        assert english_wait(timedelta(hours=3)) == "3 hours"  # the history's reason
        refused = str(LoginThrottled("address", timedelta(minutes=2)))
    assert (
        refused
        == "trop de tentatives échouées depuis votre adresse réseau ; réessayez dans 2 minutes"
    )


def test_where_the_payload_and_identifier_were_found_is_said_in_words() -> None:
    from console.translations import SOURCE_NAMES
    from mailcore.inbound.model import IdentifierSource, PayloadSource

    assert set(SOURCE_NAMES) == set(PayloadSource) | set(IdentifierSource)
