"""The envelope as trace fields: written as an MTA writes them, never twice, never a line break."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcore.inbound.extract import extract
from mailcore.inbound.identity import message_key
from mailcore.ingress import Envelope, EnvelopeInvalid, trace_fields
from tests.servers import message


def test_fields_in_front_with_the_message_line_ending() -> None:
    env = Envelope("reply+VEH-123@ops.test", "alice@example.org")
    crlf = trace_fields(env, message())
    assert crlf == (
        b"Return-Path: <alice@example.org>\r\n"
        b"Delivered-To: reply+VEH-123@ops.test\r\nX-Original-To: reply+VEH-123@ops.test\r\n"
    )
    lf = trace_fields(env, message().replace(b"\r\n", b"\n"))
    assert lf == crlf.replace(b"\r\n", b"\n")


def test_a_bounce_has_the_null_sender_and_unknown_parts_are_left_out() -> None:
    assert trace_fields(Envelope(None, "<>"), message()) == b"Return-Path: <>\r\n"
    assert trace_fields(Envelope(None, ""), message()) == b"Return-Path: <>\r\n"
    assert trace_fields(Envelope(), message()) == b""


def test_what_the_mta_already_wrote_is_not_repeated() -> None:
    # Postfix's pipe with flags=DOR writes these three itself.
    head = (
        b"Return-Path: <Alice@Example.org>\nDelivered-To: reply+veh-123@ops.test\n"
        b"X-Original-To: someone-else@ops.test\n"
    ) + message().replace(b"\r\n", b"\n")
    written = trace_fields(Envelope("reply+VEH-123@ops.test", "alice@example.org"), head)
    assert written == b"X-Original-To: reply+VEH-123@ops.test\n"


def test_a_field_in_the_body_does_not_count() -> None:
    raw = message(body="Delivered-To: reply+VEH-123@ops.test\r\n")
    written = trace_fields(Envelope("reply+VEH-123@ops.test"), raw)
    assert written.count(b"Delivered-To") == 1


@pytest.mark.parametrize(
    "recipient",
    ["a@b.c\r\nBcc: x@y.z", "a@b.c\nX: y", "a@b.c\x00", "no-at-sign", "", "x" * 400 + "@b.c"],
)
def test_an_address_that_cannot_be_a_field_is_refused(recipient: str) -> None:
    with pytest.raises(EnvelopeInvalid):
        Envelope(recipient, "alice@example.org")
    with pytest.raises(EnvelopeInvalid):
        Envelope("ops@example.com", "x\ny" + recipient)


@given(st.text(max_size=60), st.text(max_size=60))
def test_any_text_gives_one_line_per_field_or_a_refusal(recipient: str, sender: str) -> None:
    try:
        env = Envelope(recipient, sender)
    except EnvelopeInvalid:
        return
    fields = trace_fields(env, message())
    lines = fields.split(b"\r\n")
    assert lines[-1] == b""
    assert all(b"\r" not in line and b"\n" not in line for line in lines)
    assert len(lines) - 1 == 3


def test_a_bcc_routes_by_the_envelope_and_keeps_its_identity() -> None:
    # The identifier is nowhere but in the envelope: To and Cc name other people.
    raw = message(subject="Vehicle update", to="ops@example.com")
    env = Envelope("reply+VEH-123@example.com", "alice@example.org")
    stored = trace_fields(env, raw) + raw
    assert extract(raw).identifier is None
    assert extract(stored).identifier == "VEH-123"
    assert message_key(stored) == message_key(raw)


def test_the_visible_recipients_come_before_the_envelope() -> None:
    raw = message(to="ops@example.com", extra_headers="Cc: reply+VEH-111@example.com\r\n")
    stored = trace_fields(Envelope("reply+VEH-222@example.com"), raw) + raw
    assert extract(stored).identifier == "VEH-111"


def test_undecodable_bytes_of_an_argument_are_written_back_as_they_came() -> None:
    # `mailcore ingest --recipient` gets b"r\xe9@x.test" from a Latin-1 MTA as "r\udce9@x.test"
    fields = trace_fields(Envelope("r\udce9@x.test"), message())
    assert b"Delivered-To: r\xe9@x.test\r\n" in fields
