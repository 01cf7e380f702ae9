"""The quick schema check agrees with jsonschema (Draft 2020-12) on every plain schema."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mailcore.processing.schemacheck import compile_check

TYPES = ["string", "integer", "number", "boolean", "null", "object", "array"]
KEYS = ["a", "b", "c"]

scalar_schema = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(
            st.sampled_from(TYPES),
            st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True),
        ),
        "minLength": st.integers(0, 4),
        "maxLength": st.integers(0, 4),
        "pattern": st.sampled_from(["^a", "b$", "[0-9]", ""]),
        "minimum": st.one_of(st.integers(-3, 3), st.floats(-3, 3)),
        "maximum": st.one_of(st.integers(-3, 3), st.floats(-3, 3)),
        "exclusiveMinimum": st.integers(-3, 3),
        "exclusiveMaximum": st.integers(-3, 3),
        "description": st.just("shown to authors"),
        "format": st.just("email"),
    },
)
plain_schema = st.fixed_dictionaries(
    {"type": st.just("object")},
    optional={
        "required": st.lists(st.sampled_from(KEYS), max_size=3),
        "properties": st.dictionaries(
            st.sampled_from(KEYS), st.one_of(st.just(True), scalar_schema), max_size=3
        ),
        "additionalProperties": st.booleans(),
        "title": st.just("Vehicle"),
    },
)
value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False),
    st.just(2.0),
    st.text("ab0 ", max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.just("x"), st.integers(), max_size=1),
)
instance = st.one_of(
    st.dictionaries(st.sampled_from([*KEYS, "d"]), value, max_size=4),
    value,
)


@settings(max_examples=600, deadline=None)
@given(plain_schema, instance)
def test_quick_check_gives_jsonschemas_verdict(schema: dict[str, Any], payload: Any) -> None:
    check = compile_check(schema)
    assert check is not None
    assert check(payload) == Draft202012Validator(schema).is_valid(payload)


def test_other_keywords_and_unusual_values_are_left_to_jsonschema() -> None:
    assert compile_check({"type": "object", "properties": {"a": {"enum": [1, 2]}}}) is None
    assert compile_check({"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}}) is None
    assert compile_check({"type": "object", "oneOf": []}) is None
    assert compile_check({"properties": {}}) is None  # no "type": object
    check = compile_check({"type": "object", "properties": {"a": {"minimum": 1}}})
    assert check is not None
    assert check({"a": Decimal("0.5")}) is False  # not a JSON value: "look closer"
    assert check({"a": 2}) is True
