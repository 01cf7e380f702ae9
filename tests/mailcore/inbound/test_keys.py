"""Key spelling: normalize_key and apply_aliases on the spellings people actually type."""

from __future__ import annotations

import pytest

from mailcore.inbound.keys import apply_aliases, normalize_key, normalize_keys


@pytest.mark.parametrize(
    "spelling",
    ["Plate number", "plate-number", "PLATE_NUMBER:", "  Plate   Number ", "plate.number",
     "Plate - Number", "plate_number"],
)  # fmt: skip
def test_one_key_many_spellings(spelling: str) -> None:
    assert normalize_key(spelling) == "plate_number"


def test_accents_are_dropped_and_german_sharp_s_folded() -> None:
    assert normalize_key("Propriétaire") == "proprietaire"
    assert normalize_key("Straße") == "strasse"
    assert normalize_key("Kilométrage (km)") == "kilometrage_km"


def test_key_without_letters_is_empty() -> None:
    assert normalize_key("--- : ---") == ""


def test_aliases_map_other_languages_to_the_canonical_key() -> None:
    aliases = {"plate_number": ["immatriculation", "Kennzeichen"], "owner": ["propriétaire"]}
    payload = {"Immatriculation": "AB-1", "Propriétaire": "Zoé", "Color": "red"}
    assert apply_aliases(payload, aliases) == {
        "plate_number": "AB-1",
        "owner": "Zoé",
        "color": "red",
    }


def test_canonical_key_wins_over_alias() -> None:
    aliases = {"plate_number": ["immatriculation"]}
    payload = {"immatriculation": "ALIAS", "Plate number": "CANONICAL"}
    assert apply_aliases(payload, aliases) == {"plate_number": "CANONICAL"}


def test_first_alias_wins_among_aliases() -> None:
    aliases = {"plate_number": ["immatriculation", "kennzeichen"]}
    payload = {"Kennzeichen": "DE", "immatriculation": "FR"}
    assert apply_aliases(payload, aliases) == {"plate_number": "DE"}


def test_duplicate_spellings_are_reported() -> None:
    out, problems = normalize_keys({"Plate": 1, "PLATE": 2, "": 3})
    assert out == {"plate": 1}
    assert len(problems) == 2
