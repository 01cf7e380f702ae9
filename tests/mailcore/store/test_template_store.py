"""The template store: immutable versions, restore, diff, and refusing templates with errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa

from mailcore.errors import TemplateError
from mailcore.store.db import connect
from mailcore.store.template_store import (
    TemplateConflict,
    TemplateHasErrors,
    TemplateStore,
    UnknownTemplate,
    install_guards,
    sample_from_schema,
    template_versions,
)

BODY = "Hello {{ name }},\n\nyour vehicle **{{ plate }}** is ready.\n"
DATA = {"name": "Ada", "plate": "AB-123-CD"}


class Recorder:
    """Collects what the store writes to the history (the real History has more columns)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def record(self, kind: str, **fields: Any) -> None:
        self.events.append((kind, fields))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def store(database_url: str, recorder: Recorder) -> Iterator[TemplateStore]:
    """On SQLite, then on PostgreSQL (see tests/conftest.py)."""
    db = connect(database_url)
    yield TemplateStore(db, history=recorder)
    db.dispose()


def test_saving_appends_versions_and_keeps_old_ones_unchanged(store: TemplateStore) -> None:
    v1 = store.save("ready", "Vehicle {{ plate }}", BODY, DATA, "first", by="alice")
    v2 = store.save("ready", "Vehicle {{ plate }} ready", BODY, DATA, "clearer", by="bob")

    assert (v1.number, v2.number) == (1, 2)
    again = store.get("ready", 1)
    assert again.subject == "Vehicle {{ plate }}"
    assert (again.by, again.note) == ("alice", "first")
    assert store.get("ready").number == 2
    assert [v.number for v in store.versions("ready")] == [2, 1]
    assert store.names() == ["ready"]
    [summary] = store.summaries()
    assert (summary.name, summary.latest.number, summary.count) == ("ready", 2, 2)


def test_a_version_cannot_be_changed_in_python_or_in_the_database(store: TemplateStore) -> None:
    v1 = store.save("ready", "Vehicle {{ plate }}", BODY, DATA, "first", by="alice")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v1.subject = "changed"  # type: ignore[misc]
    with pytest.raises(sa.exc.DBAPIError, match="immutable"), store.db.begin() as conn:
        conn.execute(template_versions.update().values(body="rewritten"))
    assert store.get("ready", 1).body == BODY


def test_a_version_cannot_be_deleted_in_the_database(store: TemplateStore) -> None:
    store.save("ready", "Vehicle {{ plate }}", BODY, DATA, "first", by="alice")
    store.save("ready", "Vehicle {{ plate }} is ready", BODY, DATA, "second", by="alice")
    with pytest.raises(sa.exc.DBAPIError, match="immutable"), store.db.begin() as conn:
        conn.execute(template_versions.delete().where(template_versions.c.version == 2))
    with pytest.raises(sa.exc.DBAPIError, match="immutable"), store.db.begin() as conn:
        conn.execute(template_versions.delete())  # all at once (SQLite's truncate shortcut)
    if store.db.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DBAPIError, match="immutable"), store.db.begin() as conn:
            conn.execute(sa.text("TRUNCATE template_versions"))
    assert [v.number for v in store.versions("ready")] == [2, 1]


def test_a_table_from_before_the_delete_guard_gets_it_when_a_store_opens(
    store: TemplateStore, recorder: Recorder
) -> None:
    store.save("ready", "Vehicle {{ plate }}", BODY, DATA, "first", by="alice")
    drop = "DROP TRIGGER template_versions_undeletable"
    if store.db.dialect.name == "postgresql":
        drop += " ON template_versions"
    with store.db.begin() as conn:
        conn.execute(sa.text(drop))
        assert install_guards(conn) == ["template_versions_undeletable"]
        conn.execute(sa.text(drop))  # back to the old state, for the store to repair
    reopened = TemplateStore(store.db, history=recorder)
    with pytest.raises(sa.exc.DBAPIError, match="immutable"), store.db.begin() as conn:
        conn.execute(template_versions.delete())
    with store.db.begin() as conn:
        assert install_guards(conn) == []  # nothing left to add
    assert [v.number for v in reopened.versions("ready")] == [1]


def test_saving_identical_content_creates_no_version(store: TemplateStore) -> None:
    store.save("ready", "Vehicle {{ plate }}", BODY, DATA, "first", by="alice")
    same = store.save("ready", "Vehicle {{ plate }}", BODY, dict(DATA), "again", by="bob")
    assert same.number == 1
    assert len(store.versions("ready")) == 1


def test_saving_over_a_newer_version_is_a_conflict(store: TemplateStore) -> None:
    store.save("ready", "Vehicle {{ plate }}", BODY, DATA, "first", by="alice")
    store.save("ready", "Vehicle {{ plate }}!", BODY, DATA, "bob's", by="bob", base=1)
    with pytest.raises(TemplateConflict, match="version 2 by bob"):
        store.save("ready", "Vehicle {{ plate }}?", BODY, DATA, "alice's", by="alice", base=1)
    assert len(store.versions("ready")) == 2


def test_restore_copies_an_old_version_into_a_new_recorded_one(
    store: TemplateStore, recorder: Recorder
) -> None:
    store.save("ready", "Vehicle {{ plate }}", BODY, DATA, "first", by="alice")
    store.save("ready", "Car {{ plate }}", BODY + "\nBye\n", {**DATA, "x": 1}, "second", by="bob")

    v3 = store.restore("ready", 1, by="carol")

    assert v3.number == 3
    assert v3.restored_from == 1
    assert (v3.subject, v3.body, v3.sample_data) == ("Vehicle {{ plate }}", BODY, DATA)
    assert v3.by == "carol"
    assert "restored version 1" in v3.note
    assert store.get("ready", 2).subject == "Car {{ plate }}"  # history kept
    kinds = [(kind, f["actor"]) for kind, f in recorder.events]
    assert kinds == [("template", "alice"), ("template", "bob"), ("template", "carol")]
    assert "restored v1 as v3" in recorder.events[-1][1]["reason"]


def test_diff_shows_subject_body_and_sample_data_changes(store: TemplateStore) -> None:
    store.save("ready", "Vehicle {{ plate }}", BODY, DATA, "first", by="alice")
    store.save("ready", "Car {{ plate }}", BODY + "See you.\n", {**DATA, "plate": "ZZ"}, "", "bob")

    diff = store.diff("ready", 1, 2)

    assert diff.startswith("--- ready v1\n+++ ready v2\n")
    assert "-Subject: Vehicle {{ plate }}\n+Subject: Car {{ plate }}\n" in diff
    assert "+See you.\n" in diff
    assert '-  "plate": "AB-123-CD"\n+  "plate": "ZZ"\n' in diff
    assert store.diff("ready", 2, 2) == ""


def test_a_template_with_an_undefined_placeholder_is_not_saved(store: TemplateStore) -> None:
    with pytest.raises(TemplateHasErrors) as caught:
        store.save("ready", "Vehicle {{ plate }}", BODY + "{{ missing_field }}\n", DATA, "", "a")

    assert isinstance(caught.value, TemplateError)
    assert "missing_field" in caught.value.names
    assert any("missing_field" in p.message for p in caught.value.problems)
    assert store.versions("ready") == []
    assert store.latest("ready") is None


def test_a_template_with_a_syntax_error_is_refused_with_its_line(store: TemplateStore) -> None:
    body = "Hello {{ name }},\n\n{% if plate %}\nno end\n"
    with pytest.raises(TemplateHasErrors) as caught:
        store.save("ready", "Vehicle", body, DATA, "", "alice")
    [syntax] = [p for p in caught.value.problems if p.kind == "syntax"]
    assert syntax.line is not None and syntax.line >= 3
    assert store.names() == []


def test_names_and_empty_subjects_are_refused(store: TemplateStore) -> None:
    with pytest.raises(TemplateHasErrors, match="name must be"):
        store.save("Bad Name!", "Vehicle", BODY, DATA, "", "alice")
    with pytest.raises(TemplateHasErrors, match="subject is empty"):
        store.save("ready", "  ", BODY, DATA, "", "alice")


def test_unknown_templates_and_versions_raise_unknown_template(store: TemplateStore) -> None:
    with pytest.raises(UnknownTemplate, match="no template named 'nope'"):
        store.get("nope")
    store.save("ready", "Vehicle", BODY, DATA, "", "alice")
    with pytest.raises(UnknownTemplate, match="no version 7"):
        store.get("ready", 7)


SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "required": ["plate_number", "mileage"],
        "properties": {
            "plate_number": {"type": "string", "minLength": 2, "maxLength": 12},
            "mileage": {"type": "integer", "minimum": 0},
            "price": {"type": "number"},
            "paid": {"type": "boolean"},
            "delivered": {"type": "string", "format": "date"},
            "colour": {"enum": ["red", "blue"]},
            "owner": {
                "type": "object",
                "properties": {"email": {"type": "string", "format": "email"}},
            },
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "note": {"type": ["null", "string"]},
        },
    },
    {"type": "object", "properties": {"ref": {"type": "string", "examples": ["VEH-42"]}}},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_sample_data_from_a_schema_is_valid_against_it(schema: dict[str, Any]) -> None:
    sample = sample_from_schema(schema)
    jsonschema.validate(sample, schema)
    assert set(sample) == set(schema["properties"])


def test_sample_data_prefers_the_schema_examples_and_names_strings_after_their_key() -> None:
    sample = sample_from_schema(SCHEMAS[1])
    assert sample == {"ref": "VEH-42"}
    assert sample_from_schema(SCHEMAS[0])["plate_number"] == "Plate number"


def test_markup_the_sanitizer_would_remove_is_an_error_with_its_line(store: TemplateStore) -> None:
    body = 'Hello {{ name }},\n\n<b onclick="steal()">ready</b>\n'
    with pytest.raises(TemplateHasErrors) as caught:
        store.save("ready", "Vehicle", body, DATA, "", "alice")
    [unsafe] = caught.value.problems
    assert (unsafe.kind, unsafe.line) == ("unsafe", 3)
    assert "onclick" in unsafe.message


def test_an_undefined_placeholder_in_the_subject_is_reported_as_such(store: TemplateStore) -> None:
    with pytest.raises(TemplateHasErrors) as caught:
        store.save("ready", "Vehicle {{ owner.name }}", BODY, DATA, "", "alice")
    [problem] = caught.value.problems
    assert (problem.source, problem.name, problem.line) == ("subject", "owner", 1)


def test_sample_strings_use_an_example_from_the_description_when_it_fits_the_pattern() -> None:
    plate = {
        "type": "string",
        "pattern": "^[A-Z]{2}-[0-9]{3}-[A-Z]{2}$",
        "description": "French SIV format, e.g. AB-123-CD",
    }
    assert sample_from_schema(plate) == "AB-123-CD"
    wrong = {**plate, "description": "e.g. ab123cd"}
    assert sample_from_schema(wrong, _key="plate") == "Plate"


def test_a_save_refusal_is_the_renderers_problem_with_the_placeholder_named() -> None:
    from mailcore.outbound import template_problems
    from mailcore.store.template_checks import check_template

    [problem] = check_template("t", "Hi", "Dear {{ owner['full name'] }}", {"owner": {}})
    # One Problem type from the renderer to the editor; the name is carried, not read back
    # from the sentence (which a quote in the key used to break).
    assert type(problem) is template_problems.Problem
    assert problem.kind == template_problems.ProblemKind.UNDEFINED
    assert problem.name is not None and "full name" in problem.name


FRENCH = {"fr": ("Véhicule {{ plate }} prêt", "Bonjour {{ name }},\n\nvotre véhicule est prêt.\n")}


def test_languages_are_saved_checked_restored_and_compared(store: TemplateStore) -> None:
    v1 = store.save("ready", "Vehicle {{ plate }}", BODY, DATA, "", by="alice", variants=FRENCH)
    assert store.get("ready", 1).variants == FRENCH == v1.variants
    chosen = store.get("ready").template().for_data({**DATA, "language": "fr-CA"})
    assert (chosen.language, chosen.subject) == ("fr", FRENCH["fr"][0])
    # Nothing changed in any language: no new version; one changed: a new one.
    assert store.save("ready", "Vehicle {{ plate }}", BODY, DATA, "", "a", variants=FRENCH) == v1
    with pytest.raises(TemplateHasErrors) as refused:
        store.save(
            "ready", "Vehicle {{ plate }}", BODY, DATA, "", "a", variants={"fr": ("", "{{ nom }}")}
        )
    sources = {p.source for p in refused.value.problems}
    assert sources == {"fr subject"}  # the empty subject first; the body once it has one
    with pytest.raises(TemplateHasErrors) as refused:
        store.save("ready", "Vehicle", BODY, DATA, "", "a", variants={"fr": ("Prêt", "{{ nom }}")})
    assert [(p.source, p.name) for p in refused.value.problems] == [("fr body", "nom")]
    with pytest.raises(TemplateHasErrors, match="not a language tag"):
        store.save("ready", "Vehicle", BODY, DATA, "", "a", variants={"<b>": ("x", "y")})
    store.save("ready", "Vehicle {{ plate }}", BODY, DATA, "", by="bob")  # French removed
    assert store.get("ready").variants == {}
    assert "--- language fr ---" in store.diff("ready", 1, 2)
    assert store.restore("ready", 1, by="carol").variants == FRENCH


def test_sample_data_keeps_the_authors_order(store: TemplateStore) -> None:
    data = {"zeta": "z", "alpha": "a", "name": "Ada", "plate": "AB"}
    store.save("ordered", "Vehicle {{ plate }}", BODY, data, "", by="alice")
    assert list(store.get("ordered").sample_data) == ["zeta", "alpha", "name", "plate"]
