"""A 30 MB mail pushed over HTTP is accepted without three copies of it in memory (tracemalloc
counts every Python allocation from the request to the mailbox's confirmation)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailcore.ingress import IngressSettings
from mailcore.mailboxes.imap import ImapMailbox
from tests.console.conftest import ConsoleEnv
from tests.servers import Account

SIZE = 30 * 1024 * 1024
TOKEN = "large-" + secrets.token_hex(8)
KEY = "key-" + secrets.token_hex(8)
SETTINGS = IngressSettings(mime_token=TOKEN, mailgun_signing_key=KEY)


def write_mail(path: Path, size: int) -> int:
    """A message of about `size` bytes (base64-like lines), written without holding it."""
    head = (
        b"From: alice@example.org\r\nTo: ops@example.com\r\nSubject: big\r\n"
        b"Message-ID: <" + secrets.token_hex(8).encode() + b"@example.org>\r\n\r\n"
    )
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n"
    with path.open("wb") as out:
        out.write(head)
        written = len(head)
        block = line * 1024
        while written < size:
            out.write(block)
            written += len(block)
    return written


def post_file(env: ConsoleEnv, path: str, body: Path, content_type: str, **headers: str) -> Any:
    """POST the file `body` as a stream; (the answer, the peak of traced memory meanwhile)."""
    client = env.app.test_client()
    with body.open("rb") as stream:
        tracemalloc.start()
        try:
            answer = client.post(
                path,
                input_stream=stream,
                content_length=body.stat().st_size,
                content_type=content_type,
                headers={k.replace("_", "-"): v for k, v in headers.items()},
            )
            return answer, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def test_30_mb_raw_mime_into_dovecot(
    app_factory: Callable[..., ConsoleEnv],
    make_imap_mailbox: Callable[..., ImapMailbox],
    account: Account,
    tmp_path: Path,
) -> None:
    env = app_factory(make_imap_mailbox(account), MAILCORE_INGRESS=SETTINGS)
    path = tmp_path / "big.eml"
    size = write_mail(path, SIZE)
    answer, peak = post_file(
        env, "/ingress/mime", path, "message/rfc822",
        Authorization=f"Bearer {TOKEN}", X_Mailcore_Recipient="o@x.test",
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    with account.session() as c:
        c.select_folder("INBOX")
        [(uid, data)] = c.fetch(c.search(), ["RFC822.SIZE"]).items()
    assert size < data[b"RFC822.SIZE"] < size + 200
    # Ingress holds the message once and ImapMailbox.append sends it as one literal, in
    # views of it (imaplib's own APPEND made about 5x more of it).
    assert peak < 1.5 * size, f"peak {peak / size:.2f}x the message"


def test_30_mb_mailgun_form_into_the_maildir_is_held_once(
    app_factory: Callable[..., ConsoleEnv], tmp_path: Path
) -> None:
    env = app_factory(MAILCORE_INGRESS=SETTINGS)
    mail = tmp_path / "big.eml"
    size = write_mail(mail, SIZE)
    boundary = "mc" + secrets.token_hex(8)
    timestamp, token = str(int(time.time())), secrets.token_hex(25)
    signature = hmac.new(KEY.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    form = tmp_path / "form"
    with form.open("wb") as out:
        for name, value in (("timestamp", timestamp), ("token", token), ("signature", signature)):
            out.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="body-mime"\r\n\r\n'.encode()
        )
        with mail.open("rb") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        out.write(f"\r\n--{boundary}--\r\n".encode())
    content_type = f"multipart/form-data; boundary={boundary}"
    answer, peak = post_file(env, "/ingress/mailgun/mime", form, content_type)
    assert answer.status_code == 200, answer.text
    assert peak < 1.5 * size, f"peak {peak / size:.2f}x the message"
    box = env.services.mailbox
    [stored] = box.sizes("INBOX", box.uids("INBOX")).values()
    assert stored == size
