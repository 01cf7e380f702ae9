"""Summaries on both backends read headers through mailcore.inbound.headers: linear, bounded."""

from __future__ import annotations

import time

from mailcore.mailboxes.protocol import Mailbox
from tests.mailcore.engine_support import deliver


def test_a_hostile_subject_is_listed_quickly_and_decoded(mailbox: Mailbox) -> None:
    # 10,000 encoded words (140 KB): email.header.decode_header is quadratic on this.
    subject = " ".join(["=?utf-8?q?a?="] * 10_000)
    [uid] = deliver(mailbox, f"From: p@example.org\r\nSubject: {subject}\r\n\r\nhi\r\n".encode())
    start = time.perf_counter()
    [summary] = mailbox.summaries("INBOX", [uid])
    assert time.perf_counter() - start < 10  # a guard against a blow-up, not a speed target
    assert summary.subject == "a" * 10_000


def test_a_mail_without_a_blank_line_is_summarised_from_its_start(mailbox: Mailbox) -> None:
    raw = b"From: p@example.org\r\nSubject: no body\r\n" + b"X-Filler: " + b"y" * 2_000_000
    [uid] = deliver(mailbox, raw)
    [summary] = mailbox.summaries("INBOX", [uid])
    assert summary.subject == "no body" and summary.sender == "p@example.org"
