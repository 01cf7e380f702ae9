"""Payload finding in text: YAML/JSON documents and liberal key lines; payload budgets."""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.inbound.extract import PayloadSource, extract
from mailcore.inbound.payload import (
    DEFAULT_LIMITS,
    PayloadLimits,
    PayloadLoader,
    PayloadTooLarge,
    check_payload,
    document_payload,
    key_lines_payload,
    load_json,
    load_yaml,
)
from tests.servers import message


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


_prose_words = st.lists(
    st.sampled_from(["the", "car", "is", "parked", "outside,", "thanks.", "Bob", "2024", "née"]),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_prose_words.map(" ".join), min_size=1, max_size=8),
    st.integers(min_value=1, max_value=3),
    st.booleans(),
)
def test_a_mapping_followed_by_any_number_of_prose_paragraphs_is_found(
    paragraphs: list[str], blank_lines: int, later_key_line: bool
) -> None:
    # Stepping back one YAML error (one blank line) at a time, three parses could not get
    # past blank lines and prose followed by a line YAML reads as a key ("Note: ...").
    gap = "\n" * (blank_lines + 1)
    tail = gap + "Note: see http://x: y" if later_key_line else ""
    text = "plate: A-1\nowner: Bob" + gap + gap.join(paragraphs) + tail
    payload, problem = document_payload(text)
    assert payload == {"plate": "A-1", "owner": "Bob"}
    assert problem is None


def test_a_quoted_value_running_on_at_column_0_is_not_cut_as_prose() -> None:
    payload, _ = document_payload('plate: A-1\nnote: "parked\noutside"\n\nThanks, Bob')
    assert payload == {"plate": "A-1", "note": "parked outside"}


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


# -- budgets ---------------------------------------------------------------------------------


def alias_bomb(levels: int = 9, fanout: int = 9, head: str = "") -> str:
    """`levels` anchors, each a list of `fanout` aliases of the one before: fanout**levels
    values in a few hundred bytes (the issue's 478-byte mail is levels=9, fanout=9)."""
    names = (
        list("abcdefghijklmnopqrstuvwxyz"[:levels])
        if levels <= 26
        else [f"l{k}" for k in range(levels)]
    )
    lines = [f"{names[0]}: &{names[0]} [" + ", ".join(['"lol"'] * fanout) + "]"]
    for prev, name in zip(names, names[1:], strict=False):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * fanout) + "]")
    lines.append(f"notes: *{names[-1]}")
    return head + "\n".join(lines) + "\n"


@contextmanager
def bounded(seconds: float = 10.0, megabytes: float = 50.0) -> Iterator[None]:
    """Generous guard against blow-ups: the block must stay under both (not a benchmark)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    assert peak < megabytes, f"peaked at {peak:.0f} MB"


def test_the_issues_alias_bomb_is_refused_naming_the_limit() -> None:
    text = alias_bomb(head="plate_number: AB-123-CD\nvin: VF1FL000123456789\n")
    assert len(text) <= 478
    with bounded(), pytest.raises(PayloadTooLarge) as caught:
        document_payload(text)
    assert caught.value.limit == "max_nodes"
    assert "max_nodes = 10,000" in str(caught.value) and "alias" in str(caught.value)


def test_a_mail_carrying_an_alias_bomb_has_no_payload_and_says_why() -> None:
    raw = message("VEH-1042 registration", alias_bomb(head="plate_number: AB-123-CD\n"))
    with bounded():
        ex = extract(raw)
    # Refused, not missing: the lines are not read again as "Key: value" lines.
    assert ex.payload is None and ex.payload_source is PayloadSource.OVER_LIMITS
    assert ex.defects[0].startswith("payload over the limit max_nodes = 10,000")
    json.dumps(ex.to_json())  # and the extraction itself stays small


def test_aliases_within_the_budget_still_work() -> None:
    text = "base: &b {city: Lyon, zip: '69001'}\nhome: *b\nwork: *b\n"
    assert load_yaml(text) == {"base": {"city": "Lyon", "zip": "69001"}} | {
        "home": {"city": "Lyon", "zip": "69001"},
        "work": {"city": "Lyon", "zip": "69001"},
    }


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(PayloadTooLarge, match="recursive alias"):
        load_yaml("a: &x [1, *x]")


def test_merge_keys_are_counted_as_what_they_copy() -> None:
    # Each level merges the one before nine times: PyYAML would copy 9**8 pairs.
    lines = ["m0: &m0 {k: v}"]
    for k in range(1, 9):
        lines.append(f"m{k}: &m{k} {{<<: [" + ", ".join([f"*m{k - 1}"] * 9) + "]}")
    with bounded(), pytest.raises(PayloadTooLarge, match="max_nodes"):
        load_yaml("\n".join(lines))


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("k: " + "1" * 100_000, "max_number_digits"),
        ("k: 1." + "5" * 5_000, "max_number_digits"),
        ("k: !!int " + ":".join(["1"] * 5_000), "max_number_digits"),  # base 60: quadratic
        ("k: !!int 0x" + "f" * 5_000, "max_number_digits"),
        ("k: " + "x" * 100_001, "max_string_length"),
        ("k: " + "[" * 40 + "]" * 40, "max_depth"),
        ("k: [" + ", ".join(["1"] * 20_000) + "]", "max_nodes"),
        ("k: &s " + "x" * 90_000 + "\nl: [" + ", ".join(["*s"] * 20) + "]", "max_total_size"),
    ],
)
def test_yaml_over_a_limit_names_it(text: str, limit: str) -> None:
    with bounded(), pytest.raises(PayloadTooLarge) as caught:
        load_yaml(text)
    assert caught.value.limit == limit
    assert f"{limit} = " in str(caught.value)


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ('{"k": ' + "1" * 100_000 + "}", "max_number_digits"),
        ('{"k": 1.' + "5" * 5_000 + "}", "max_number_digits"),
        ('{"k": "' + "x" * 100_001 + '"}', "max_string_length"),
        ('{"k": ' + "[" * 50_000 + "]" * 50_000 + "}", "max_depth"),  # past Python's recursion
        ('{"k": ' + "[" * 40 + "]" * 40 + "}", "max_depth"),
        ('{"k": [' + ", ".join(["1"] * 20_000) + "]}", "max_nodes"),
    ],
)
def test_json_over_a_limit_names_it(text: str, limit: str) -> None:
    with bounded(), pytest.raises(PayloadTooLarge) as caught:
        load_json(text)
    assert caught.value.limit == limit
    with pytest.raises(PayloadTooLarge):
        document_payload(text)  # the same JSON typed in a mail's text


def test_the_limit_says_where_it_was_crossed() -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        check_payload({"owner": {"name": "x" * 100_001}})
    assert caught.value.where == "$.owner.name"
    assert caught.value.errors == [("$.owner.name", str(caught.value))]
    with pytest.raises(PayloadTooLarge) as at_line:
        load_yaml("a: 1\nb: " + "2" * 101)
    assert at_line.value.where == "line 2"


def test_a_json_part_over_a_limit_fails_the_payload_not_the_extraction() -> None:
    boundary = "b0undary"
    raw = (
        "From: a@example.org\r\nTo: ops@example.com\r\nSubject: VEH-1\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nPlate: AB-123\r\n"
        f"--{boundary}\r\nContent-Type: application/json\r\n\r\n"
        '{"seats": ' + "9" * 100_000 + f"}}\r\n--{boundary}--\r\n"
    ).encode()
    ex = extract(raw)
    assert ex.payload is None  # the text's "Plate:" line is not taken instead
    assert ex.defects[0].startswith("payload over the limit max_number_digits = 100")
    assert ex.text.startswith("Plate: AB-123")


def test_key_lines_over_a_limit_are_refused() -> None:
    many = "\n".join(f"Field {k}: value" for k in range(6_000))
    with pytest.raises(PayloadTooLarge, match="max_nodes"):
        key_lines_payload(many)
    with pytest.raises(PayloadTooLarge, match="max_string_length"):
        key_lines_payload("Notes: " + "x" * 100_001)
    assert key_lines_payload("Notes: " + "x" * 100) == {"Notes": "x" * 100}


def test_check_payload_walks_shared_references_as_copies_in_bounded_time() -> None:
    shared: Any = ["lol"] * 9
    for _ in range(12):  # 9**12 values, a few hundred Python objects
        shared = [shared] * 9
    cycle: list[Any] = []
    cycle.append(cycle)
    with bounded(seconds=5):
        with pytest.raises(PayloadTooLarge, match="max_nodes"):
            check_payload({"notes": shared})
        with pytest.raises(PayloadTooLarge, match="max_depth"):
            check_payload({"loop": cycle})
        with pytest.raises(PayloadTooLarge, match="max_number_digits"):
            check_payload({"n": 10**100_000})  # never converted to text (4,300-digit limit)
    check_payload({"n": 10**99, "m": -(10**98), "x": 1.5e300, "ok": [True, None, "s"]})


def test_limits_are_a_frozen_dataclass_of_positive_integers() -> None:
    assert PayloadLimits(10_000, 32, 100_000, 100, 1_000_000) == DEFAULT_LIMITS
    with pytest.raises(ValueError, match="max_nodes"):
        PayloadLimits(max_nodes=0)
    small = PayloadLimits(max_nodes=3)
    with pytest.raises(PayloadTooLarge, match="max_nodes = 3"):
        load_yaml("a: 1\nb: 2", small)
    assert load_yaml("a: 1", small) == {"a": 1}


def test_load_yaml_refuses_an_unsafe_loader() -> None:
    with pytest.raises(TypeError):
        load_yaml("a: 1", loader=yaml.UnsafeLoader)


# Arbitrary JSON-like values: what a partner or an operator may send.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(min_size=1, max_size=10), children, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_within_the_budget_parsing_is_unchanged(value: Any) -> None:
    text = json.dumps(value)
    assert load_json(text) == json.loads(text)
    try:
        new: Any = load_yaml(text)
    except yaml.YAMLError as exc:
        new = type(exc)
    assert new == _old_yaml(text)
    pretty = yaml.safe_dump({"v": value})
    assert load_yaml(pretty, loader=yaml.SafeLoader) == yaml.safe_load(pretty)


def _old_yaml(text: str) -> Any:
    """What load_yaml answered before budgets (an exception's type if it raised)."""
    try:
        return yaml.load(text, Loader=PayloadLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        return type(exc)


def _over(value: Any, limits: PayloadLimits) -> bool:
    """The naive recursive reading of the limits, for values small enough to walk."""
    nodes = size = depth = 0
    longest = digits = 0

    def walk(item: Any, level: int) -> None:
        nonlocal nodes, size, depth, longest, digits
        nodes += 1
        depth = max(depth, level)
        if isinstance(item, dict):
            for key, sub in item.items():
                nodes += 1
                size += len(key)
                longest = max(longest, len(key))
                walk(sub, level + 1)
        elif isinstance(item, list):
            for sub in item:
                walk(sub, level + 1)
        elif isinstance(item, str):
            size += len(item)
            longest = max(longest, len(item))
        elif isinstance(item, bool) or item is None:
            size += 4
        else:
            size += len(str(item))
            digits = max(digits, len(str(item)))

    walk(value, 1)
    return (
        nodes > limits.max_nodes
        or depth > limits.max_depth
        or longest > limits.max_string_length
        or digits > limits.max_number_digits
        or size > limits.max_total_size
    )


TINY = PayloadLimits(
    max_nodes=25, max_depth=4, max_string_length=12, max_number_digits=6, max_total_size=60
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_over_the_budget_is_refused_exactly_when_a_limit_is_crossed(value: Any) -> None:
    text = json.dumps(value)
    over = _over(value, TINY)
    # JSON's \ud800 escapes are no YAML: such a text stays a syntax error, as it was.
    yaml_ok = not isinstance(_old_yaml(text), type)
    for parse in (load_json, load_yaml) if yaml_ok else (load_json,):
        if over:
            with pytest.raises(PayloadTooLarge) as caught:
                parse(text, TINY)
            assert caught.value.limit in str(caught.value)
        else:
            assert parse(text, TINY) == json.loads(text)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=2, max_value=40), st.integers(min_value=5, max_value=60))
def test_any_alias_bomb_is_refused_in_time_linear_in_its_text(fanout: int, levels: int) -> None:
    text = alias_bomb(levels=levels, fanout=fanout)
    if fanout**levels < DEFAULT_LIMITS.max_nodes:
        return
    start = time.perf_counter()
    with pytest.raises(PayloadTooLarge, match="max_nodes|max_total_size"):
        load_yaml(text)
    # ~microseconds per byte; the guard is 100x that, so only a blow-up trips it.
    assert time.perf_counter() - start < 0.01 + len(text) * 1e-4


_flat_words = st.text(
    st.sampled_from("aZé文ß19_-./@+,;()'\"!?%= "), min_size=1, max_size=10
) | st.sampled_from(["true", "False", "NULL", "no", "0123", "12", "1.5", "1e5", "B-XY 3"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_flat_words, _flat_words), min_size=1, max_size=5))
def test_flat_key_lines_load_as_the_yaml_parser_reads_them(pairs: list[tuple[str, str]]) -> None:
    # load_yaml builds a typed form's "Key: value" lines itself; the YAML parser is the
    # reference, whatever the words (what it cannot take as flat lines goes to the parser).
    text = "\n".join(f"{key}: {value}" for key, value in pairs)
    try:
        expected = yaml.load(text, Loader=PayloadLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError:
        with pytest.raises(yaml.YAMLError):
            load_yaml(text)
        return
    got = load_yaml(text)
    assert got == expected
    if isinstance(got, dict):
        assert [(type(k), type(v)) for k, v in got.items()] == [
            (type(k), type(v)) for k, v in expected.items()
        ]
