"""The multilingual corpus of bench/extract.py: replies in every language of the reply-words
table, written from the fixtures tests/fixtures/replies/languages.json (an Outlook header
block and a Gmail attribution line per language), top-posted, bottom-posted and as HTML."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from email.message import EmailMessage
from html import escape
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "replies"


def _quoted(rng: random.Random, sentence: Callable[[random.Random], str]) -> list[str]:
    return [sentence(rng) for _ in range(rng.randint(8, 30))]


def _mail(k: int, code: str, text: str | None, html: str | None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Partner {k} <partner{k}@customer.example>"
    msg["To"] = f"Fleet desk <reply+VEH-{3000 + k}@example.com>"
    msg["Subject"] = f"Re: [VEH-{3000 + k}] {code}"
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def multilingual(rng: random.Random, sentence: Callable[[random.Random], str]) -> list[bytes]:
    """Three mails per language: Outlook top-posted (text), Gmail bottom-posted (text), Gmail
    top-posted as HTML only with its gmail_quote markup."""
    table = json.loads((FIXTURES / "languages.json").read_text("utf-8"))
    corpus: list[bytes] = []
    for k, (code, fixture) in enumerate(sorted(table.items())):
        answer = f"Plate: AB-{k:03d}\nOwner: Partner {k}\n\n{sentence(rng)}"
        old = _quoted(rng, sentence)
        outlook = f"{answer}\n\n{fixture['outlook']}\n\n" + "\n".join(old)
        quoted = "\n".join("> " + line for line in old)
        bottom = f"{fixture['gmail']}\n{quoted}\n\n{answer}\n"
        html = (
            "<div>" + escape(answer).replace("\n", "<br>") + '</div><div class="gmail_quote">'
            f'<div class="gmail_attr">{escape(fixture["gmail"])}</div><blockquote>'
            + "<br>".join(map(escape, old)) + "</blockquote></div>"
        )  # fmt: skip
        corpus += [_mail(k, code, outlook, None), _mail(k, code, bottom, None)]
        corpus.append(_mail(k, code, None, html))
    return corpus


def slowest_ms(func: Callable[[bytes], object], corpus: list[bytes], rounds: int = 3) -> float:
    """The longest time one mail of the corpus takes (best of `rounds` per mail), in ms."""
    worst = 0.0
    for raw in corpus:
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            func(raw)
            best = min(best, time.perf_counter() - start)
        worst = max(worst, best)
    return worst * 1000
