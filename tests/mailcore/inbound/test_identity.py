"""Message identity: a re-delivery with other trace fields is the same message; two requests
sharing a Message-ID are two."""

from __future__ import annotations

import hashlib
import time

from hypothesis import given
from hypothesis import strategies as st

from mailcore.inbound.identity import TRACE_FIELDS, legacy_message_key, message_key

REQUEST = (
    b"From: alice@example.org\r\nTo: ops@example.com\r\nSubject: [VEH-1] update\r\n"
    b"Date: Mon, 06 May 2024 10:00:00 +0000\r\nMessage-ID: <m1@example.org>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nplate_number: AB-123\r\n"
)

TRACE = [
    b"Received: from mx1.example.net (mx1 [192.0.2.1])\r\n\tby mx.example.com; Mon, 6 May 2024\r\n",
    b"Return-Path: <bounce@example.org>\r\n",
    b"Delivered-To: ops@example.com\r\n",
    b"X-Original-To: ops+vehicle@example.com\r\n",
    b"Authentication-Results: mx.example.com; dkim=pass\r\n",
    b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.net;\r\n b=abc\r\n",
    b"ARC-Message-Signature: i=1; a=rsa-sha256\r\n",
    b"ARC-Authentication-Results: i=1; mx.example.net\r\n",
    b"DKIM-Signature: v=1; a=rsa-sha256; d=example.org;\r\n\tbh=xyz; b=abc\r\n",
    b"X-Received: by 2002:a05 with SMTP id x\r\n",
    b"X-Spam-Status: No, score=-0.1\r\n",
]


def test_a_redelivery_with_other_trace_fields_is_the_same_message() -> None:
    first = TRACE[0] + TRACE[1] + REQUEST
    again = b"".join(TRACE) + REQUEST  # another route: more hops, signatures, verdicts

    assert message_key(first) == message_key(again) == message_key(REQUEST)
    assert legacy_message_key(first) != legacy_message_key(again)


def test_two_requests_sharing_a_message_id_are_two() -> None:
    other = REQUEST.replace(b"AB-123", b"ZZ-999")
    retitled = REQUEST.replace(b"update", b"cancel")

    assert len({message_key(REQUEST), message_key(other), message_key(retitled)}) == 3


def test_line_endings_do_not_count_but_every_other_byte_does() -> None:
    assert message_key(REQUEST.replace(b"\r\n", b"\n")) == message_key(REQUEST)
    assert message_key(REQUEST + b"\r\n") != message_key(REQUEST)
    assert message_key(REQUEST.replace(b"Subject:", b"Subject: ")) != message_key(REQUEST)


def test_a_field_that_only_looks_like_a_trace_field_counts() -> None:
    lookalike = REQUEST.replace(b"Subject:", b"X-Received-Note: hi\r\nSubject:")

    assert message_key(lookalike) != message_key(REQUEST)
    assert "x-received-note" not in TRACE_FIELDS


def test_the_legacy_key_is_the_digest_of_the_raw_bytes() -> None:
    assert legacy_message_key(REQUEST) == hashlib.sha256(REQUEST).hexdigest()


@given(
    st.lists(st.sampled_from(TRACE), max_size=6),
    st.binary(max_size=3000),
    st.integers(min_value=0, max_value=len(REQUEST) - 1),
)
def test_trace_fields_anywhere_in_the_header_never_change_the_key(
    trace: list[bytes], body: bytes, where: int
) -> None:
    header, _, _ = REQUEST.partition(b"\r\n\r\n")
    lines = header.split(b"\r\n")
    at = where % (len(lines) + 1)
    mixed = b"".join(line + b"\r\n" for line in lines[:at]) + b"".join(trace)
    mixed += b"".join(line + b"\r\n" for line in lines[at:])

    assert message_key(mixed + b"\r\n" + body) == message_key(header + b"\r\n\r\n" + body)


@given(st.binary(max_size=4000), st.binary(max_size=4000))
def test_different_bodies_have_different_keys(a: bytes, b: bytes) -> None:
    if a.replace(b"\r\n", b"\n") != b.replace(b"\r\n", b"\n"):
        assert message_key(REQUEST + a) != message_key(REQUEST + b)


def test_a_crlf_split_across_chunks_is_one_line_ending() -> None:
    body = b"x" * ((1 << 20) - len(REQUEST) - 1) + b"\r\n" + b"y" * 100
    assert message_key(REQUEST + body) == message_key((REQUEST + body).replace(b"\r\n", b"\n"))


def test_the_work_is_linear_in_the_size() -> None:
    def seconds(size: int) -> float:
        raw = b"Received: x\r\n" * (size // 200) + REQUEST + b"a\r\n" * (size // 3)
        started = time.perf_counter()
        message_key(raw)
        return time.perf_counter() - started

    small, large = seconds(200_000), seconds(2_000_000)
    assert large < max(small, 0.002) * 40  # 10x the bytes: generous room for noise
