"""Sample data from a JSON Schema: a plausible value for every property, so every placeholder
a template author can use has something to show in the preview."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_FORMAT_EXAMPLES = {
    "date": "2024-05-14",
    "date-time": "2024-05-14T09:30:00+02:00",
    "time": "09:30:00",
    "email": "partner@example.com",
    "uri": "https://example.com/",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
}


def sample_from_schema(schema: Mapping[str, Any], _depth: int = 0, _key: str = "") -> Any:
    """A plausible example value for `schema`: its examples, default, enum or a typed stand-in.

    Good enough to pre-fill an editor's sample data: every property of an object is present,
    so every placeholder a template author can use has a value to show in the preview.
    """
    if _depth > 8:  # recursive schemas
        return None
    for key in ("examples",):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema[key][0]
    for key in ("example", "default", "const"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("oneOf", "anyOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            if key == "allOf":
                merged: dict[str, Any] = {}
                for part in schema[key]:
                    value = sample_from_schema(part, _depth + 1)
                    if isinstance(value, dict):
                        merged.update(value)
                if merged:
                    return merged
            return sample_from_schema(schema[key][0], _depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind == "object":
        props = schema.get("properties") or {}
        return {
            key: sample_from_schema(sub if isinstance(sub, Mapping) else {}, _depth + 1, key)
            for key, sub in props.items()
        }
    if kind == "array":
        items = schema.get("items")
        item = sample_from_schema(items, _depth + 1, _key) if isinstance(items, Mapping) else "item"
        return [item] * max(1, int(schema.get("minItems", 1)))
    if kind == "string":
        fmt = schema.get("format")
        if fmt in _FORMAT_EXAMPLES:
            return _FORMAT_EXAMPLES[fmt]
        hinted = _described_example(schema)
        if hinted is not None:
            return hinted
        text = str(schema.get("title") or _key.replace("_", " ").capitalize() or "text")
        minimum, maximum = int(schema.get("minLength", 0)), schema.get("maxLength")
        text = text.ljust(minimum, "x")
        return text[: int(maximum)] if maximum is not None else text
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.5))
    if kind == "boolean":
        return True
    return None


_EG = re.compile(r"\b(?:e\.g\.|for example|example:|ex\.)\s*[:,]?\s*([^\s,;()]+)", re.I)


def _described_example(schema: Mapping[str, Any]) -> str | None:
    """An example written in the description ("French format, e.g. AB-123-CD"), if it fits
    the schema's pattern."""
    found = _EG.search(str(schema.get("description") or ""))
    if not found:
        return None
    value = found.group(1).rstrip(".")
    pattern = schema.get("pattern")
    if pattern:
        try:
            if not re.search(str(pattern), value):
                return None
        except re.error:
            return None
    return value
