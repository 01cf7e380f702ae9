"""The detail page says when the reply cut is unsure and shows the quoted part open; a sure
cut keeps the quoted part folded."""

from __future__ import annotations

import html
from email.message import EmailMessage

from tests.console.conftest import ConsoleEnv


def _failed_page(env: ConsoleEnv, body: str) -> str:
    msg = EmailMessage()
    msg["From"] = "jane@customer.example"
    msg["To"] = "ops@acme.example"
    msg["Subject"] = "Plate change"  # no identifier, no route: the mail goes to failed
    msg.set_content(body)
    svc = env.services
    svc.mailbox.append("INBOX", msg.as_bytes())
    [outcome] = svc.engine.poll_once()
    assert outcome.status == "failed"
    page = env.client("olivia").get(f"/failed/{outcome.new_uid}")
    assert page.status_code == 200
    return html.unescape(page.get_data(as_text=True))


def test_an_unsure_cut_is_marked_and_its_quote_open(console_env: ConsoleEnv) -> None:
    # An attribution in a language the table lacks (Icelandic): nothing cut, flagged unsure.
    text = _failed_page(
        console_env, "Plate: AB-123\n\n4.3.2024 17:02 Desk <d@example.com> skrifaði:\nold\n"
    )
    assert 'id="reply-confidence"' in text and "unsure" in text
    assert "not recognised as a quote header" in text


def test_a_sure_cut_shows_its_quote_folded(console_env: ConsoleEnv) -> None:
    text = _failed_page(
        console_env,
        "Plate: AB-123\n\nOn Mon, Mar 4, 2024 at 5:02 PM Desk <d@example.com> wrote:\n> old\n",
    )
    assert 'id="reply-confidence"' not in text
    assert '<details id="quoted-part">' in text and "> old" in text


def test_a_mail_of_quotes_only_shows_its_quote_open(console_env: ConsoleEnv) -> None:
    text = _failed_page(console_env, "> only an old question\n> and nothing else\n")
    assert 'id="reply-confidence"' in text
    assert '<details id="quoted-part" open>' in text
