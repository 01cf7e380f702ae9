"""The fast paths of extraction give what the general code gives, on generated input.

Each shortcut (the header split of `mime.parse`, the one-mailbox and Date readers of
`headers`, the cached MIME parameters, the prefix tries and verb filter of `reply_patterns`)
is compared with the code it stands in for: the stdlib parser, the token loop, the flat
alternation, the loop over every verb.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import random
import re
from datetime import datetime

import pytest

from mailcore.inbound import headers, mime, reply_patterns
from mailcore.inbound.reply_patterns import _FLAGS, _LABEL, _all, _alternation


def _pieces(rng: random.Random, pieces: list[str], most: int) -> str:
    return "".join(rng.choice(pieces) for _ in range(rng.randint(0, most)))


def test_the_header_split_gives_the_feed_parsers_fields() -> None:
    rng = random.Random(1)
    pieces = [
        "Subject",
        "X-A",
        ":",
        " ",
        "\t",
        "\r\n",
        "\r\n ",
        "\r\n\t",
        "v",
        "=?x?=",
        "\x0b",
        "é",
    ]
    for _ in range(3000):
        head = _pieces(rng, pieces, 12).replace("\r\n\r\n", "\r\n")
        raw = f"From: a@b.example\r\n{head}\r\n\r\nbody\r\n".encode("utf-8", "surrogateescape")
        mine = mime.parse(raw)
        stdlib = email.message_from_bytes(raw, policy=email.policy.compat32)
        assert mine.items() == stdlib.items(), raw
        assert mine.get_payload() == stdlib.get_payload(), raw


def test_cached_parameters_and_content_types_are_the_stdlib_ones() -> None:
    values = ["text/plain; charset=utf-8; format=flowed", "TEXT/HTML;charset=\"iso-8859-1\"",
              "application/pdf; name*=utf-8''r%C3%A9sum%C3%A9.pdf", "bogus", "text/plain;;a",
              "multipart/mixed; boundary=\"==x==\""]  # fmt: skip
    for _ in range(2):  # the second round reads the caches
        for value in values:
            raw = f"Content-Type: {value}\r\nContent-Disposition: attachment\r\n\r\nx".encode()
            mine = mime.parse(raw)
            stdlib = email.message_from_bytes(raw, policy=email.policy.compat32)
            assert mine.get_content_type() == stdlib.get_content_type()
            for param in ("charset", "format", "name", "boundary", "a"):
                assert mine.get_param(param) == stdlib.get_param(param)
            assert mine.get_params() == stdlib.get_params()
            assert mine.get_filename() == stdlib.get_filename()


def test_one_mailbox_headers_read_as_the_token_loop_reads_them() -> None:
    rng = random.Random(3)
    pieces = ["Jane", "Doe", " ", "\t", "\r\n ", "<", ">", "j@x.org", "@", '"', "\\", "(", ")",
              ",", ";", ":", "=?utf-8?q?J=C3=A9?=", "\xa0", "é", "<@relay:bob@y>"]  # fmt: skip
    for _ in range(20000):
        value = _pieces(rng, pieces, 8)
        assert headers._address_list(value) == headers._token_list(value), value


def _stdlib_date(text: str) -> tuple[str, object]:
    try:
        return "ok", email.utils.parsedate_to_datetime(text)
    except Exception as exc:  # noqa: BLE001 - the kind of failure is compared
        return "error", type(exc)


def _read_date(text: str) -> tuple[str, object]:
    try:
        return "ok", headers._to_datetime(text)
    except Exception as exc:  # noqa: BLE001 - the kind of failure is compared
        return "error", type(exc)


def test_the_common_date_form_reads_as_the_stdlib_reads_it() -> None:
    rng = random.Random(9)
    for _ in range(20000):
        text = (
            rng.choice(["Tue, ", "", "Xyz, ", "Tue,"])
            + str(rng.choice([rng.randint(0, 40), "07", "00"]))
            + " " + rng.choice(["May", "may", "FEB", "Xyz"]) + " "
            + rng.choice(["2024", "0024", "0070", "0000", "9999"]) + " "
            + f"{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}:{rng.randint(0, 61):02d} "
            + rng.choice(["+", "-"]) + rng.choice(["0000", "0200", "0530", "2400", "0099"])
            + rng.choice(["", " (CEST)", " (x", "  "])
        )  # fmt: skip
        mine, stdlib = _read_date(text), _stdlib_date(text)
        assert mine == stdlib, text
        if isinstance(mine[1], datetime) and isinstance(stdlib[1], datetime):
            assert repr(mine[1]) == repr(stdlib[1]), text


@pytest.mark.parametrize(
    ("label", "field"), [("from", "from_"), ("date", "sent"), ("to", "to"), ("subject", "subject")]
)
def test_a_label_trie_matches_the_lines_the_flat_alternation_matches(
    label: str, field: str
) -> None:
    flat = _LABEL.format(_alternation(_all(field)))
    pattern = re.compile(flat + (r"\s*+\S" if label == "from" else ""), _FLAGS)
    words = _all(field)
    pieces = [*words, *(w.upper() for w in words), *(w[:-1] for w in words),
              " ", "\t", "*", ":", "：", "x", "ı", "İ", "ſ"]  # fmt: skip
    rng = random.Random(label)
    for _ in range(5000):
        line = _pieces(rng, pieces, 4)
        expected = pattern.match(line) is not None
        assert reply_patterns.is_header_label(line, label) == expected, line


def _every_verb(body: str) -> int:
    """_verb_distance as it was: the rfind loop over every verb."""
    tail = reply_patterns._fold(body[-reply_patterns._VERB_WINDOW :])
    for verb, spaced in reply_patterns._VERBS:
        pos = tail.rfind(verb)
        while pos >= 0:
            if reply_patterns._verb_fits(tail, pos, len(verb), spaced):
                return len(tail) - pos
            pos = tail.rfind(verb, 0, pos)
    return 0


def test_the_verb_filter_finds_what_the_loop_over_every_verb_finds() -> None:
    verbs = [verb for verb, _ in reply_patterns._VERBS]
    pieces = [*verbs, " ", "  ", "\t", ":", "x", "Jane", "<j@x.org>", "10:30", "(a)", "ß"]
    rng = random.Random(5)
    for _ in range(20000):
        line = _pieces(rng, pieces, 10) + rng.choice([":", "：", " :", ""])
        assert reply_patterns._verb_distance(line) == _every_verb(line), line
