"""The Standard Webhooks format, checked against the receiver's check written from the
specification (tests/webhook_receiver.py), not against itself only."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcore.errors import ConfigError
from mailcore.webhooks.signing import SignatureInvalid, WebhookSecret, signed_headers, verify
from tests.webhook_receiver import spec_signature_ok

SECRET = WebhookSecret.generate()
IDS = st.text("abcdefABCDEF0123456789_-:", min_size=1, max_size=64)


@given(body=st.binary(max_size=2000), msg_id=IDS)
def test_the_specs_check_accepts_what_is_signed_and_nothing_changed(body: bytes, msg_id: str):
    headers = signed_headers([WebhookSecret.parse(SECRET)], msg_id, body)
    assert spec_signature_ok(SECRET, headers, body)
    assert verify(WebhookSecret.parse(SECRET), headers, body) == msg_id
    assert not spec_signature_ok(SECRET, headers, body + b" ")
    other = {**headers, "webhook-id": msg_id + "x"}
    assert not spec_signature_ok(SECRET, other, body)
    with pytest.raises(SignatureInvalid):
        verify(WebhookSecret.parse(SECRET), other, body)


def test_a_rotated_secret_signs_twice_and_either_checks_out() -> None:
    old, new = WebhookSecret.generate(), WebhookSecret.generate()
    headers = signed_headers([WebhookSecret.parse(new), WebhookSecret.parse(old)], "m1", b"{}")
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert spec_signature_ok(old, headers, b"{}") and spec_signature_ok(new, headers, b"{}")
    assert not spec_signature_ok(WebhookSecret.generate(), headers, b"{}")


def test_a_stale_timestamp_is_refused() -> None:
    key = WebhookSecret.parse(SECRET)
    headers = signed_headers([key], "m1", b"{}", timestamp=1_000_000)
    assert not spec_signature_ok(SECRET, headers, b"{}")
    with pytest.raises(SignatureInvalid, match="away"):
        verify(key, headers, b"{}")


def test_ids_with_a_dot_are_never_signed() -> None:
    with pytest.raises(ValueError):
        signed_headers([WebhookSecret.parse(SECRET)], "a.b", b"{}")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("secret", "must start with 'whsec_'"),
        ("whsec_not base64!", "not base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "holds 5 bytes"),
    ],
)
def test_an_unusable_secret_says_what_is_wrong(text: str, said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        WebhookSecret.parse(text)
    assert "whsec" not in repr(WebhookSecret.parse(SECRET)).lower()
