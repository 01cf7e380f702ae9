"""Hostile mail: extraction stays linear in the size of the mail, in time and in memory.

The families are the ones of bench/adversarial.py, built at 1 MB; the time guards are
generous (they catch a quadratic blow-up, which takes minutes, not a slow machine).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailcore.inbound.extract import extract
from mailcore.inbound.headers import addresses, decode_header
from mailcore.inbound.htmltext import html_to_text
from mailcore.inbound.keys import normalize_key
from mailcore.inbound.quoting import split_reply

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))
import adversarial  # noqa: E402

HEAD = b"From: p@example.org\nTo: o@example.com\nSubject: x\n\n"


def _seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


# -- the reproductions of the issue ---------------------------------------------------------


def test_a_from_line_then_a_long_blank_line_extracts_quickly() -> None:
    raw = HEAD + b"From: x@example.org\n" + b" " * 10000 + b"x\n"
    assert _seconds(lambda: extract(raw)) < 2  # was 16 s


def test_lines_of_tabs_and_an_at_sign_extract_quickly() -> None:
    raw = HEAD + (b"\t" * 398 + b"@\n") * 250
    assert _seconds(lambda: extract(raw)) < 2  # was 30 s


def test_a_long_dotted_address_extracts_quickly() -> None:
    raw = b"From: " + b"a." * 16000 + b"@example.org\nTo: o@example.com\n\nhi\n"
    result = extract(raw)
    assert _seconds(lambda: extract(raw)) < 2  # was 10 s
    assert result.headers.from_ == "a." * 16000 + "@example.org"


def test_many_encoded_words_decode_quickly() -> None:
    # email.header.decode_header is quadratic here: 40,000 words took 8 s.
    value = "=?utf-8?q?a?= " * 40000
    defects: list[str] = []
    assert _seconds(lambda: decode_header(value, defects, "Subject")) < 2
    assert decode_header(value, defects, "Subject") == "a" * 40000


# -- every family at 1 MB -------------------------------------------------------------------


@pytest.mark.parametrize("family", sorted(adversarial.FAMILIES))
def test_each_one_megabyte_adversarial_mail_extracts_in_under_ten_seconds(family: str) -> None:
    raw = adversarial.FAMILIES[family](1_000_000)
    assert _seconds(lambda: adversarial.run_once(family, raw)) < 10


def test_a_one_megabyte_header_block_extracts_in_under_ten_seconds() -> None:
    raw = (
        b"From: " + b"(" * 50000 + b"a@b.c" + b")" * 50000 + b"\n"
        b"To: " + b'"x\\' * 100000 + b"\n"
        b"Cc: " + b"<" * 100000 + b"\n"
        b"Subject: " + b"=?a?q?" * 100000 + b"\n\nbody\n"
    )
    assert _seconds(lambda: extract(raw)) < 10


# -- memory ---------------------------------------------------------------------------------


def test_a_25_megabyte_attachment_extracts_in_less_than_4_times_its_size(tmp_path: Path) -> None:
    size, ratio = adversarial.peak_rss_ratio(25, tmp_path / "big.eml")
    assert size > 25_000_000
    assert ratio < 4, f"peak RSS {ratio:.2f}x the mail's size"


# -- no regex backtracks over a line twice --------------------------------------------------

LINE_PIECES = st.sampled_from(
    [" ", "\t", "@", "*", ":", "-", "_", ">", "<", ".", "a.", "From", "Sent", "On", "1", "wrote",
     "=?", "?=", "?q?", '"', "\\", "(", ")", ",", "&amp;", "<td>", "<blockquote>", "x", "é"]
)  # fmt: skip

REGEX_FUNCTIONS: dict[str, Callable[[str], object]] = {
    "split_reply": split_reply,
    "html_to_text": html_to_text,
    "normalize_key": normalize_key,
    "decode_header": lambda s: decode_header(s, [], "Subject"),
    "addresses": lambda s: addresses([s], [], "From"),
    "extract": lambda s: extract(HEAD + s.encode("utf-8", "replace")),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(REGEX_FUNCTIONS)),
    st.lists(LINE_PIECES, min_size=1, max_size=12).map("".join),
    st.booleans(),
)
def test_a_line_ten_thousand_times_longer_does_not_blow_up(
    name: str, line: str, whole: bool
) -> None:
    """Repeated whole (many lines) or stretched (one long line): either way a few seconds."""
    function = REGEX_FUNCTIONS[name]
    text = (line + "\n") * 10000 if whole else "".join(c * 2000 for c in line)
    assert _seconds(lambda: function(text)) < 10, (name, line)


def test_a_megabyte_of_flowed_soft_breaks_extracts_quickly() -> None:
    body = b"word \n" * 200_000 + b"end\n"
    raw = b"From: p@example.org\nContent-Type: text/plain; format=flowed\n\n" + body
    result = extract(raw)
    assert _seconds(lambda: extract(raw)) < 10
    assert result.text.startswith("word word")


def test_a_mail_of_more_parts_than_max_parts_is_read_up_to_the_limit() -> None:
    from mailcore.inbound.extract import MAX_PARTS

    parts = b"".join(b"--b\nContent-Type: text/plain\n\nx\n" for _ in range(MAX_PARTS * 2))
    raw = (
        HEAD.replace(b"\n\n", b'\nContent-Type: multipart/mixed; boundary="b"\n\n')
        + b"--b\nContent-Type: text/plain\n\nplate_number: AB-123\n"
        + parts
        + b"--b--\n"
    )
    result = extract(raw)
    assert result.payload == {"plate_number": "AB-123"}  # what comes first is still read
    assert any("MAX_PARTS" in d for d in result.defects)
    assert _seconds(lambda: extract(raw)) < 10
