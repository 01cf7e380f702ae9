"""The words mail clients write above quoted and forwarded mail, one entry per language.

One `ReplyWords` per language Outlook ships a UI in: the labels of Outlook's header block
(From / Sent / To / Subject), its "Original Message" line, the forward markers of Gmail, Apple
Mail and Thunderbird, the words that open and close Gmail's and Apple Mail's attribution line
("On <date>, <name> wrote:") and the mobile signatures ("Sent from my iPhone"). The matcher
(`reply_patterns`) compiles every entry into a few regexes once: adding a language is adding a
table to reply_words.toml (the data file beside this module), and the README's table is
generated from it.

Each entry names its sources. `SOURCES` says what each one is; "ui" marks words taken from the
clients' own interface that no public fixture searched for this table holds.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

__all__ = ["LANGUAGES", "SOURCES", "ReplyWords"]

SOURCES = {
    "trimmer": "discourse/email_reply_trimmer lib/email_reply_trimmer/"
    "{embedded_email,email_header,signature}_matcher.rb",
    "talon": "mailgun/talon talon/quotations.py",
    "crisp": "crisp-oss/email-reply-parser lib/regex.ts",
    "mpr": "alfonsrv/mail-parser-reply mailparser_reply/constants.py",
    "tb": "thunderbird/thunderbird-l10n <code>/mail/chrome/messenger/messengercompose/"
    "composeMsgs.properties (mailnews.reply_header_*, forward_header_originalmessage)",
    "quotequail": 'closeio/quotequail tests/files/*.html (mail.ru\'s "От кого:")',
    "ui": "the client's interface strings (Outlook, Gmail, Apple Mail); no public fixture found",
}


@dataclass(frozen=True)
class ReplyWords:
    """The reply and forward words of one language (each field a tuple of alternatives)."""

    code: str
    name: str
    from_: tuple[str, ...]  # Outlook "From:" label
    sent: tuple[str, ...]  # Outlook "Sent:" / "Date:" label
    to: tuple[str, ...]
    subject: tuple[str, ...]
    original: tuple[str, ...]  # "-----Original Message-----" (the words between the dashes)
    forwarded: tuple[str, ...]  # "---------- Forwarded message ---------", "Begin forwarded..."
    on: tuple[str, ...]  # first word(s) of an attribution line: "On", "Am", "Le"
    wrote: tuple[str, ...]  # its last word(s) before the colon: "wrote", "schrieb"
    sent_from: tuple[str, ...]  # mobile signatures; "…" stands for the device's name
    sources: tuple[str, ...]


def _load() -> tuple[ReplyWords, ...]:
    """The entries of reply_words.toml (shipped beside this module), in its order."""
    text = resources.files(__package__).joinpath("reply_words.toml").read_text(encoding="utf-8")
    return tuple(
        ReplyWords(code, e["name"], *(tuple(e[f]) for f in _FIELDS))
        for code, e in tomllib.loads(text).items()
    )


_FIELDS = (
    "from", "sent", "to", "subject", "original", "forwarded", "on", "wrote", "sent_from", "sources"
)  # fmt: skip
LANGUAGES: tuple[ReplyWords, ...] = _load()


def markdown_table() -> str:
    """The sources and the table as the README publishes them (a test checks that the README
    holds exactly this: tests/mailcore/inbound/test_quoting_readme.py)."""
    sources = [f"- `{key}`: {what}" for key, what in SOURCES.items()]
    rows = [
        *sources,
        "",
        "| code | language | From / Sent / To / Subject | Original / Forwarded | attribution"
        " (opener … verb) | mobile signature | sources |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for w in LANGUAGES:
        labels = " / ".join(", ".join(x) for x in (w.from_, w.sent, w.to, w.subject))
        lines = " / ".join(", ".join(x) for x in (w.original, w.forwarded))
        attribution = f"{', '.join(w.on) or '-'} … {', '.join(w.wrote)}"
        cells = (w.code, w.name, labels, lines, attribution, ", ".join(w.sent_from) or "-")
        row = " | ".join(c.replace("|", "\\|") for c in cells)
        rows.append(f"| {row} | {', '.join(w.sources)} |")
    return "\n".join(rows)
