"""What a field expects, said for people: schema errors by description, choices and formats
(mailcore.processing.schemacheck), placed on the console's field rows (console.presenters)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from console.demo import VEHICLE_SCHEMA
from console.presenters import field_rows, field_schema, set_choices
from mailcore.processing.registry import Registry
from mailcore.processing.schemacheck import (
    FORMAT_CHECKER,
    FORMATS,
    compile_check,
    expected,
    for_people,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _errors(schema: dict[str, Any], payload: dict[str, Any]) -> dict[str, str]:
    registry = Registry()
    registry.add("h", lambda ctx: None, schema=schema, default=True)
    return {e.path: e.message for e in registry.get("h").validate(payload)}


def test_a_pattern_is_said_by_the_fields_description_never_as_a_regex() -> None:
    errors = _errors(VEHICLE_SCHEMA, {"vin": "VF3OPEL0012345"})
    assert (
        errors["$.vin"]
        == "'VF3OPEL0012345' is not in the expected form: 17 characters, no I, O or Q"
    )
    bare = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[0-9]+$"}}}
    # Without a description the pattern is all there is: said as what it is.
    assert _errors(bare, {"code": "x"})["$.code"] == (
        "'x' is not in the form this field expects (pattern ^[0-9]+$)"
    )


def test_choices_are_listed_with_the_closest_one() -> None:
    errors = _errors(VEHICLE_SCHEMA, {"category": "Motorbike"})
    assert errors["$.category"] == (
        "'Motorbike' is not one of the choices: 'car', 'motorcycle', 'van', 'truck'"
        " -- did you mean 'motorcycle'?"
    )
    far = _errors(VEHICLE_SCHEMA, {"category": "spaceship"})["$.category"]
    assert "did you mean" not in far


def test_other_errors_keep_jsonschemas_words_and_add_the_description() -> None:
    errors = _errors(VEHICLE_SCHEMA, {"owner": "Al", "mileage_km": -3})
    assert errors["$.owner"] == "'Al' is too short (the holder's full name)"
    assert errors["$.mileage_km"] == "-3 is less than the minimum of 0 (in kilometres)"


def test_a_format_is_named_with_an_example() -> None:
    sub = {"type": "string", "format": "date", "description": "first registration"}
    assert expected(sub) == "first registration; a date like 2024-03-31"
    assert (
        for_people("format", "17/11/2024", sub, "...") == "'17/11/2024' is not " + FORMATS["date"]
    )
    assert expected({"enum": [1, 2]}) == "one of 1, 2"
    assert expected({"type": "string"}) is None


@given(st.sampled_from(["pattern", "enum", "const", "format", "type", "minimum"]), JSON, JSON)
def test_for_people_answers_any_value_and_schema_briefly(
    validator: str, instance: Any, schema: Any
) -> None:
    message = for_people(validator, instance, schema, "jsonschema's message")
    assert isinstance(message, str) and len(message) < 1000


def test_field_rows_say_what_each_field_expects_and_offer_the_choices() -> None:
    rows, _ = field_rows({"category": "motorbike", "vin": "X"}, [], VEHICLE_SCHEMA)
    by_path = {r.path: r for r in rows}
    assert by_path["vin"].expected == "17 characters, no I, O or Q"
    assert [label for _v, label in by_path["category"].choices] == [
        "car",
        "motorcycle",
        "van",
        "truck",
    ]
    assert by_path["category"].chosen == '"motorbike"'


def test_set_choices_writes_only_a_schemas_choice_where_an_object_is() -> None:
    schema = {
        "type": "object",
        "properties": {
            "kind": {"enum": ["a", "b"]},
            "box": {"type": "object", "properties": {"size": {"enum": [1, 2]}}},
        },
    }
    payload = {"kind": "x", "box": {"size": 3}, "list": [1]}
    out = set_choices(payload, {"kind": '"b"', "box.size": "2", "list.x": "1"}, schema)
    assert out == {"kind": "b", "box": {"size": 2}, "list": [1]}
    assert payload["kind"] == "x"  # the payload given is left as it was
    assert set_choices(payload, {"kind": '"c"'}, schema) == payload
    assert field_schema(schema, "box.size") == {"enum": [1, 2]}
    assert field_schema(schema, "nothing.here") is None


def test_a_date_in_another_form_is_a_reason_to_fail_said_with_an_example() -> None:
    payload = {"plate_number": "AB-123-CD", "vin": "VF3AB000012345678", "owner": "Hugo Petit"}
    payload |= {"category": "car", "first_registration": "17/11/2024"}
    errors = _errors(VEHICLE_SCHEMA, payload)
    assert errors == {"$.first_registration": "'17/11/2024' is not a date like 2024-03-31"}
    assert _errors(VEHICLE_SCHEMA, payload | {"first_registration": "2024-11-17"}) == {}


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["date", "time", "email", "uuid", "ipv4", "uri", "made-up"]),
    st.one_of(
        st.text(max_size=12),
        st.sampled_from(["2024-03-31", "2024-02-30", "14:30:00Z", "a@b", "192.0.2.1"]),
        st.integers(),
        st.none(),
    ),
)
def test_the_quick_check_agrees_with_jsonschema_on_asserted_formats(fmt: str, value: Any) -> None:
    schema = {"type": "object", "properties": {"x": {"format": fmt}}}
    check = compile_check(schema, FORMAT_CHECKER)
    assert check is not None
    validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    assert check({"x": value}) == validator.is_valid({"x": value})
