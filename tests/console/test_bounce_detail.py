"""A bounce shown in the console: the detail page of the automatic-mail folder lists what the
bounce says per recipient (address, status, hard/soft, reason, diagnostic) and which of our
mails it returns; a vacation reply shows its kind only."""

from __future__ import annotations

import html

from tests.console.conftest import ConsoleEnv
from tests.mailcore.bounce_support import postfix_dsn, sent_mail


def _auto_page(env: ConsoleEnv, raw: bytes) -> str:
    svc = env.services
    svc.mailbox.append("INBOX", raw)
    [outcome] = svc.engine.poll_once()
    assert outcome.status == "auto"
    page = env.client("olivia").get(f"/mail/auto/{outcome.new_uid}")
    assert page.status_code == 200
    return html.unescape(page.get_data(as_text=True))


def test_detail_shows_the_bounce_fields(console_env: ConsoleEnv) -> None:
    original = sent_mail()
    text = _auto_page(console_env, postfix_dsn(original).replace(b"\n", b"\r\n"))
    assert 'id="bounce"' in text
    for shown in ("partner@garage.example", "5.1.1", "hard", "unknown-user", "mx.garage.example"):
        assert shown in text, shown
    assert "Recipient address rejected: User unknown" in text
    assert str(original["Message-ID"]) in text


def test_a_hostile_diagnostic_is_text(console_env: ConsoleEnv) -> None:
    raw = postfix_dsn(sent_mail()).replace(
        b"Diagnostic-Code: smtp; 550 5.1.1",
        b"Diagnostic-Code: smtp; 550 5.1.1 <script>alert(1)</script>",
    )
    svc = console_env.services
    svc.mailbox.append("INBOX", raw.replace(b"\n", b"\r\n"))
    [outcome] = svc.engine.poll_once()
    page = console_env.client("olivia").get(f"/mail/auto/{outcome.new_uid}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_vacation_reply_shows_its_kind_without_a_bounce_table(console_env: ConsoleEnv) -> None:
    raw = (
        b"From: Ana <ana@garage.example>\r\nTo: ops@acme.example\r\n"
        b"Subject: Automatic reply: [VEH-1] ready\r\nAuto-Submitted: auto-replied\r\n\r\n"
        b"I am away until Monday.\r\n"
    )
    text = _auto_page(console_env, raw)
    assert 'id="auto-kind"' in text and "vacation" in text
    assert 'id="bounce"' not in text
