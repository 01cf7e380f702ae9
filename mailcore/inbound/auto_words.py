"""Out-of-office subjects, one entry per language: the data `vacation_subject` reads.

`prefixes` are what an auto-responder puts at the start of the subject (Outlook's localised
"Automatic reply:", Exchange's older "Out of Office:", Gmail's and other responders' own); a
subject starting with one is a vacation reply on its own. `words` are phrases found anywhere in
vacation subjects ("out of office"); they count only beside a header sign (RFC 3834's
Auto-Submitted, X-Autoreply, Precedence, X-Auto-Response-Suppress), since a person may write
them too. Every entry says where its words come from. The entries are the data file
auto_words.toml beside this module: adding a language is adding a table there.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

__all__ = ["LANGUAGES", "VacationWords", "vacation_subject"]


@dataclass(frozen=True)
class VacationWords:
    language: str  # BCP 47 tag, as Outlook names its UI languages
    prefixes: tuple[str, ...]
    words: tuple[str, ...]
    source: str


def _load() -> tuple[VacationWords, ...]:
    """The entries of auto_words.toml (shipped beside this module), in its order."""
    text = resources.files(__package__).joinpath("auto_words.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return tuple(
        VacationWords(
            lang,
            tuple(p.lower() for p in e["prefixes"]),
            tuple(w.lower() for w in e["words"]),
            e.get("source", data["default_source"]),
        )
        for lang, e in data["languages"].items()
    )


LANGUAGES: tuple[VacationWords, ...] = _load()

_PREFIXES = tuple(sorted({p for e in LANGUAGES for p in e.prefixes}, key=len, reverse=True))
_WORDS = tuple({w for e in LANGUAGES for w in e.words})
_BY_PREFIX = {p: "/".join(e.language for e in LANGUAGES if p in e.prefixes) for p in _PREFIXES}
_BY_WORD = {w: "/".join(e.language for e in LANGUAGES if w in e.words) for w in _WORDS}


def vacation_subject(subject: str, header_sign: bool) -> tuple[str, str] | None:
    """(languages, matched words) when the subject is an auto-responder's, else None; the
    languages are those whose entries hold the words, "/"-separated ("da/nb")."""
    low = " ".join(subject[:300].split()).lower()
    if low.startswith(_PREFIXES):  # one call in C; which prefix, only when one does
        prefix = next(p for p in _PREFIXES if low.startswith(p))
        return _BY_PREFIX[prefix], prefix
    if header_sign:
        for word in _WORDS:
            if word in low:
                return _BY_WORD[word], word
    return None
