"""The raw-byte surgery signatures need: parts cut out exactly, never a crash on hostile
input, linear time."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.security.keyring import Keyring
from mailcore.security.mimeparts import canonical, entity, parts, rewrap, split_entity
from mailcore.security.unwrap import Unwrapper

BOUNDARY = "b-1"
line = st.text(st.characters(codec="ascii", exclude_characters="\r\n"), max_size=40).filter(
    lambda s: not s.startswith("--")
)
bodies = st.lists(st.lists(line, min_size=1, max_size=5).map("\r\n".join), min_size=1, max_size=3)


def multipart(chunks: list[str]) -> bytes:
    head = f'Content-Type: multipart/signed; boundary="{BOUNDARY}"\r\n\r\npreamble\r\n'
    inner = "".join(f"--{BOUNDARY}\r\n{c}\r\n" for c in chunks)
    return (head + inner + f"--{BOUNDARY}--\r\n").encode()


@given(bodies)
def test_parts_are_cut_out_exactly(chunks: list[str]) -> None:
    assert parts(multipart(chunks), BOUNDARY) == [c.encode() for c in chunks]


@given(st.binary(max_size=300))
def test_helpers_never_raise(data: bytes) -> None:
    raw = canonical(data)
    ent = entity(raw)
    parts(raw, ent.params.get("boundary", "x"))
    outer, inner = split_entity(raw)
    assert not any(l.lower().startswith(b"content-") for l in outer.split(b"\r\n"))  # noqa: E741
    assert rewrap(raw, inner).count(b"MIME-Version: 1.0") >= 1


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(
        [
            b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=x',
            b"Content-Type: application/pkcs7-mime; smime-type=signed-data",
            b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data",
            b'Content-Type: multipart/signed; protocol="application/pgp-signature"; boundary=x',
            b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=x',
        ]
    ),
    st.binary(max_size=400),
)
def test_hostile_security_layers_give_a_state_not_a_crash(head: bytes, body: bytes) -> None:
    u = Unwrapper(Keyring())
    try:
        ex = u.extract(b"From: a@b.example\r\n" + head + b"\r\n\r\n--x\r\n" + body)
    finally:
        u.close()
    sec = ex.security
    assert sec is not None and not sec.verified and (sec.reason or sec.decrypted)


def test_parts_is_linear_on_near_delimiters() -> None:
    def cost(n: int) -> float:
        raw = multipart(["\r\n".join(["-" * 3 + "b-" + "x" * 50] * n)] * 2)
        start = time.perf_counter()
        assert len(parts(raw, BOUNDARY)) == 2
        return time.perf_counter() - start

    small, large = cost(2_000), cost(20_000)
    assert large < max(small, 0.001) * 40 and large < 2.0
