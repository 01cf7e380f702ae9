"""Payload key spelling: "Plate number", "plate-number" and "PLATE_NUMBER:" are one key."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

# Any run of characters that are not letters or digits (punctuation, spaces, underscores,
# symbols) is one separator.
_SEPARATORS = re.compile(r"[\W_]+")


@functools.lru_cache(maxsize=4096)  # pure, and the same few keys come in every message
def normalize_key(key: str) -> str:
    """Canonical key: case-folded, accents dropped, separator runs as one ``_``, no edge ``_``.

    ``"Plate number"``, ``"plate-number"``, ``"PLATE_NUMBER:"`` -> ``"plate_number"``;
    ``"Numéro"`` -> ``"numero"``. Idempotent.
    """
    folded = key.casefold()
    if not folded.isascii():
        # Users type "numero" as often as "numéro": compare without diacritics.
        decomposed = unicodedata.normalize("NFKD", folded)
        folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
        folded = unicodedata.normalize("NFKC", folded)
    return _SEPARATORS.sub("_", folded).strip("_")


def normalize_keys(payload: Mapping[Any, Any]) -> tuple[dict[str, Any], list[str]]:
    """Top-level keys normalized; the first spelling of a key wins, later duplicates reported."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for raw_key, value in payload.items():
        key = normalize_key(str(raw_key))
        if not key:
            problems.append(f"payload key {str(raw_key)!r} has no letters or digits; ignored")
        elif key in out:
            problems.append(f"payload key {str(raw_key)!r} repeats {key!r}; first value kept")
        else:
            out[key] = value
    return out, problems


def apply_aliases(
    payload: Mapping[Any, Any], aliases: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """Payload with keys normalized and other-language spellings renamed to their canonical key.

    `aliases` maps a canonical key to its spellings, e.g.
    ``{"plate_number": ["immatriculation", "kennzeichen"]}``. When both the canonical key and
    an alias are present the canonical key's value wins; among aliases the first one found wins.
    """
    lookup: dict[str, str] = {}
    for name, spellings in aliases.items():
        target = normalize_key(name)
        for spelling in spellings:
            lookup.setdefault(normalize_key(spelling), target)
    normalized, _ = normalize_keys(payload)
    out: dict[str, Any] = {}
    aliased: dict[str, Any] = {}
    for key, value in normalized.items():
        canonical = lookup.get(key)
        if canonical is None or canonical == key:
            out[key] = value
        else:
            aliased.setdefault(canonical, value)
    for key, value in aliased.items():
        out.setdefault(key, value)
    return out
