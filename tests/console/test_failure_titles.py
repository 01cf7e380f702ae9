"""The failed list and the detail page name the kind of each failure in the reader's language
(console/failure_words.py), with what to do, above the engine's English detail; a row written
before kinds were recorded shows its reason as before."""

from __future__ import annotations

import html
from typing import Any

import sqlalchemy as sa

from console.failure_words import FAILURE_WORDS, failure_advice, failure_title
from mailcore.processing.vocabulary import FailureKind
from mailcore.store.tables import events_table, messages_table
from tests.console.conftest import ConsoleEnv, csrf_token, failed_uid

FRENCH = {"Accept-Language": "fr"}


def _french(env: ConsoleEnv, username: str) -> Any:
    client = env.client(username)
    client.post("/language", data={"language": "fr", "csrf_token": csrf_token(client, "/")})
    return client


def _text(client: Any, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return html.unescape(response.get_data(as_text=True))


def test_every_kind_has_words_and_they_are_french_in_french(demo_env: ConsoleEnv) -> None:
    assert set(FAILURE_WORDS) == set(FailureKind)
    with demo_env.app.test_request_context():
        english = [(failure_title(k), failure_advice(k)) for k in FailureKind]
    with demo_env.app.test_request_context(headers=FRENCH):
        french = [(failure_title(k), failure_advice(k)) for k in FailureKind]
    same = [k for k, e, f in zip(FailureKind, english, french, strict=True) if e[0] == f[0]]
    assert same == [] and all(e[1] != f[1] for e, f in zip(english, french, strict=True))
    assert failure_title(None) is None and failure_title("a kind of a later version") is None


def test_the_french_detail_page_names_the_kind_above_the_english_detail(
    demo_env: ConsoleEnv,
) -> None:
    uid = failed_uid(demo_env, "VEH-1045")
    page = _text(_french(demo_env, "olivia"), f"/failed/{uid}")
    assert (
        'id="failure-title" data-kind="schema">Les données ne correspondent pas au schéma' in page
    )
    assert "Corrigez les champs signalés ci-dessous, puis soumettez-le à nouveau." in page
    assert "Détail enregistré (les termes du moteur, non traduits) :" in page
    title, reason = page.index('id="failure-title"'), page.index('id="failure-reason"')
    assert title < reason
    assert "payload does not match the schema of handler 'vehicle_registration'" in page[reason:]
    timeline = page[page.index('id="timeline-title"') :]
    assert '<p class="failure-title" data-kind="schema">Les données ne correspondent' in timeline


def test_the_french_failed_list_names_each_kind(demo_env: ConsoleEnv) -> None:
    page = _text(_french(demo_env, "olivia"), "/failed/")
    for kind, french in [
        ("no_handler", "Aucun traitement ne prend ce message"),
        ("schema", "Les données ne correspondent pas au schéma"),
        ("no_payload", "Aucune donnée n'a été trouvée dans le message"),
        ("unknown_identifier", "Aucun traitement ne connaît son identifiant"),  # VEH-9913
    ]:
        assert f'data-kind="{kind}">{french}</b>' in page
    assert "no handler matches: no known identifier" in page  # the reason, as recorded


def test_english_readers_get_the_english_headline(demo_env: ConsoleEnv) -> None:
    uid = failed_uid(demo_env, "registration")
    page = _text(demo_env.client("olivia"), f"/failed/{uid}")
    assert 'data-kind="no_handler">No handler takes this message</span>' in page
    assert "Choose the handler and the identifier it is for" in page
    listed = _text(demo_env.client("olivia"), "/failed/")
    assert 'data-kind="no_handler">No handler takes this message</b>' in listed


def test_a_row_recorded_before_kinds_shows_its_reason_as_before(demo_env: ConsoleEnv) -> None:
    uid = failed_uid(demo_env, "VEH-1044")
    with demo_env.services.engine.history.engine.begin() as conn:
        conn.execute(sa.update(messages_table).values(failure=None))
        conn.execute(sa.update(events_table).values(failure=None))
    client = _french(demo_env, "olivia")
    page = _text(client, f"/failed/{uid}")
    assert 'failure-title"' not in page and 'id="failure-advice"' not in page
    assert 'Pourquoi l\'échec :</b> <span id="failure-reason">no payload found' in page
    assert 'class="failure-title"' not in _text(client, "/failed/")


def test_the_api_gives_each_failed_mails_kind(demo_env: ConsoleEnv) -> None:
    from tests.console.api.conftest import make_tokens

    headers = {"Authorization": f"Bearer {make_tokens(demo_env)['operator']}"}
    client = demo_env.app.test_client()
    listed: Any = client.get("/api/v1/mail/failed/", headers=headers).get_json()
    kinds = {item["subject"]: item["failure"] for item in listed["items"]}
    assert kinds["Question about my registration"] == FailureKind.NO_HANDLER
    uid = failed_uid(demo_env, "VEH-1045")
    detail: Any = client.get(f"/api/v1/mail/failed/{uid}", headers=headers).get_json()
    assert detail["failure"] == "schema"
