"""A quick yes/no for the plain JSON schemas most handlers declare, and schema errors said for
people (`for_people`, `expected`: a field's description, its choices, its format named).

`jsonschema` walks a schema anew for every instance (about 15 us for a flat object of a dozen
keys); the engine validates every message, and nearly all are valid. `compile_check` turns a
schema made only of the keywords below into a closure answering "valid?" in about a
microsecond, with jsonschema's Draft 2020-12 meaning; any other keyword (or a ``$ref``, enum,
combinator...) returns None and the caller keeps using jsonschema. The check says only yes or
no; the messages are jsonschema's, reworded by `for_people` where the schema says more.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import FormatChecker

__all__ = [
    "ENGLISH",
    "FORMATS",
    "FORMAT_CHECKER",
    "SchemaWords",
    "choices",
    "compile_check",
    "explain",
    "expected",
    "for_people",
]

Check = Callable[[Any], bool]

# Keywords that never change the verdict (annotations); `format` asserts only with a checker.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples", "format",
     "deprecated", "readOnly", "writeOnly"}
)  # fmt: skip
_OBJECT = frozenset({"type", "required", "properties", "additionalProperties"}) | _ANNOTATIONS
_SCALAR = (
    frozenset({"type", "minLength", "maxLength", "pattern", "minimum", "maximum"})
    | frozenset({"exclusiveMinimum", "exclusiveMaximum"})
    | _ANNOTATIONS
)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_PLAIN = frozenset({str, int, float, bool, type(None), dict, list})
_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),  # the instance is plain: no tuple, no subclass
}


def compile_check(schema: Any, formats: FormatChecker | None = None) -> Check | None:
    """A function telling whether an instance is valid, or None if the schema is not plain.

    True means jsonschema (given the same `formats` checker: `format` asserted for the
    formats it knows, an annotation otherwise) finds no error; False means "look closer"
    (jsonschema decides).
    """
    try:
        return _object(schema, formats)
    except _NotPlain:
        return None


class _NotPlain(Exception):
    pass


def _type_check(schema: Mapping[str, Any]) -> Check | None:
    if "type" not in schema:
        return None
    wanted = schema["type"]
    names = wanted if isinstance(wanted, list) else [wanted]
    if not names or not all(isinstance(n, str) and n in _TYPES for n in names):
        raise _NotPlain
    checks = [_TYPES[n] for n in names]
    if len(checks) == 1:
        return checks[0]
    return lambda v: any(c(v) for c in checks)


def _object(schema: Any, formats: FormatChecker | None) -> Check:
    if not isinstance(schema, dict) or not _OBJECT.issuperset(schema):
        raise _NotPlain
    if schema.get("type") != "object":
        raise _NotPlain
    required = schema.get("required", [])
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise _NotPlain
    if not isinstance(props, dict) or not isinstance(extra, bool):
        raise _NotPlain
    fields = tuple((name, _scalar(sub, formats)) for name, sub in props.items())
    allowed = frozenset(props)
    needed = tuple(required)

    def check(value: Any) -> bool:
        if type(value) is not dict:
            return False
        for name in needed:
            if name not in value:
                return False
        for name, field_check in fields:
            if name in value:
                item = value[name]
                # Only the types JSON and YAML produce: anything else (Decimal, a str
                # subclass...) is left to jsonschema, so "valid" here is never a guess.
                if type(item) not in _PLAIN or not field_check(item):
                    return False
        return extra or allowed.issuperset(value)

    return check


def _scalar(schema: Any, formats: FormatChecker | None) -> Check:
    if schema is True:
        return lambda v: True
    if not isinstance(schema, dict) or not _SCALAR.issuperset(schema):
        raise _NotPlain
    tests: list[Check] = []
    type_check = _type_check(schema)
    if type_check is not None:
        tests.append(type_check)
    for key in ("minLength", "maxLength"):
        if key in schema:
            limit = schema[key]
            if not _is_integer(limit) or limit < 0:
                raise _NotPlain
            tests.append(_length(key, int(limit)))
    if "pattern" in schema:
        if not isinstance(schema["pattern"], str):
            raise _NotPlain
        try:
            pattern = re.compile(schema["pattern"])
        except re.error:
            raise _NotPlain from None
        tests.append(lambda v: not isinstance(v, str) or pattern.search(v) is not None)
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in schema:
            bound = schema[key]
            if not _is_number(bound):
                raise _NotPlain
            tests.append(_bound(key, bound))
    if formats is not None and isinstance(schema.get("format"), str):
        name, checker = schema["format"], formats
        tests.append(lambda v: checker.conforms(v, name))
    return lambda v: all(t(v) for t in tests)


def _length(key: str, limit: int) -> Check:
    if key == "minLength":
        return lambda v: not isinstance(v, str) or len(v) >= limit
    return lambda v: not isinstance(v, str) or len(v) <= limit


def _bound(key: str, bound: float) -> Check:
    ops: dict[str, Callable[[Any], bool]] = {
        "minimum": lambda v: v >= bound,
        "maximum": lambda v: v <= bound,
        "exclusiveMinimum": lambda v: v > bound,
        "exclusiveMaximum": lambda v: v < bound,
    }
    op = ops[key]
    return lambda v: not _is_number(v) or op(v)


# -- what a field expects, said for people ---------------------------------------------------

# The JSON Schema formats, as people know them ("a date like 2024-03-31"); one list for the
# registry's messages and the console's field table.
FORMATS = {
    "date": "a date like 2024-03-31",
    "date-time": "a date and time like 2024-03-31T14:30:00+01:00",
    "time": "a time like 14:30:00",
    "email": "an e-mail address like ada@example.com",
    "idn-email": "an e-mail address like ada@example.com",
    "uri": "a web address like https://example.com/page",
    "hostname": "a host name like mail.example.com",
    "ipv4": "an IPv4 address like 192.0.2.10",
    "ipv6": "an IPv6 address like 2001:db8::1",
    "uuid": "a UUID like 123e4567-e89b-12d3-a456-426614174000",
    "duration": "a duration like P3D (three days)",
}
# The formats the registry asserts (not only annotates): those of FORMATS that jsonschema checks
# without an optional dependency ("a date like 2024-03-31" is then a reason to fail).
FORMAT_CHECKER = FormatChecker([f for f in FORMATS if f in FormatChecker.checkers])
_MAX_HINT = 300
_SHOWN = 60  # characters of a sender's value quoted back in a message


@dataclass(frozen=True)
class SchemaWords:
    """The words `expected` and `explain` say things with (%-style, named values): English
    here; a reader in another language gets them translated (the console passes its own)."""

    not_in_form: str = "%(value)s is not in the expected form: %(described)s"
    not_in_pattern: str = "%(value)s is not in the form this field expects (pattern %(pattern)s)"
    not_a_choice: str = "%(value)s is not one of the choices: %(listed)s"
    did_you_mean: str = "%(message)s -- did you mean %(close)s?"
    not_a_format: str = "%(value)s is not %(format)s"
    one_of: str = "one of %(listed)s"
    formats: Mapping[str, str] = field(default_factory=lambda: dict(FORMATS))


ENGLISH = SchemaWords()


def choices(schema: Any) -> list[Any]:
    """The values a field may take (its `enum`, or its `const`), [] when it is free."""
    if not isinstance(schema, Mapping):
        return []
    if isinstance(schema.get("enum"), list):
        return list(schema["enum"])
    return [schema["const"]] if "const" in schema else []


def expected(schema: Any, words: SchemaWords = ENGLISH) -> str | None:
    """What a field's schema asks for, in words: its description (or title), its format named,
    its choices listed; None when the schema says nothing a person can use."""
    if not isinstance(schema, Mapping):
        return None
    parts = []
    text = schema.get("description") or schema.get("title")
    if isinstance(text, str) and text.strip():
        parts.append(text.strip())
    if schema.get("format") in words.formats:
        parts.append(words.formats[schema["format"]])
    values = choices(schema)
    if values:
        parts.append(words.one_of % {"listed": ", ".join(_show(v) for v in values)})
    hint = "; ".join(parts)
    return hint[: _MAX_HINT - 1] + "…" if len(hint) > _MAX_HINT else hint or None


def for_people(validator: str, instance: Any, schema: Any, message: str) -> str:
    """A schema error said with what the field's schema tells people (jsonschema's `message`
    for the others): a pattern by the field's description, never as a regex when there is one;
    choices listed (with the closest one); a format named."""
    said = explain("enum" if validator == "const" else validator, instance, schema)
    if said is not None:
        return said
    described = _described(schema) if isinstance(schema, Mapping) else None
    return f"{message} ({described})" if described else message


def explain(kind: str, instance: Any, schema: Any, words: SchemaWords = ENGLISH) -> str | None:
    """`instance` refused by `schema` for a `kind` of error ("pattern", "enum" (or const),
    "format": mailcore.processing.vocabulary.ErrorKind's values), said in `words`; None for
    the other kinds, which jsonschema's own message says."""
    if not isinstance(schema, Mapping):
        return None
    value = _show(instance)
    if kind == "pattern":
        described = _described(schema)
        if described:
            return words.not_in_form % {"value": value, "described": described}
        return words.not_in_pattern % {"value": value, "pattern": schema.get("pattern")}
    if kind == "enum":
        values = choices(schema)
        listed = ", ".join(_show(v) for v in values)
        said = words.not_a_choice % {"value": value, "listed": listed}
        close = _closest(instance, values)
        return (
            said if close is None else words.did_you_mean % {"message": said, "close": _show(close)}
        )
    if kind == "format" and schema.get("format") in words.formats:
        return words.not_a_format % {"value": value, "format": words.formats[schema["format"]]}
    return None


def _described(schema: Mapping[str, Any]) -> str | None:
    text = schema.get("description") or schema.get("title")
    return text.strip() if isinstance(text, str) and text.strip() else None


def _closest(instance: Any, values: list[Any]) -> Any:
    """The choice a mistyped text value most probably meant ('motorbike' -> 'motorcycle')."""
    if not isinstance(instance, str):
        return None
    texts = {v.lower(): v for v in values if isinstance(v, str)}
    found = difflib.get_close_matches(instance[:_SHOWN].lower(), list(texts), n=1, cutoff=0.6)
    return texts[found[0]] if found else None


def _show(value: Any) -> str:
    """A value quoted as in jsonschema's messages, cut to _SHOWN characters."""
    if isinstance(value, str):
        text = repr(value[: _SHOWN + 1])
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = type(value).__name__
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
