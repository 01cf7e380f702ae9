"""Property tests: extract never raises on damaged messages; normalize_key is a canonical form."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailcore.inbound.extract import Extraction, apply_aliases, extract, normalize_key

FIXTURES = sorted((Path(__file__).resolve().parents[2] / "fixtures" / "mail").glob("*.eml"))
SAMPLES = [p.read_bytes() for p in FIXTURES]

# Bytes that matter to MIME parsers: boundaries, header syntax, encodings, line ends.
INTERESTING = [b"\n", b"\r\n", b"--", b":", b";", b"=", b"=?", b"?=", b'"', b"<", b">", b"\x00",
               b"\xff", b"\xc3", b"boundary=", b"base64", b"charset=", b"multipart/", b"\t",
               b"Content-Type: ", b"Content-Transfer-Encoding: ", b"---\n", b"> "]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "duplicate"]))
        pos = draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] = draw(st.integers(0, 255))
        elif op == "truncate":
            del raw[pos:]
        elif op == "insert":
            chunk = draw(st.one_of(st.sampled_from(INTERESTING), st.binary(max_size=16)))
            raw[pos:pos] = chunk
        elif op == "delete":
            del raw[pos : pos + draw(st.integers(1, 64))]
        elif op == "duplicate":
            raw[pos:pos] = raw[pos : pos + draw(st.integers(1, 200))]
    return bytes(raw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_extract_never_raises_on_mutated_messages(raw: bytes) -> None:
    result = extract(raw)
    assert isinstance(result, Extraction)
    assert not any(d.startswith("extraction failed") for d in result.defects), result.defects
    json.dumps(result.to_json(), ensure_ascii=False)
    for attachment in result.attachments:
        assert isinstance(attachment.data(), bytes)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_extract_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    result = extract(raw)
    assert not any(d.startswith("extraction failed") for d in result.defects), result.defects


KEY_TEXT = st.text(
    alphabet=st.sampled_from(string.ascii_letters + string.digits + " -_.:/'()éèÉüÜßçØ\t"),
    max_size=30,
)


@given(st.text(max_size=40))
def test_normalize_key_is_idempotent(key: str) -> None:
    once = normalize_key(key)
    assert normalize_key(once) == once


@given(st.text(max_size=40))
def test_normalize_key_output_is_lowercase_words_joined_by_single_underscores(key: str) -> None:
    out = normalize_key(key)
    assert "__" not in out
    assert not out.startswith("_") and not out.endswith("_")
    assert " " not in out
    assert out == out.casefold() or normalize_key(out) == out


@given(KEY_TEXT)
def test_normalize_key_ignores_case(key: str) -> None:
    assert normalize_key(key.upper()) == normalize_key(key.lower()) == normalize_key(key)


@given(
    st.lists(st.text(alphabet=string.ascii_letters + string.digits, min_size=1), min_size=1,
             max_size=4),
    st.lists(st.sampled_from([" ", "-", "_", ".", ": ", " - ", "  ", "/", "\t"]), min_size=3,
             max_size=3),
)  # fmt: skip
def test_normalize_key_treats_any_separator_run_as_one(words: list[str], seps: list[str]) -> None:
    canonical = "_".join(w.lower() for w in words)
    spelled = ""
    for k, word in enumerate(words):
        spelled += (seps[k % 3] if k else "") + word
    assert normalize_key(spelled) == canonical
    assert normalize_key(f"  {spelled}:") == canonical


@given(st.dictionaries(KEY_TEXT, st.integers(), max_size=6))
def test_apply_aliases_is_idempotent(payload: dict[str, int]) -> None:
    aliases = {"plate_number": ["immatriculation", "Kennzeichen"]}
    once = apply_aliases(payload, aliases)
    assert apply_aliases(once, aliases) == once
    assert all(normalize_key(k) == k for k in once)


# -- fast paths agree with the standard library --------------------------------------------------

HEADERISH = st.lists(
    st.one_of(
        st.sampled_from(INTERESTING + [b"From ", b"From: a@b\r\n", b" ", b"X-A: 1", b"Subject:"]),
        st.binary(max_size=12),
    ),
    max_size=14,
).map(b"".join)


@st.composite
def header_blocks(draw: st.DrawFn) -> bytes:
    """Mostly well-formed header blocks (the fast path), with a body and the odd stray line."""
    sep = draw(st.sampled_from([b"\r\n", b"\n"]))
    names = st.sampled_from(
        [b"From", b"To", b"Subject", b"Content-Type", b"X-A"] * 4 + [b"From ", b""]
    )
    values = st.sampled_from(
        [
            b"",
            b" ",
            b" a@b",
            b"\tx",
            b" multipart/mixed",
            b" text/html",
            b" message/rfc822",
            b' text/plain; charset="utf-8"',
            b"\xff",
        ]
    )
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        line = draw(names) + b":" + draw(values)
        if draw(st.booleans()):
            line += sep + draw(st.sampled_from([b" ", b"\t", b""])) + draw(values)
        lines.append(line)
    tail = draw(st.sampled_from([sep + sep] * 6 + [sep, b"\r\n\n", b"\n\r\n"]))
    return sep.join(lines) + tail + draw(st.binary(max_size=20))


@settings(max_examples=400, deadline=None)
@given(st.one_of(header_blocks(), HEADERISH, mutated()))
def test_fast_parse_builds_the_same_message_as_the_email_package(raw: bytes) -> None:
    import email

    from mailcore.inbound.mime import parse

    ours, theirs = parse(raw), email.message_from_bytes(raw)
    assert ours.items() == theirs.items()
    assert ours.get_unixfrom() == theirs.get_unixfrom()
    assert [type(d) for d in ours.defects] == [type(d) for d in theirs.defects]
    assert ours.is_multipart() == theirs.is_multipart()
    if not ours.is_multipart():
        try:
            want = theirs.get_payload()
        except ValueError:  # the stdlib's own: a charset parameter holding a NUL byte
            with pytest.raises(ValueError):
                ours.get_payload()
            return
        assert ours.get_payload() == want


LOCAL = st.text(st.sampled_from(list("abcZ09._+-'")), min_size=1, max_size=12).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s
)
ADDRESSES = st.builds(lambda local, domain: f"{local}@{domain}.example", LOCAL,
                      st.sampled_from(["a", "mail-2", "x.y"]))  # fmt: skip
# Display names as people write them, hostile ones included: addresses, commas, quotes,
# brackets, non-ASCII (which formataddr writes as an encoded word).
DISPLAY = st.lists(
    st.text(st.sampled_from(list("ab Z9,.;:<>@\\\"()'é-")), max_size=8) | ADDRESSES, max_size=4
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(DISPLAY, ADDRESSES), min_size=1, max_size=3))
def test_addresses_read_back_what_formataddr_wrote(pairs: list[tuple[str, str]]) -> None:
    """The addr-spec is always the one written, whatever the display name holds."""
    import email.utils

    from mailcore.inbound.headers import addresses

    header = ", ".join(email.utils.formataddr((name, addr)) for name, addr in pairs)
    got = addresses([header], [], "To")
    assert [a for _, a in got] == [a for _, a in pairs]
    assert [" ".join(n.split()) for n, _ in got] == [" ".join(n.split()) for n, _ in pairs]


def test_indexed_message_sees_every_header_change() -> None:
    from mailcore.inbound.mime import parse

    msg = parse(b"Subject: one\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a--\r\n")
    assert msg.get("subject") == "one" and "X-New" not in msg
    msg["X-New"] = "1"
    msg.replace_header("Subject", "two")
    msg.set_boundary("b")
    msg.add_header("X-Other", "2")
    assert (msg["x-new"], msg["subject"], msg.get_boundary(), msg["x-other"]) == (
        "1",
        "two",
        "b",
        "2",
    )
    del msg["Subject"]
    msg.set_raw("Subject", "three")
    assert msg["subject"] == "three" and "x-new" in msg
