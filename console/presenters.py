"""Pure helpers turning mailcore values into what the console templates display.

Payload text in JSON or YAML, schema errors (`SchemaError` records) attached to payload
fields by their kind and keys, each field with what its schema expects (description, format,
choices: mailcore.processing.schemacheck says them) and a value picked from its choices written
back (`set_choices`); the before/after diff of a payload is console.timeline.diff_lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from flask_babel import gettext as _

from console.schema_words import schema_words
from mailcore import DEFAULT_PAYLOAD_LIMITS as DEFAULT_LIMITS
from mailcore import PayloadTooLarge, check_payload, load_json, load_yaml
from mailcore.processing.schemacheck import choices, expected, explain
from mailcore.processing.vocabulary import ErrorKind, SchemaError, as_schema_errors

try:
    _YAML_LOADER: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _YAML_LOADER = yaml.SafeLoader

SYNTAXES = ("json", "yaml")


class PayloadSyntaxError(ValueError):
    """The edited payload text does not parse; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def payload_problem(payload: Any) -> str | None:
    """Why `payload` cannot be shown (over the payload limits), or None when it can."""
    try:
        check_payload(payload, DEFAULT_LIMITS)
    except PayloadTooLarge as exc:
        return str(exc)
    return None


def dump_payload(payload: Any, syntax: str = "json") -> str:
    """The payload as editable text; a payload over the limits is not written out (a shared
    list written out is all its copies) -- the text says why instead."""
    if payload is None:
        payload = {}
    problem = payload_problem(payload)
    if problem is not None:
        return _("(not shown: %(why)s)", why=problem)
    if syntax == "yaml":
        return yaml.safe_dump(
            payload, sort_keys=False, allow_unicode=True, default_flow_style=False
        )
    return json.dumps(payload, indent=2, ensure_ascii=False, default=str)


def parse_payload(text: str, syntax: str = "json") -> dict[str, Any]:
    """Parse edited payload text into an object; raises PayloadSyntaxError saying where.

    The text must fit the payload limits (mailcore.inbound.payload.PayloadLimits): over them the
    error names the limit, and nothing is built (YAML aliases are counted, not expanded).
    """
    if not text.strip():
        raise PayloadSyntaxError(
            _(
                "the payload is empty: enter an object such as %(example)s",
                example='{"key": "value"}',
            )
        )
    try:
        if syntax == "yaml":
            try:
                value = load_yaml(text, DEFAULT_LIMITS, _YAML_LOADER)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                line = mark.line + 1 if mark is not None else None
                problem = getattr(exc, "problem", None) or _("invalid YAML")
                raise PayloadSyntaxError(_("YAML: %(why)s", why=problem), line) from None
            except (ValueError, TypeError, OverflowError) as exc:  # "!!timestamp 2024-13-45"
                raise PayloadSyntaxError(_("YAML: %(why)s", why=exc)) from None
        else:
            try:
                value = load_json(text, DEFAULT_LIMITS)
            except json.JSONDecodeError as exc:
                message = _("JSON: %(why)s (column %(column)s)", why=exc.msg, column=exc.colno)
                raise PayloadSyntaxError(message, exc.lineno) from None
            except ValueError as exc:  # e.g. Python's own 4,300-digit limit
                raise PayloadSyntaxError(_("JSON: %(why)s", why=exc)) from None
    except PayloadTooLarge as exc:
        raise PayloadSyntaxError(str(exc), _line_of(exc.where)) from None
    if not isinstance(value, dict):
        raise PayloadSyntaxError(
            _("the payload must be an object (key: value pairs), not a list or a value")
        )
    return value


def _line_of(where: str | None) -> int | None:
    found = re.fullmatch(r"line (\d+)", where or "")
    return int(found.group(1)) if found else None


def normalize_path(path: str) -> str:
    """'$.owner.name', '/owner/name', 'owner[0]' -> 'owner.name' / 'owner.0' (display form)."""
    path = path.strip()
    if path.startswith("$"):
        path = path[1:]
    path = re.sub(r"\[(\d+)\]", r".\1", path).replace("/", ".")
    return ".".join(p for p in path.split(".") if p)


@dataclass
class FieldRow:
    """One leaf of the payload, with the schema errors about it."""

    path: str
    value: Any
    errors: list[str] = field(default_factory=list)
    missing: bool = False
    suggestion: str | None = None  # the schema property this unknown key probably misspells
    expected: str | None = None  # what the field's schema asks for, in words
    choices: list[tuple[str, str]] = field(default_factory=list)  # (JSON value, label) of an enum

    @property
    def chosen(self) -> str:
        """The current value as a choice's value (JSON), "" when missing."""
        return "" if self.missing else json.dumps(self.value, ensure_ascii=False, default=str)

    @property
    def display(self) -> str:
        if self.missing:
            return "(missing)"
        if isinstance(self.value, str):
            return self.value
        return json.dumps(self.value, ensure_ascii=False, default=str)


def _leaves(value: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from _leaves(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and any(isinstance(v, Mapping) for v in value):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{prefix}.{i}" if prefix else str(i))
    else:
        yield prefix, value


def field_schema(schema: Any, path: str) -> Any:
    """The subschema of the field at a display path ('owner.name', 'items.0'), None if the
    schema does not describe it (properties, then items, one step at a time)."""
    node = schema
    for part in path.split(".") if path else []:
        if not isinstance(node, Mapping):
            return None
        props = node.get("properties")
        if isinstance(props, Mapping) and part in props:
            node = props[part]
        elif part.isdigit() and isinstance(node.get("items"), Mapping):
            node = node["items"]
        else:
            return None
    return node


def _describe(rows: Iterable[FieldRow], schema: Any) -> None:
    for row in rows:
        sub = field_schema(schema, row.path)
        row.expected = expected(sub, schema_words())
        row.choices = [(json.dumps(v, ensure_ascii=False), _label(v)) for v in choices(sub)]


def _label(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def set_choices(payload: dict[str, Any], picked: Mapping[str, str], schema: Any) -> dict[str, Any]:
    """`payload` with each top-level or nested field of `picked` (display path -> a choice's
    JSON value) set to that choice; a value that is not one of the field's choices, or a path
    through something that is not an object, is left alone."""
    out = json.loads(json.dumps(payload, default=str))  # a copy: the editor text is rebuilt
    for path, raw in picked.items():
        values = choices(field_schema(schema, path))
        allowed = {json.dumps(v, ensure_ascii=False): v for v in values}
        if raw not in allowed or not path:
            continue
        *parents, last = path.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {}) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[last] = allowed[raw]
    return out


def field_rows(
    payload: Mapping[str, Any] | None,
    errors: Iterable[SchemaError | tuple[str, str]],
    schema: Any = None,
) -> tuple[list[FieldRow], list[str]]:
    """Payload leaves with their errors attached, plus errors that concern no single field.

    Errors are `SchemaError` records, placed by what they say they are about (never by reading
    their message): a missing property becomes a row for the missing field, an unknown key
    gets its "did you mean" hint or "not in the schema" on its own row. (path, message) pairs
    (`PayloadInvalid.errors`) are taken as records too. With the handler's `schema`, each row
    says what its field expects and lists its choices. A payload over the limits gets no rows
    (they would be all its copies), only the reason.
    """
    records = as_schema_errors(list(errors))
    problem = payload_problem(payload or {})
    if problem is not None:
        return [], [problem, *(f"{e.path}: {e.message}" for e in records if e.message != problem)]
    rows = {path: FieldRow(path, value) for path, value in _leaves(payload or {}) if path}
    general: list[str] = []
    for error in records:
        path = normalize_path(error.path)
        if error.kind == ErrorKind.REQUIRED and path not in rows:
            row = rows.setdefault(path, FieldRow(path, None, missing=True))
            row.errors.append(_("required: this field is missing"))
            continue
        if error.kind == ErrorKind.UNKNOWN and _place_unknown(rows, path, error):
            continue
        target = rows.get(path)
        if target is None:
            # An error about an object or list: attach to its first leaf below it, if any.
            target = (
                next((r for p, r in rows.items() if p.startswith(path + ".")), None)
                if path
                else None
            )
        if target is None:
            general.append(f"{path}: {error.message}" if path else error.message)
        elif target.path == path and schema is not None:  # said again in the reader's words
            said = explain(error.kind, target.value, field_schema(schema, path), schema_words())
            target.errors.append(said or error.message)
        else:
            target.errors.append(error.message)
    _describe(rows.values(), schema)
    return list(rows.values()), general


def _place_unknown(rows: Mapping[str, FieldRow], path: str, error: SchemaError) -> bool:
    """Put an unknown-key error on the rows of its keys; whether any row took it."""
    if error.suggestion is not None and error.key is not None:
        row = rows.get(f"{path}.{error.key}" if path else error.key)
        if row is not None:
            row.suggestion = error.suggestion
            row.errors.append(_("not in the schema -- did you mean %(key)r?", key=error.suggestion))
            return True
    found = [rows[n] for n in (f"{path}.{k}" if path else k for k in error.keys) if n in rows]
    for row in found:
        row.errors.append(_("not in the schema: a typo, or a field to remove"))
    return bool(found)
