"""Registry: routing by identifier prefix, subaddress, subject keyword, callable and default;
schemas (Draft 2020-12) with errors as SchemaError records; aliases and coercion."""

from __future__ import annotations

from typing import Any

import pytest

from mailcore.errors import ConfigError, MailcoreError, RegistrationError, UnknownHandler
from mailcore.inbound.extract import extract
from mailcore.mailboxes.protocol import Mailbox
from mailcore.processing.engine import Engine
from mailcore.processing.payload_errors import json_path
from mailcore.processing.registry import HandlerContext, Registry, load_registry
from mailcore.processing.vocabulary import ErrorKind, SchemaError
from mailcore.store.history import History
from tests.mailcore.engine_support import deliver
from tests.servers import message


def pairs(errors: list[SchemaError]) -> list[tuple[str, str]]:
    """The (path, message) of each error, in order."""
    return [e.pair for e in errors]


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
    with pytest.raises(UnknownHandler, match="no handler 'nope'") as caught:
        r.get("nope")
    assert str(caught.value) == "no handler 'nope'; registered: y"  # not quoted like a KeyError


def test_every_registration_error_is_a_mailcore_error_a_caller_can_catch():
    r = Registry()
    for bad in (
        lambda: r.add("", noop, prefix="X-"),
        lambda: r.add("x", noop),
        lambda: r.add("x", noop, prefx="X-"),  # type: ignore[call-arg]
        lambda: r.add("x", noop, prefix="X-", schema={"type": 5}),
        lambda: r.get("nope"),
    ):
        with pytest.raises(MailcoreError):
            bad()


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
        SchemaError(
            "$",
            ErrorKind.UNKNOWN,
            "Additional properties are not allowed ('colour' was unexpected)",
            keys=("colour",),
        ),
        SchemaError("$.items[0].qty", ErrorKind.TYPE, "'many' is not of type 'integer'"),
        SchemaError("$.plate", ErrorKind.REQUIRED, "is required", key="plate"),
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
    assert pairs(spec.validate(payload)) == [
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
    # the hint says which key and which field for code too: nobody reads the sentence back
    hint = next(e for e in spec.validate(payload) if e.key == "post_code")
    assert hint == SchemaError(
        "$.owner",
        ErrorKind.UNKNOWN,
        "'post_code' is not a field of $.owner in vehicle_registration -- did you mean 'postcode'?",
        key="post_code",
        suggestion="postcode",
        keys=("post_code",),
    )


def test_a_required_property_with_a_quote_in_its_name_is_missing_at_its_own_path() -> None:
    schema = {"type": "object", "required": ["owner's name"]}
    spec = Registry().add("v", noop, prefix="V-", schema=schema)
    assert spec.validate({}) == [
        SchemaError('$["owner\'s name"]', ErrorKind.REQUIRED, "is required", key="owner's name")
    ]


def test_did_you_mean_compares_normalized_keys_and_suggests_each_field_once() -> None:
    spec = Registry().add("v", noop, prefix="V-", schema=VEHICLE)
    errors = spec.validate({"Plate Number": "x", "PLATE-NUMBER": "y", "owner": {"postcode": "1"}})
    hints = [e.message for e in errors if e.suggestion]
    assert hints == ["'Plate Number' is not a field of v -- did you mean 'plate_number'?"]
    unexpected = "Additional properties are not allowed ('PLATE-NUMBER' was unexpected)"
    assert ("$", unexpected) in pairs(errors)
    # present fields are not suggested, and far-off keys get no suggestion
    errors = spec.validate({"plate_number": "x", "plate_numbr": "y", "owner": {"postcode": "1"}})
    assert pairs(errors) == [
        ("$", "Additional properties are not allowed ('plate_numbr' was unexpected)")
    ]
    # a valid payload with an unknown key close to an optional field stays valid
    owner = Registry().add("w", noop, prefix="W-", schema=OWNER)
    assert owner.validate({"postcode": "1", "cty": "Lyon"}) == []


def test_the_failure_reason_carries_the_hint() -> None:
    from mailcore.processing.engine import schema_reason

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
    with pytest.raises(ConfigError, match="is not a mailcore.processing.registry.Registry"):
        load_registry("mailcore.processing.registry:load_registry")
    assert isinstance(load_registry("mailcore.processing.registry:registry"), Registry)


def test_a_misspelt_option_is_refused_not_ignored() -> None:
    registry = Registry()
    with pytest.raises(RegistrationError, match="prefx"):
        registry.add("vehicle", lambda ctx: None, prefx="VEH-")  # type: ignore[call-arg]


# -- payload budgets -------------------------------------------------------------------------

SEATS = {"type": "object", "properties": {"seats": {"type": "integer"}, "km": {"type": "number"}}}


@pytest.mark.parametrize("digits", [101, 4_301, 100_000])
def test_a_huge_number_typed_in_a_field_is_an_error_naming_the_limit(digits: int) -> None:
    spec = Registry().add("v", noop, prefix="V-", schema=SEATS)
    for field in ("seats", "km"):
        payload = spec.prepare({field: "9" * digits})  # no int() of it: no ValueError
        assert payload == {field: "9" * digits}
        [(path, error)] = pairs(spec.validate(payload))
        assert path == f"$.{field}"
        assert f"a number of {digits:,} digits is over the limit max_number_digits = 100" in error
    assert spec.prepare({"seats": "9" * 100}) == {"seats": int("9" * 100)}


def shared_bomb(levels: int = 9, fanout: int = 9) -> Any:
    """What PyYAML builds from an alias bomb: one list shared `fanout` times per level."""
    value: Any = ["lol"] * fanout
    for _ in range(levels - 1):
        value = [value] * fanout
    return value


def test_an_over_budget_payload_gets_the_limit_as_its_error_without_being_walked() -> None:
    from tests.mailcore.inbound.test_payload import bounded

    r = Registry()
    # jsonschema would write the 387-million-value instance out in its message.
    strict = r.add("v", noop, prefix="V-", schema={"properties": {"notes": {"type": "string"}}})
    loose = r.add("w", noop, prefix="W-")  # no schema: the budget still holds
    payload = {"notes": shared_bomb()}
    with bounded():
        for spec in (strict, loose):
            assert spec.prepare(payload)["notes"] is payload["notes"]  # left as it is
            [(path, error)] = pairs(spec.validate(payload))
            assert path == "$" and "payload over the limit max_nodes = 10,000" in error


def test_a_registry_can_have_stricter_limits() -> None:
    from mailcore.inbound.payload import PayloadLimits

    spec = Registry(PayloadLimits(max_nodes=5)).add("v", noop, prefix="V-")
    assert spec.validate({"a": 1, "b": 2}) == []
    [found] = spec.validate({"a": 1, "b": 2, "c": 3})
    error = found.message
    assert found.kind == ErrorKind.LIMIT
    assert "max_nodes = 5" in error


def test_the_issues_alias_bomb_fails_the_mail_with_a_reason_naming_the_limit(
    mailbox: Mailbox, history: History
) -> None:
    from tests.mailcore.inbound.test_payload import alias_bomb, bounded

    calls: list[Any] = []
    r = Registry()
    r.add("vehicle", calls.append, prefix="VEH-", schema=SEATS)
    engine = Engine(mailbox, r, history)
    deliver(mailbox, message("Registration [VEH-1042]", alias_bomb(head="plate: AB-123-CD\n")))
    with bounded(seconds=10, megabytes=100):
        [outcome] = engine.poll_once()
        inspection = engine.inspect(mailbox.uids("failed")[0])
    assert outcome.status == "failed" and not calls
    # The limit is the reason, not "no payload found".
    assert (outcome.reason or "").startswith("payload over the limit max_nodes = 10,000")
    assert inspection.payload is None


def test_a_handler_with_an_optional_payload_never_runs_on_a_refused_one(
    mailbox: Mailbox, history: History
) -> None:
    from tests.mailcore.inbound.test_payload import alias_bomb

    calls: list[Any] = []
    r = Registry()
    r.add("notes", calls.append, prefix="VEH-", requires_payload=False)
    deliver(mailbox, message("Notes [VEH-1042]", alias_bomb()))
    [outcome] = Engine(mailbox, r, history).poll_once()
    assert outcome.status == "failed" and not calls  # not called with {}
    assert (outcome.reason or "").startswith("payload over the limit")


def test_a_registry_with_stricter_limits_holds_the_mail_to_them(
    mailbox: Mailbox, history: History
) -> None:
    from mailcore.inbound.payload import PayloadLimits

    calls: list[Any] = []
    r = Registry(PayloadLimits(max_nodes=5))
    r.add("vehicle", calls.append, prefix="VEH-")
    lines = "".join(f"key{i}: value {i}\n" for i in range(10))  # within the defaults, not 5
    deliver(mailbox, message("Update [VEH-1042]", lines))
    [outcome] = Engine(mailbox, r, history).poll_once()
    assert outcome.status == "failed" and not calls
    assert "max_nodes = 5" in (outcome.reason or "")
