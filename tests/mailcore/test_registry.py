"""Registry: routing by identifier prefix, subaddress, subject keyword, callable and default;
schemas (Draft 2020-12) with errors as (json-path, message); aliases and coercion."""

from __future__ import annotations

from typing import Any

import pytest

from mailcore.errors import ConfigError
from mailcore.extract import extract
from mailcore.registry import HandlerContext, Registry, json_path, load_registry
from tests.servers import message


def noop(ctx: HandlerContext) -> None:
    return None


def make() -> Registry:
    r = Registry()
    r.add("vehicle", noop, prefix="VEH-")
    r.add("vehicle-eu", noop, prefix="VEH-EU-")
    r.add("orders", noop, subaddress="orders")
    r.add("invoices", noop, subject_keyword="invoice")
    r.add("big", noop, match=lambda ex: len(ex.text) > 50)
    return r


def routed(r: Registry, raw: bytes) -> Any:
    return r.route(extract(raw))


def test_longest_identifier_prefix_wins():
    r = make()
    assert routed(r, message(subject="[VEH-EU-42] x")).spec.name == "vehicle-eu"
    found = routed(r, message(subject="[veh-42] x"))
    assert (found.spec.name, found.via) == ("vehicle", "prefix")


def test_subaddress_keyword_and_callable_routes():
    r = make()
    assert routed(r, message(to="Ops <ops+Orders@example.com>")).spec.name == "orders"
    assert routed(r, message(subject="Your Invoice 12")).spec.name == "invoices"
    # A keyword is a whole word: "invoices2024" is not "invoice".
    assert routed(r, message(subject="invoices2024")).spec is None
    assert routed(r, message(body="x" * 80 + "\r\n")).spec.name == "big"


def test_unknown_identifier_and_no_route_give_reasons():
    r = make()
    unknown = routed(r, message(subject="[ZZZ-1] x"))
    assert unknown.spec is None and "unknown identifier 'ZZZ-1'" in (unknown.reason or "")
    nothing = routed(r, message(subject="hello"))
    assert nothing.spec is None and (nothing.reason or "").startswith("no handler matches")


def test_default_handler_catches_the_rest_and_only_one_is_allowed():
    r = make()
    r.add("catch-all", noop, default=True)
    assert routed(r, message(subject="hello")).via == "default"
    with pytest.raises(ValueError, match="already the default"):
        r.add("other", noop, default=True)


def test_a_raising_match_is_no_match():
    r = Registry()

    def bad(ex: Any) -> bool:
        raise RuntimeError("bug")

    r.add("bad", noop, match=bad)
    assert routed(r, message()).spec is None


def test_registration_refuses_bad_schema_duplicate_name_and_missing_route():
    r = Registry()
    with pytest.raises(ValueError, match="schema of handler 'x' is invalid"):
        r.add("x", noop, prefix="X-", schema={"type": "no-such-type"})
    r.add("y", noop, prefix="Y-")
    with pytest.raises(ValueError, match="already registered"):
        r.add("y", noop, prefix="Z-")
    with pytest.raises(ValueError, match="needs a route"):
        r.add("z", noop)
    with pytest.raises(KeyError, match="no handler 'nope'"):
        r.get("nope")


SCHEMA = {
    "type": "object",
    "required": ["plate", "items"],
    "additionalProperties": False,
    "properties": {
        "plate": {"type": "string"},
        "weight": {"type": "number"},
        "urgent": {"type": "boolean"},
        "items": {
            "type": "array",
            "items": {"type": "object", "properties": {"qty": {"type": "integer"}}},
        },
    },
}


def test_schema_errors_are_json_paths_with_messages():
    r = Registry()
    spec = r.add("v", noop, prefix="V-", schema=SCHEMA)
    errors = spec.validate({"items": [{"qty": "many"}], "colour": "red"})
    assert errors == [
        ("$", "Additional properties are not allowed ('colour' was unexpected)"),
        ("$.items[0].qty", "'many' is not of type 'integer'"),
        ("$.plate", "is required"),
    ]
    assert spec.validate({"plate": "A", "items": []}) == []


OWNER: dict[str, Any] = {
    "type": "object",
    "required": ["postcode"],
    "properties": {"postcode": {"type": "string"}, "city": {"type": "string"}},
}
VEHICLE = {
    "type": "object",
    "required": ["plate_number", "owner"],
    "additionalProperties": False,
    "properties": {
        "plate_number": {"type": "string"},
        "colour": {"type": "string"},
        "owner": OWNER,
    },
}


def test_a_misspelt_key_says_which_field_was_meant_and_is_not_corrected() -> None:
    spec = Registry().add("vehicle_registration", noop, prefix="V-", schema=VEHICLE)
    payload = {"plate_numbr": "AB-123", "color": "red", "zzz": 1, "owner": {"post_code": "1"}}
    assert spec.validate(payload) == [
        ("$", "'color' is not a field of vehicle_registration -- did you mean 'colour'?"),
        (
            "$",
            "'plate_numbr' is not a field of vehicle_registration -- did you mean 'plate_number'?",
        ),
        ("$", "Additional properties are not allowed ('zzz' was unexpected)"),
        # owner allows unknown keys, but the missing postcode is probably `post_code`
        (
            "$.owner",
            "'post_code' is not a field of $.owner in vehicle_registration"
            " -- did you mean 'postcode'?",
        ),
        ("$.owner.postcode", "is required"),
        ("$.plate_number", "is required"),
    ]
    assert "plate_numbr" in payload and "plate_number" not in payload


def test_did_you_mean_compares_normalized_keys_and_suggests_each_field_once() -> None:
    spec = Registry().add("v", noop, prefix="V-", schema=VEHICLE)
    errors = spec.validate({"Plate Number": "x", "PLATE-NUMBER": "y", "owner": {"postcode": "1"}})
    hints = [m for _, m in errors if "did you mean" in m]
    assert hints == ["'Plate Number' is not a field of v -- did you mean 'plate_number'?"]
    assert ("$", "Additional properties are not allowed ('PLATE-NUMBER' was unexpected)") in errors
    # present fields are not suggested, and far-off keys get no suggestion
    errors = spec.validate({"plate_number": "x", "plate_numbr": "y", "owner": {"postcode": "1"}})
    assert errors == [("$", "Additional properties are not allowed ('plate_numbr' was unexpected)")]
    # a valid payload with an unknown key close to an optional field stays valid
    owner = Registry().add("w", noop, prefix="W-", schema=OWNER)
    assert owner.validate({"postcode": "1", "cty": "Lyon"}) == []


def test_the_failure_reason_carries_the_hint() -> None:
    from mailcore.engine import schema_reason

    spec = Registry().add("vehicle_registration", noop, prefix="V-", schema=VEHICLE)
    reason = schema_reason(
        spec.name, spec.validate({"plate_numbr": "AB", "owner": {"postcode": "1"}})
    )
    assert "did you mean 'plate_number'?" in reason and "$.plate_number: is required" in reason


def test_prepare_applies_aliases_and_coerces_strings_to_schema_types():
    r = Registry()
    spec = r.add("v", noop, prefix="V-", schema=SCHEMA, aliases={"plate": ["kennzeichen"]})
    out = spec.prepare(
        {"Kennzeichen": "AB 1", "weight": "12,5", "urgent": "yes", "items": [{"qty": "3"}]}
    )
    assert out == {"plate": "AB 1", "weight": 12.5, "urgent": True, "items": [{"qty": 3}]}


def test_json_path_quotes_odd_keys():
    assert json_path(["a", 0, "b c"]) == "$.a[0]['b c']"


def test_load_registry_names_what_is_wrong():
    with pytest.raises(ConfigError, match="cannot be loaded"):
        load_registry("no.such.module:registry")
    with pytest.raises(ConfigError, match="is not a mailcore.registry.Registry"):
        load_registry("mailcore.registry:json_path")
    assert isinstance(load_registry("mailcore.registry:registry"), Registry)


def test_a_misspelt_option_is_refused_not_ignored() -> None:
    registry = Registry()
    with pytest.raises(TypeError, match="prefx"):
        registry.add("vehicle", lambda ctx: None, prefx="VEH-")  # type: ignore[call-arg]
