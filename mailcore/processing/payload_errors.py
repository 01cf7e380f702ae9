"""A payload against its handler's schema, said for people: every violation as a `SchemaError`
record (`schema_errors`: missing properties at their own path, "did you mean" for a misspelt
key, a too long number as its limit, the rest with what the field's schema tells people), the
JSON path of a place in a payload (`json_path`), and the strings a schema wants as numbers or
booleans converted (`coerce`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator

from mailcore.inbound.keys import normalize_key
from mailcore.inbound.payload import DEFAULT_LIMITS, PayloadLimits, PayloadTooLarge
from mailcore.processing.schemacheck import for_people
from mailcore.processing.vocabulary import ErrorKind, ErrorList, SchemaError

__all__ = ["coerce", "json_path", "limit_errors", "schema_errors"]

_MAX_MESSAGE = 300
_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")
# How alike an unknown key and a schema property must be (difflib ratio, on normalized keys)
# to suggest one for the other: "plate_numbr" ~ "plate_number" (0.96), "colour" !~ "plate".
_CLOSE = 0.8


def limit_errors(exc: PayloadTooLarge) -> ErrorList:
    return [SchemaError(p, ErrorKind.LIMIT, m) for p, m in exc.errors]


def json_path(path: Sequence[str | int]) -> str:
    """``$.items[0].qty`` for the path ['items', 0, 'qty']."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += "[" + repr(part) + "]"
    return out


def schema_errors(
    validator: Draft202012Validator,
    payload: Any,
    handler: str | None = None,
    limits: PayloadLimits = DEFAULT_LIMITS,
) -> ErrorList:
    """Every schema violation as a `SchemaError`, missing properties at their own path.

    An unknown key close to a property the object lacks (``plate_numbr`` where
    ``plate_number`` is required) gets its own error at the object's path, "'plate_numbr' is
    not a field of <handler> -- did you mean 'plate_number'?" (kind UNKNOWN, with `key` and
    `suggestion`); the payload itself is left as it is, the operator decides. A number typed as
    text too long to be converted (over `limits.max_number_digits`) is said as that limit, not
    as a wrong type.

    The payload must be within `limits` (see `check_payload`): jsonschema writes instances out
    in its messages.
    """
    errors: set[SchemaError] = set()
    for error in validator.iter_errors(payload):
        path: list[str | int] = list(error.absolute_path)
        message = error.message
        kind = SchemaError.kind_of(str(error.validator))
        key: str | None = None
        keys: tuple[str, ...] = ()
        missing = _missing_property(error) if error.validator == "required" else None
        if missing is not None:
            # An unknown key the schema allows may still be the missing property misspelt.
            errors.update(_misspellings(error.schema, error.instance, path, handler).values())
            key = missing
            path.append(key)
            message = "is required"
        elif error.validator == "additionalProperties" and error.validator_value is False:
            hints = _misspellings(error.schema, error.instance, path, handler)
            errors.update(hints.values())
            rest = [k for k in _unknown_keys(error.schema, error.instance) if k not in hints]
            if not rest:
                continue
            keys = tuple(rest)
            if hints:
                verb = "was" if len(rest) == 1 else "were"
                listed = ", ".join(repr(k) for k in rest)
                message = f"Additional properties are not allowed ({listed} {verb} unexpected)"
        elif error.validator == "type" and _too_long_number(error.instance, limits):
            digits = len(error.instance.strip())
            kind = ErrorKind.LIMIT
            message = (
                f"a number of {digits:,} digits is over the limit max_number_digits ="
                f" {limits.max_number_digits:,}: write it shorter"
            )
        else:  # said with what the field's schema tells people (never a bare regex)
            message = for_people(str(error.validator), error.instance, error.schema, message)
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 1] + "…"
        errors.add(SchemaError(json_path(path), kind, message, key, keys=keys))
    return sorted(errors, key=_order)


def _missing_property(error: Any) -> str | None:
    """The property a jsonschema "required" error is about: the name of the schema's `required`
    its message is for (jsonschema says ``{name!r} is a required property``; compared whole,
    not matched by a pattern, so a name with quotes in it is found too)."""
    for name in error.validator_value or ():
        if isinstance(name, str) and error.message == f"{name!r} is a required property":
            return name
    return None


def _order(error: SchemaError) -> tuple[str, str]:
    """The order errors are listed in: by path, then message (as (path, message) pairs were)."""
    return error.path, error.message


def _unknown_keys(schema: Any, instance: Any) -> list[str]:
    """Keys of `instance` that neither `properties` nor `patternProperties` of `schema` name."""
    if not isinstance(schema, Mapping) or not isinstance(instance, Mapping):
        return []
    props = schema.get("properties") or {}
    patterns = list((schema.get("patternProperties") or {}).keys())
    return [
        k
        for k in instance
        if isinstance(k, str)
        and k not in props
        and not any(re.search(pattern, k) for pattern in patterns)
    ]


def _misspellings(
    schema: Any, instance: Any, path: Sequence[str | int], handler: str | None
) -> dict[str, SchemaError]:
    """Unknown key -> "did you mean" error, for keys close to a property `instance` lacks.

    Missing required properties are tried first, then the other absent properties; each
    property is suggested for one key at most.
    """
    unknown = _unknown_keys(schema, instance)
    if not unknown:
        return {}
    props = schema.get("properties") or {}
    required = [k for k in schema.get("required") or [] if isinstance(k, str)]
    absent = [k for k in (*required, *props) if k not in instance]
    by_norm: dict[str, str] = {}
    for name in absent:
        by_norm.setdefault(normalize_key(name), name)
    where = handler or "the schema"
    if path:
        where = f"{json_path(path)} in {where}"
    hints: dict[str, SchemaError] = {}
    for key in unknown:
        close = difflib.get_close_matches(normalize_key(key), list(by_norm), n=1, cutoff=_CLOSE)
        if close:
            meant = by_norm.pop(close[0])
            message = f"{key!r} is not a field of {where} -- did you mean {meant!r}?"
            hints[key] = SchemaError(
                json_path(path), ErrorKind.UNKNOWN, message, key, meant, keys=(key,)
            )
    return hints


def _too_long_number(instance: Any, limits: PayloadLimits) -> bool:
    """Whether `instance` is a number typed as text, too long for `coerce` to convert."""
    if not isinstance(instance, str):
        return False
    text = instance.strip()
    return len(text) > limits.max_number_digits and _NUMBER.fullmatch(text) is not None


def coerce(value: Any, schema: Mapping[str, Any], limits: PayloadLimits) -> Any:
    """Convert strings to the number/boolean type the schema asks for, where unambiguous.

    A number longer than `limits.max_number_digits` stays text (int() is quadratic in the
    digits and refuses 4,300 of them); the schema check then names the limit.
    """
    wanted = schema.get("type")
    types = set(wanted) if isinstance(wanted, list) else {wanted}
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        subs = {k: sub for k, sub in props.items() if isinstance(sub, Mapping)}
        return {k: coerce(v, subs[k], limits) if k in subs else v for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [coerce(v, schema["items"], limits) for v in value]
    if not isinstance(value, str) or "string" in types:
        return value
    text = value.strip()
    if len(text) > limits.max_number_digits and ("integer" in types or "number" in types):
        return value
    try:
        if "integer" in types and _INTEGER.fullmatch(text):
            return int(text)
        if "number" in types and _NUMBER.fullmatch(text):
            return float(text.replace(",", "."))
    except ValueError:  # Python's own limit on digits (sys.set_int_max_str_digits)
        return value
    if "boolean" in types and text.lower() in {"true", "yes", "false", "no"}:
        return text.lower() in {"true", "yes"}
    return value
