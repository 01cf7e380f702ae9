"""StreamedForm: the message field spooled whole however the body is cut into chunks; the
small fields kept, long ones dropped; anything else refused as FormInvalid."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.ingress.form import FIELD_LIMIT, FormInvalid, StreamedForm, boundary_of
from mailcore.ingress.spool import MessageTooLarge

BOUNDARY = "xYzBoundary0123"


def body(fields: list[tuple[str, bytes]]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
        for name, value in fields
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def read(data: bytes, cuts: list[int], wanted: str = "email", limit: int = 1 << 20) -> StreamedForm:
    form = StreamedForm(BOUNDARY.encode(), wanted, limit)
    start = 0
    for cut in sorted(set(cuts)):
        form.feed(data[start:cut])
        start = cut
    form.feed(data[start:])
    form.close()
    return form


@settings(max_examples=300, deadline=None)
@given(
    mail=st.binary(max_size=3000).filter(lambda b: BOUNDARY.encode() not in b),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12),
    last=st.booleans(),
)
def test_the_message_survives_any_chunking(mail: bytes, cuts: list[int], last: bool) -> None:
    fields = [("envelope", b'{"to": ["a@b.c"]}'), ("email", mail), ("from", b"x@y.z")]
    data = body([fields[0], fields[2], fields[1]] if last else fields)
    form = read(data, [c for c in cuts if c <= len(data)])
    assert form.message is not None
    assert form.message.message() == mail
    assert form.fields == {"envelope": '{"to": ["a@b.c"]}', "from": "x@y.z"}


def test_a_long_other_field_is_dropped_and_the_message_bounded() -> None:
    data = body([("html", b"x" * (FIELD_LIMIT + 10)), ("email", b"M" * 5000)])
    form = read(data, [100, 70_000])
    assert "html" not in form.fields
    with pytest.raises(MessageTooLarge):
        read(data, [], limit=4096)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=500))
def test_garbage_is_form_invalid_or_read(garbage: bytes) -> None:
    form = StreamedForm(BOUNDARY.encode(), "email", 1 << 16)
    try:
        form.feed(garbage)
        form.close()
    except FormInvalid:
        return
    assert form.message is None or form.message.size <= len(garbage)


def test_only_multipart_with_a_boundary() -> None:
    assert boundary_of("multipart/form-data; boundary=abc") == b"abc"
    for wrong in (
        None,
        "",
        "application/json",
        "multipart/form-data",
        "multipart/mixed; boundary=a",
    ):
        with pytest.raises(FormInvalid):
            boundary_of(wrong)


@pytest.mark.parametrize("mail", [b"Subject: x\r\n\r\nbody\r\n", b"ends in a CR\r", b"\r\r\n\r"])
def test_every_single_cut_keeps_the_message_exact(mail: bytes) -> None:
    for fields in ([("email", mail), ("to", b"a@b.c")], [("to", b"a@b.c"), ("email", mail)]):
        data = body(fields)
        for cut in range(len(data) + 1):
            form = read(data, [cut])
            assert form.message is not None and form.message.message() == mail, cut
            assert form.fields == {"to": "a@b.c"}, cut


def test_byte_by_byte() -> None:
    mail = b"Subject: x\r\n\r\n-- \r\nsig\r"
    data = body([("to", b"a@b.c"), ("email", mail)])
    form = read(data, list(range(len(data))))
    assert form.message is not None and form.message.message() == mail
