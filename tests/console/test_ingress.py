"""POST /ingress/...: each provider's documented payload and signature, computed here as the
provider documents it; forged, stale and replayed requests refused; nothing acknowledged that
the mailbox did not confirm."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mailcore.inbound.extract import extract
from mailcore.ingress import IngressSettings
from mailcore.mailboxes.imap import ImapConfig, ImapMailbox
from mailcore.mailboxes.maildir import MaildirMailbox
from tests.console.conftest import ConsoleEnv
from tests.servers import message

MAILGUN_KEY = "key-" + secrets.token_hex(16)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_PUBLIC = base64.b64encode(
    EC_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()
SETTINGS = IngressSettings(
    mime_token="mime-token-" + secrets.token_hex(8),
    mime_hmac_key="mime-hmac-" + secrets.token_hex(8),
    postmark_password="pm-" + secrets.token_hex(8),
    mailgun_signing_key=MAILGUN_KEY,
    sendgrid_public_key=EC_PUBLIC,
)


@pytest.fixture
def env(app_factory: Callable[..., ConsoleEnv]) -> ConsoleEnv:
    return app_factory(MAILCORE_INGRESS=SETTINGS)


def stored(env: ConsoleEnv) -> list[bytes]:
    box = env.services.mailbox
    return list(box.fetch("INBOX", box.uids("INBOX")).values())


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def multipart(fields: dict[str, str | bytes]) -> tuple[bytes, str]:
    boundary = "----mc" + secrets.token_hex(8)
    parts = []
    for name, value in fields.items():
        data = value.encode() if isinstance(value, str) else value
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


# -- POST /ingress/mime -------------------------------------------------------------------


def test_mime_with_the_bearer_token_is_stored_with_its_envelope(env: ConsoleEnv) -> None:
    raw = message(subject="Vehicle update", to="ops@example.com")
    headers = {
        "Authorization": f"Bearer {SETTINGS.mime_token}",
        "X-Mailcore-Recipient": "reply+VEH-321@example.com",
        "X-Mailcore-Sender": "alice@example.org",
    }
    client = env.app.test_client()
    answer = client.post("/ingress/mime", data=raw, content_type="message/rfc822", headers=headers)
    assert answer.status_code == 200, answer.text
    [mail] = stored(env)
    assert mail.endswith(raw)
    assert extract(mail).identifier == "VEH-321"  # a BCC: only the envelope names it
    assert b"Return-Path: <alice@example.org>\r\n" in mail


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {SETTINGS.mime_token}"}],
)
def test_mime_without_the_token_is_401(env: ConsoleEnv, headers: dict[str, str]) -> None:
    client = env.app.test_client()
    answer = client.post(
        "/ingress/mime", data=message(), content_type="message/rfc822", headers=headers
    )
    assert answer.status_code == 401
    assert stored(env) == []


def mime_signature(timestamp: str, recipient: str, sender: str, body: bytes) -> str:
    signed = f"{timestamp}\n{recipient}\n{sender}\n".encode() + body
    assert SETTINGS.mime_hmac_key
    return hmac.new(SETTINGS.mime_hmac_key.encode(), signed, hashlib.sha256).hexdigest()


def test_mime_signed_with_hmac_forged_stale_and_replayed(env: ConsoleEnv) -> None:
    client = env.app.test_client()
    raw = message()
    now = str(int(time.time()))

    def post(body: bytes, timestamp: str, signature: str) -> Any:
        headers = {
            "X-Mailcore-Timestamp": timestamp,
            "X-Mailcore-Signature": signature,
            "X-Mailcore-Recipient": "ops@example.com",
        }
        return client.post(
            "/ingress/mime", data=body, content_type="message/rfc822", headers=headers
        )

    good = "sha256=" + mime_signature(now, "ops@example.com", "", raw)
    assert post(raw + b"tampered", now, good).status_code == 401
    stale = str(int(time.time()) - 3600)
    assert post(raw, stale, mime_signature(stale, "ops@example.com", "", raw)).status_code == 401
    assert post(raw, now, good).status_code == 200
    assert post(raw, now, good).status_code == 409  # the same request again
    assert len(stored(env)) == 1


def test_mime_wrong_type_and_endpoint_off(
    env: ConsoleEnv, app_factory: Callable[..., ConsoleEnv]
) -> None:
    headers = {"Authorization": f"Bearer {SETTINGS.mime_token}"}
    client = env.app.test_client()
    answer = client.post("/ingress/mime", data=b"x", content_type="text/plain", headers=headers)
    assert answer.status_code == 415
    off = app_factory(MAILCORE_INGRESS=IngressSettings()).app.test_client()
    assert off.post("/ingress/mime", data=message(), headers=headers).status_code == 404
    assert off.post("/ingress/mailgun/mime", data=b"").status_code == 404
    assert off.post("/ingress/nothing", data=b"").status_code == 404


def test_over_the_limit_is_413_and_nothing_is_stored(app_factory: Callable[..., Any]) -> None:
    small = IngressSettings(mime_token="t" * 20, max_size=4096)
    env = app_factory(MAILCORE_INGRESS=small)
    client = env.app.test_client()
    headers = {"Authorization": "Bearer " + "t" * 20}
    big = message(body="x" * 10_000)
    answer = client.post("/ingress/mime", data=big, content_type="message/rfc822", headers=headers)
    assert answer.status_code == 413
    huge = message(body="x" * 20_000)  # past the request limit too: refused before reading
    answer = client.post("/ingress/mime", data=huge, content_type="message/rfc822", headers=headers)
    assert answer.status_code == 413
    assert stored(env) == []


# -- Postmark -----------------------------------------------------------------------------


def postmark_payload(raw: bytes) -> dict[str, Any]:
    """The inbound webhook's JSON as Postmark documents it (fields trimmed to the ones that
    vary), with RawEmail: https://postmarkapp.com/developer/webhooks/inbound-webhook"""
    return {
        "FromName": "Alice",
        "MessageStream": "inbound",
        "From": "alice@example.org",
        "FromFull": {"Email": "alice@example.org", "Name": "Alice", "MailboxHash": ""},
        "To": "ops@example.com",
        "ToFull": [{"Email": "ops@example.com", "Name": "", "MailboxHash": ""}],
        "Cc": "",
        "CcFull": [],
        "Bcc": "",
        "BccFull": [],
        "OriginalRecipient": "reply+VEH-555@example.com",
        "Subject": "Vehicle update",
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "ReplyTo": "",
        "MailboxHash": "VEH-555",
        "Date": "Mon, 06 May 2024 10:00:00 +0000",
        "TextBody": "Hello.",
        "HtmlBody": "",
        "StrippedTextReply": "",
        "Tag": "",
        "Headers": [{"Name": "X-Spam-Status", "Value": "No"}],
        "Attachments": [],
        "RawEmail": raw.decode(),
    }


def test_postmark_inbound_json_with_basic_credentials(env: ConsoleEnv) -> None:
    client = env.app.test_client()
    raw = message(subject="Vehicle update")
    payload = postmark_payload(raw)
    assert SETTINGS.postmark_password
    wrong = client.post("/ingress/postmark", json=payload, headers=basic("mailcore", "nope"))
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")
    good = basic("mailcore", SETTINGS.postmark_password)
    answer = client.post("/ingress/postmark", json=payload, headers=good)
    assert answer.status_code == 200, answer.text
    [mail] = stored(env)
    assert mail.endswith(raw) and extract(mail).identifier == "VEH-555"
    del payload["RawEmail"]
    answer = client.post("/ingress/postmark", json=payload, headers=good)
    assert answer.status_code == 400 and "Include raw email content" in answer.text


# -- Mailgun ------------------------------------------------------------------------------


def mailgun_form(raw: bytes, timestamp: str | None = None, key: str = MAILGUN_KEY) -> dict:
    """A route's forward() to a URL ending in mime, signed as Mailgun documents:
    hex HMAC-SHA256(signing key, timestamp + token)."""
    timestamp = timestamp or str(int(time.time()))
    token = secrets.token_hex(25)  # "randomly generated string with length of 50"
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "recipient": "reply+VEH-888@example.com",
        "sender": "alice@example.org",
        "from": "Alice <alice@example.org>",
        "subject": "Vehicle update",
        "body-mime": raw,
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
    }


def test_mailgun_mime_route_signed_forged_stale_replayed(env: ConsoleEnv) -> None:
    client = env.app.test_client()
    raw = message(subject="Vehicle update", to="ops@example.com")

    def post(fields: dict[str, Any], path: str = "/ingress/mailgun/mime") -> Any:
        body, content_type = multipart(fields)
        return client.post(path, data=body, content_type=content_type)

    assert post(mailgun_form(raw, key="key-forged")).status_code == 401
    assert post(mailgun_form(raw, timestamp=str(int(time.time()) - 900))).status_code == 401
    form = mailgun_form(raw)
    assert post(form).status_code == 200
    assert post(form, "/ingress/mailgun").status_code == 409  # the same token again
    [mail] = stored(env)
    assert mail.endswith(raw) and extract(mail).identifier == "VEH-888"
    no_mime = mailgun_form(raw)
    del no_mime["body-mime"]
    assert post(no_mime).status_code == 400


def test_mailgun_urlencoded_keeps_the_bytes(env: ConsoleEnv) -> None:
    raw = message(body="Gr\xfc\xdfe in Latin-1\r\n").replace(b"\xc3\xbc\xc3\x9f", b"\xfc\xdf")
    form = mailgun_form(raw)
    body = urllib.parse.urlencode(form).encode()  # body-mime's bytes percent-escaped
    answer = env.app.test_client().post(
        "/ingress/mailgun/mime", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 200, answer.text
    assert stored(env)[0].endswith(raw) and b"Gr\xfc\xdfe" in raw


# -- SendGrid -----------------------------------------------------------------------------


def sendgrid_post(env: ConsoleEnv, raw: bytes, *, key: Any = EC_KEY, age: int = 0) -> Any:
    """Inbound Parse with "POST the raw, full MIME message", signed as its security policy
    does: ECDSA P-256 / SHA-256 over timestamp + body, base64 DER in the header."""
    envelope = json.dumps({"to": ["reply+VEH-999@example.com"], "from": "alice@example.org"})
    body, content_type = multipart(
        {
            "headers": "From: alice@example.org\nTo: ops@example.com\n",
            "dkim": "{@example.org : pass}",
            "to": "ops@example.com",
            "from": "alice@example.org",
            "subject": "Vehicle update",
            "envelope": envelope,
            "charsets": json.dumps({"to": "UTF-8", "subject": "UTF-8"}),
            "SPF": "pass",
            "email": raw,
        }
    )
    timestamp = str(int(time.time()) - age)
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }
    return env.app.test_client().post(
        "/ingress/sendgrid", data=body, content_type=content_type, headers=headers
    )


def test_sendgrid_raw_parse_signed_and_forged(env: ConsoleEnv) -> None:
    raw = message(subject="Vehicle update", to="ops@example.com")
    assert sendgrid_post(env, raw, key=ec.generate_private_key(ec.SECP256R1())).status_code == 401
    assert sendgrid_post(env, raw, age=3600).status_code == 401
    answer = sendgrid_post(env, raw)
    assert answer.status_code == 200, answer.text
    [mail] = stored(env)
    assert mail.endswith(raw) and extract(mail).identifier == "VEH-999"
    assert b"Return-Path: <alice@example.org>" in mail


def test_sendgrid_with_basic_credentials(app_factory: Callable[..., ConsoleEnv]) -> None:
    env = app_factory(MAILCORE_INGRESS=IngressSettings(sendgrid_password="sg-password-1"))
    body, content_type = multipart({"email": message(), "envelope": "{}"})
    client = env.app.test_client()
    bad = client.post("/ingress/sendgrid", data=body, content_type=content_type)
    assert bad.status_code == 401
    good = client.post(
        "/ingress/sendgrid",
        data=body,
        content_type=content_type,
        headers=basic("mailcore", "sg-password-1"),
    )
    assert good.status_code == 200 and len(stored(env)) == 1


# -- the mailbox down ---------------------------------------------------------------------


def test_503_with_retry_after_when_the_mailbox_does_not_store(
    app_factory: Callable[..., ConsoleEnv], tmp_path: Any
) -> None:
    down = ImapMailbox(
        ImapConfig(host="127.0.0.1", port=1, security="plain", username="u", password="p"),
        retries=0,
    )
    env = app_factory(down, MAILCORE_INGRESS=SETTINGS)
    headers = {"Authorization": f"Bearer {SETTINGS.mime_token}"}
    answer = env.app.test_client().post(
        "/ingress/mime", data=message(body="SECRET\r\n"), content_type="message/rfc822",
        headers=headers,
    )  # fmt: skip
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "60"
    assert "try again later" in answer.text and "SECRET" not in answer.text
    assert isinstance(MaildirMailbox(tmp_path / "unused"), MaildirMailbox)


def test_an_unknown_mailbox_is_404(env: ConsoleEnv) -> None:
    headers = {"Authorization": f"Bearer {SETTINGS.mime_token}"}
    answer = env.app.test_client().post(
        "/ingress/mime?mailbox=nope", data=message(), content_type="message/rfc822",
        headers=headers,
    )  # fmt: skip
    assert answer.status_code == 404 and stored(env) == []
