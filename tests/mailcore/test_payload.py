"""Payload finding in text: YAML/JSON documents and liberal key lines."""

from __future__ import annotations

import pytest

from mailcore.payload import document_payload, key_lines_payload, load_yaml


def test_yaml_document_with_free_text_after_dashes() -> None:
    payload, problem = document_payload("plate: A-1\nowner: Bob\n---\nThanks, see you: soon")
    assert payload == {"plate": "A-1", "owner": "Bob"}
    assert problem is None


def test_yaml_document_opened_by_dashes_after_a_greeting() -> None:
    payload, _ = document_payload("Hello,\n---\nplate: A-1\nitems:\n  - x\n---\nbye")
    assert payload == {"plate": "A-1", "items": ["x"]}


def test_yaml_mapping_followed_by_prose_without_dashes() -> None:
    payload, _ = document_payload("plate: A-1\nseats: 5\n\nThe car is parked outside, thanks.")
    assert payload == {"plate": "A-1", "seats": 5}


@pytest.mark.parametrize(
    "text",
    ["Hello there, this is a sentence.", "- a\n- b", "just: [unclosed", "", "  \n \n", "42"],
)
def test_not_a_mapping_is_not_a_payload(text: str) -> None:
    payload, _ = document_payload(text)
    assert payload is None


def test_invalid_json_document_is_reported() -> None:
    payload, problem = document_payload('{"plate": "A-1",,}')
    assert payload is None
    assert problem is not None and "JSON" in problem


def test_json_document_with_trailing_text() -> None:
    payload, _ = document_payload('{"plate": "A-1", "n": [1, 2]}\n\nRegards')
    assert payload == {"plate": "A-1", "n": [1, 2]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("NO", "NO"), ("yes", "yes"), ("on", "on"), ("true", True), ("False", False),
        ("0123", "0123"), ("123", 123), ("-5", -5), ("1.5", 1.5), ("1e3", "1e3"),
        ("2024-03-07", "2024-03-07"), ("12:30", "12:30"), ("~", None), ("", None),
        ("0x1F", "0x1F"), ("1_000", "1_000"),
    ],
)  # fmt: skip
def test_yaml_scalars_stay_as_typed(value: str, expected: object) -> None:
    assert load_yaml(f"k: {value}") == {"k": expected}


def test_yaml_loader_is_safe() -> None:
    import yaml

    with pytest.raises(yaml.YAMLError):
        load_yaml("k: !!python/object/apply:os.system ['true']")


def test_key_lines_liberal_matching() -> None:
    text = (
        "Hi John,\n"
        "Plate number: AB-123\n"
        "- Owner = Jane Doe\n"
        "* Colour : red\n"
        "Mileage：12000\n"
        "This is a long sentence with many words before a colon: not a key\n"
        "see http://example.org\n"
        "Meeting at 10:30\n"
        "Empty:\n"
    )
    assert key_lines_payload(text) == {
        "Plate number": "AB-123",
        "Owner": "Jane Doe",
        "Colour": "red",
        "Mileage": "12000",
    }


def test_first_key_line_wins() -> None:
    assert key_lines_payload("Plate: A\nPlate: B") == {"Plate": "A"}


def test_no_key_lines() -> None:
    assert key_lines_payload("Hello,\nnothing to see here.\n") is None
