"""The editor's languages and the authoring defects of issue 13: a new template opens clean,
diffs are single-spaced, old versions show their text as typed, sample data keeps its order."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from tests.console.conftest import ConsoleEnv, csrf_token
from tests.console.test_authoring import BODY, DATA, form

FRENCH_SUBJECT = "Véhicule {{ plate_number }} immatriculé"
FRENCH_BODY = "Bonjour {{ owner }},\n\nle véhicule **{{ plate_number }}** est immatriculé.\n"


def with_french(client: Any, **fields: str) -> dict[str, Any]:
    values: dict[str, Any] = form(client, **fields)
    values.update(
        variant_language=["fr"], variant_subject=[FRENCH_SUBJECT], variant_body=[FRENCH_BODY]
    )
    return values


def preview_subject(page: str) -> str:
    found = re.search(r'<strong id="preview-subject">([^<]*)</strong>', page)
    assert found, page[:300]
    return html.unescape(found.group(1))


def test_a_new_template_opens_without_problems(console_env: ConsoleEnv) -> None:
    author = console_env.client("arthur")
    page = author.get("/templates/new?name=ready&handler=vehicle_registration").get_data(
        as_text=True
    )
    assert "Renders cleanly: ready to save." in page
    assert 'class="error' not in page


def test_an_author_adds_french_previews_it_and_saves_both(console_env: ConsoleEnv) -> None:
    author = console_env.client("arthur")
    added = author.post("/templates/language", data={**form(author), "new_language": "FR"})
    page = added.get_data(as_text=True)
    assert added.status_code == 200
    assert 'name="variant_language" value="fr"' in page  # a copy of the default to translate
    values = with_french(author)
    english = author.post("/templates/preview", data=values).get_data(as_text=True)
    assert preview_subject(english).endswith("Vehicle AB-123-CD registered")
    sample = json.dumps({**DATA, "language": "fr"})
    french = author.post("/templates/preview", data={**values, "sample_data": sample})
    assert preview_subject(french.get_data(as_text=True)).endswith("Véhicule AB-123-CD immatriculé")
    chosen = author.post("/templates/preview", data={**values, "preview_language": "fr"})
    assert "Previewing the fr version." in chosen.get_data(as_text=True)
    default = author.post(
        "/templates/preview", data={**values, "sample_data": sample, "preview_language": "default"}
    )
    assert preview_subject(default.get_data(as_text=True)).endswith("Vehicle AB-123-CD registered")

    broken = author.post(
        "/templates/preview", data={**values, "variant_body": ["Bonjour {{ nom }}"]}
    ).get_data(as_text=True)
    assert 'id="problems-fr-body"' in broken and "{{ nom }}" in html.unescape(broken)
    assert author.post("/templates/save", data=values).status_code == 302
    saved = console_env.services.templates.get("registered")
    assert saved.variants == {"fr": (FRENCH_SUBJECT, FRENCH_BODY)}
    editor = author.get("/templates/registered").get_data(as_text=True)
    assert 'id="variant-subject-fr"' in editor
    removed = author.post(
        "/templates/language",
        data={**with_french(author, base="1"), "remove_language": "fr"},
    )
    assert 'name="variant_language"' not in removed.get_data(as_text=True)


def test_a_bad_language_code_is_refused(console_env: ConsoleEnv) -> None:
    author = console_env.client("arthur")
    page = author.post(
        "/templates/language", data={**form(author), "new_language": "<script>"}
    ).get_data(as_text=True)
    assert "Type a language code such as fr" in page
    assert 'name="variant_language"' not in page


def test_diffs_are_single_spaced_and_old_versions_show_text_as_typed(
    console_env: ConsoleEnv,
) -> None:
    author = console_env.client("arthur")
    data = {"zeta": 1, "owner": "Zoë", "plate_number": "AB"}
    author.post("/templates/save", data=form(author, sample_data=json.dumps(data)))
    author.post(
        "/templates/save",
        data=form(author, base="1", body=BODY + "\nSee you soon.\n", sample_data=json.dumps(data)),
    )
    diff = author.get("/templates/registered/diff").get_data(as_text=True)
    pre = diff.split('<pre class="diff card"', 1)[1].split("</pre>", 1)[0]
    assert "</span>\n" not in pre and "</span><span" in pre
    version = author.get("/templates/registered/versions/1").get_data(as_text=True)
    assert "Zoë" in version and "\\u00eb" not in version
    # The author's key order survives saving (it was re-sorted alphabetically).
    editor = author.get("/templates/registered").get_data(as_text=True)
    sample = editor.split('id="sample_data"', 1)[1].split("</textarea>", 1)[0]
    assert sample.index("zeta") < sample.index("owner")


def test_the_french_console_edits_templates(console_env: ConsoleEnv) -> None:
    author = console_env.client("arthur")
    page = author.get("/templates/new?name=x", headers={"Accept-Language": "fr"})
    text = page.get_data(as_text=True)
    assert "Nouveau modèle" in text and "Autres langues" in text
    assert csrf_token(author, "/templates/")


def test_a_hostile_language_tag_is_refused_and_never_markup(console_env: ConsoleEnv) -> None:
    author = console_env.client("arthur")
    hostile = '"><script>alert(1)</script>'
    values = {
        **form(author),
        "variant_language": [hostile],
        "variant_subject": ["x"],
        "variant_body": ["y"],
    }
    for url in ("/templates/preview", "/templates/language", "/templates/save"):
        page = author.post(url, data=values).get_data(as_text=True)
        assert "<script>alert(1)" not in page, url
    assert console_env.services.templates.names() == []  # not a language: not saved
    assert "is not a language tag" in html.unescape(
        author.post("/templates/preview", data=values).get_data(as_text=True)
    )
