"""The reply words of every language (`reply_words`) compiled once into a few linear regexes.

Every pattern runs on one line of at most `MAX_HEADER_LINE` characters (or on two or three such
lines joined, for wrapped attribution lines), is anchored or ends in ``$``, and has no quantifier
inside a quantified group that can backtrack: a line is scanned a bounded number of times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from itertools import compress
from typing import Any

from mailcore.inbound.reply_words import LANGUAGES, ReplyWords

__all__ = [
    "MAX_HEADER_LINE",
    "AttributionKind",
    "attribution_kind",
    "clean",
    "colon_flags",
    "ends_in_colon",
    "header_field",
    "is_forward_marker",
    "is_header_label",
    "is_mobile_signature",
    "is_separator",
    "may_start_history",
    "may_start_signature",
    "may_wrap",
    "unquote",
]

# Longer lines are never part of a history header, an attribution or a signature line.
MAX_HEADER_LINE = 400


class AttributionKind(StrEnum):
    """How an attribution line was recognised: by its opener and verb, or by weaker signs."""

    OPENED = "opened"  # "On <date>, <name> wrote:": the language's opener and verb
    VERB = "verb"  # "<name> <addr> schrieb am <date>:": a verb, and an address or a time
    ADDRESS = "address"  # "2014-03-20 8:48 GMT+01:00 Name <addr>:": a date and an address


def _alternation(words: Iterable[str]) -> str:
    """Longest first, so that "napisał(a)" wins over "napisał"; blanks match any blank run."""
    unique = sorted({w for w in words if w}, key=lambda w: (-len(w), w))
    return "|".join(re.escape(w).replace(r"\ ", r"\s++") for w in unique)


def _all(field: str) -> list[str]:
    return [w for lang in LANGUAGES for w in getattr(lang, field)]


def _spaced(word: str) -> bool:
    """Words of scripts written with spaces end where a blank follows."""
    return not any(0x2E80 <= ord(c) <= 0xD7FF for c in word)


_FLAGS = re.IGNORECASE


def _fold(text: str) -> str:
    """Case-folded as IGNORECASE sees it (it takes the Turkish "ı" and "İ" for an "i")."""
    if text.isascii():
        return text.casefold()
    return text.replace("ı", "i").replace("İ", "i").casefold()


_COLON = "[:：]"
_LABEL = r"^[ \t]*+\*?+[ \t]*+(?:{})[ \t]*+\*?+[ \t]*+" + _COLON


def _trie(words: Iterable[str]) -> str:
    """The alternation of `words` factored by common prefixes ("D(?:e|ate|atum)"): the same
    lines match, with one try per distinct character where a flat alternation tries every
    word. Only for patterns asked whether they match (the branch that wins may differ)."""
    tree: dict[str, dict[str, Any]] = {}
    for word in {w for w in words if w}:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here
    return _branches(tree)


def _branches(node: dict[str, dict[str, Any]]) -> str:
    alts = [
        (r"\s++" if char == " " else re.escape(char)) + _branches(child)
        for char, child in sorted(node.items())
        if char
    ]
    if not alts:
        return ""
    if "" in node:  # a word ends here, longer ones go on
        return "(?:" + "|".join(alts) + ")?"
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


_HEADER_FROM = re.compile(_LABEL.format(_trie(_all("from_"))) + r"\s*+\S", _FLAGS)
_HEADER_DATE = re.compile(_LABEL.format(_trie(_all("sent"))), _FLAGS)
_HEADER_TO = re.compile(_LABEL.format(_trie(_all("to"))), _FLAGS)
_HEADER_SUBJECT = re.compile(_LABEL.format(_trie(_all("subject"))), _FLAGS)
# "Label: value" of a forwarded header block, any language; group 1 is the label.
_HEADER_ANY = re.compile(
    r"^[ \t]*+\*?+[ \t]*+({})[ \t]*+\*?+[ \t]*+{}[ \t]*+\*?+[ \t]*+(.*)$".format(
        _alternation([*_all("from_"), *_all("sent"), *_all("to"), *_all("subject"), "Cc"]),
        _COLON,
    ),
    _FLAGS,
)
_FIELD_OF = {
    w.casefold(): field
    for field, key in (("from", "from_"), ("date", "sent"), ("to", "to"), ("subject", "subject"))
    for w in _all(key)
} | {"cc": "cc"}

_DASHES = r"[-_=]{2,}+"
_SEPARATOR = re.compile(
    rf"^\*?+\s*+{_DASHES}\s*+(?:{_trie(_all('original'))})\s*+{_DASHES}\s*+\*?+$", _FLAGS
)
_FORWARD = re.compile(
    rf"^\*?+\s*+(?:{_DASHES}\s*+(?:{_trie(_all('forwarded'))})\s*+{_DASHES}"
    rf"|(?:{_trie(_all('forwarded'))})\s*+{_COLON})\s*+\*?+$",
    _FLAGS,
)
# Outlook's rule above its header block: underscores in text, "---" once converted from HTML.
RULE = re.compile(r"^\s*+(?:_{10,}+|-{3,}+)\s*+$")

_OPENERS = _all("on")
# The opener at the start of an attribution line ("On ", "Am ", "在"); the rest of the line is
# read by _verb_distance, with str.rfind: an alternation of a hundred verbs tried at every
# position of a 400-character line costs milliseconds in re.
_OPENER = re.compile(
    r"(?:{spaced})\s|(?:{unspaced})\s?".format(
        spaced=_alternation(w for w in _OPENERS if _spaced(w)),
        unspaced=_alternation(w for w in _OPENERS if not _spaced(w)) or "(?!)",
    ),
    _FLAGS,
)
# The same openers as prefix tries, for may_wrap, which only asks whether one starts the line.
_OPENS = re.compile(
    r"(?:{spaced})\s|(?:{unspaced})\s?".format(
        spaced=_trie(w for w in _OPENERS if _spaced(w)),
        unspaced=_trie(w for w in _OPENERS if not _spaced(w)) or "(?!)",
    ),
    _FLAGS,
)
# Verbs folded, longest first ("napisał(a)" before "napisał"), each with whether it must
# start a word (scripts written with spaces).
_VERBS = sorted({(_fold(w), _spaced(w)) for w in _all("wrote")}, key=lambda v: (-len(v[0]), v[0]))
_VERB_WORDS = [verb for verb, _ in _VERBS]
# After the verb: a name or a date ("schrieb Jane <j@x.org>:"), at most this long.
_MAX_AFTER_VERB = 80
_VERB_WINDOW = _MAX_AFTER_VERB + max(len(v) for v, _ in _VERBS) + 3
# Between the opener and the verb: the date and the name.
_MAX_MIDDLE = 300
_ADDRESS_END = re.compile(rf"<\s?+[^<>\s@]{{1,64}}+@[^<>\s]{{1,255}}+>\s?+{_COLON}$")
_TIME = re.compile(r"\d{1,2}[:.]\d\d")
_DIGIT = re.compile(r"\d")
_DATE = re.compile(r"\d{4}|\d{1,2}[:.]\d\d")
# Right-to-left marks Gmail wraps Hebrew and Arabic attribution lines in.
_BIDI_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{_BIDI_MARKS}]")
_TRAILING = " \t\r\n\f\v\xa0" + _BIDI_MARKS


def _last(line: str) -> str:
    """The last character before the trailing blanks and bidirectional marks."""
    last = line[-1:]
    return line.rstrip(_TRAILING)[-1:] if last in _TRAILING else last


def unquote(line: str) -> str:
    """The line one quote level shallower ("> > a" -> "> a")."""
    return line[2:] if line.startswith("> ") else line[1:] if line.startswith(">") else line


def clean(line: str) -> str:
    """The line without its blanks at both ends and without bidirectional marks."""
    if line.isascii() or not any(mark in line for mark in _BIDI_MARKS):  # "in": C, fast
        return line.strip()
    return _BIDI.sub("", line).strip()


def attribution_kind(text: str) -> AttributionKind | None:
    """Whether `text` (one line, or two or three joined) is an attribution line, and how sure.

    Zimbra's "- Le … a écrit :" and Zoho's "---- On … wrote ----" lose their dashes first."""
    body = clean(text)
    if body[:1] == "-":
        body = body.lstrip("- ")
    if body[-1:] == "-":
        body = body.rstrip("- ") + ":"
    if body[-1:] not in (":", "："):
        return None
    distance = _verb_distance(body)
    if distance:
        opener = _OPENER.match(body)
        middle = len(body) - distance - opener.end() if opener else 0
        if opener and 3 <= middle <= _MAX_MIDDLE and _DIGIT.search(body, opener.end()):
            return AttributionKind.OPENED
        if "@" in body or _TIME.search(body):
            return AttributionKind.VERB
    if _ADDRESS_END.search(body) and _DATE.search(body):
        return AttributionKind.ADDRESS
    return None


def may_wrap(body: str) -> bool:
    """Whether an attribution line can start here and go on below: its first part holds the
    opener, a date or an address ("x" above "2024 <a@b.c>:" is not part of it)."""
    return "@" in body or _DIGIT.search(body) is not None or _OPENS.match(body) is not None


def _verb_distance(body: str) -> int:
    """How far from the end of `body` (which ends in a colon) an attribution verb starts, when
    only a name or date of at most _MAX_AFTER_VERB characters follows it; 0 if none does."""
    tail = _fold(body[-_VERB_WINDOW:])
    # The verbs the tail holds at all, in _VERBS's order, picked in C (a loop over the hundred
    # verbs in Python costs more than the searches themselves).
    for verb, spaced in compress(_VERBS, map(tail.__contains__, _VERB_WORDS)):
        pos = tail.rfind(verb)
        while pos >= 0:
            if _verb_fits(tail, pos, len(verb), spaced):
                return len(tail) - pos
            pos = tail.rfind(verb, 0, pos)
    return 0


def _verb_fits(tail: str, pos: int, size: int, spaced: bool) -> bool:
    """The verb at `pos` starts a word and is followed by the colon, or a blank and a name."""
    rest = tail[pos + size : -1]
    if rest and (not rest[0].isspace() or len(rest) > _MAX_AFTER_VERB + 2):
        return False
    return not spaced or pos == 0 or not tail[pos - 1].isalnum()


def is_separator(line: str) -> bool:
    """ "-----Original Message-----" and its translations."""
    return _SEPARATOR.match(clean(line)) is not None


def is_forward_marker(line: str) -> bool:
    """ "---------- Forwarded message ---------", "Begin forwarded message:" and translations."""
    return _FORWARD.match(clean(line)) is not None


def is_header_label(line: str, label: str) -> bool:
    """Whether the line starts with the From / date / To / Subject label of some language."""
    pattern = {"from": _HEADER_FROM, "date": _HEADER_DATE, "to": _HEADER_TO}.get(
        label, _HEADER_SUBJECT
    )
    return pattern.match(line) is not None


def header_field(line: str) -> tuple[str, str] | None:
    """("from" | "date" | "to" | "subject" | "cc", value) of a "Label: value" line."""
    if len(line) > MAX_HEADER_LINE:
        return None
    found = _HEADER_ANY.match(clean(line))
    if found is None:
        return None
    label = " ".join(found.group(1).split()).casefold()
    # "Subject: | Re: plate": Thunderbird's forward header table, cells joined by htmltext.
    return _FIELD_OF.get(label, "cc"), found.group(2).strip().strip("*|").strip()


# -- cheap first tests: most lines are ruled out by their first two characters ----------------


def _heads(words: Iterable[str]) -> frozenset[str]:
    return frozenset(_fold(w + " ")[:2] for w in words if w)


# How attribution lines end: a colon, or Zoho's dashes ("---- On … wrote ----").
_COLONS = (":", "：", "-")
_COLON_SET = frozenset(_COLONS)  # set look-ups: "" (an empty line) is in neither
_TRAILING_SET = frozenset(_TRAILING)
# Characters an attribution line, a separator or an Outlook rule ends with.
_HEADER_ENDS = frozenset(":：-_=*")
# The colon of a header label ("Beantwoorden - Aan:", "Date d'envoi :") comes before this.
_LABEL_REACH = 48
_HISTORY_HEADS = _heads([*_all("from_"), *_all("sent"), *_OPENERS]) | {"--", "__", "=="}


def _ascii_cases(heads: Iterable[str]) -> frozenset[str]:
    """The ASCII `heads` (folded) in every spelling a line may start with ("se": "Se", "SE",
    "sE"): for an ASCII start, one set look-up without folding the line says it all."""
    out: set[str] = set()
    for h in heads:
        if h.isascii():
            combos = [""]
            for c in h:
                combos = [x + v for x in combos for v in {c, c.upper()}]
            out.update(combos)
    return frozenset(out)


_HISTORY_STARTS = _ascii_cases(_HISTORY_HEADS)


def ends_in_colon(line: str) -> bool:
    """Whether a line (not too long for a header) ends as attribution lines do (a colon)."""
    return len(line) <= MAX_HEADER_LINE and _last(line) in _COLONS


def colon_flags(lines: list[str]) -> list[bool]:
    """`ends_in_colon` of every line, then two False (one pass, no call per line)."""
    colons, trailing, reach = _COLON_SET, _TRAILING_SET, MAX_HEADER_LINE
    flags = [
        ((c := x[-1:]) in colons or (c in trailing and _last(x) in colons)) and len(x) <= reach
        for x in lines
    ]
    flags += (False, False)
    return flags


def may_start_history(line: str, colon_below: bool) -> bool:
    """False for lines no history header can start at (the quick test run on every line).
    `colon_below`: one of the next two lines ends in a colon (a wrapped attribution line)."""
    if len(line) > MAX_HEADER_LINE or not line or line.isspace():  # isspace: no copy
        return False
    last = line[-1]
    if last in _TRAILING:
        last = _last(line)
    if colon_below or last in _HEADER_ENDS or "@" in line:
        return True
    # "From: …", "Sent: …": a label of the table, then its colon within the first characters.
    head = line[:_LABEL_REACH]
    if ":" not in head and "：" not in head:
        return False
    start = line.lstrip(" \t*>")[:2]
    if start.isascii() and start not in _HISTORY_STARTS:  # ASCII folds to its lower case
        return False
    if not start.isascii() and _fold(start)[:2] not in _HISTORY_HEADS:
        return False
    # Only a From or date label can start a header here: forward markers, separators, rules and
    # attribution lines end in a colon or a dash, which the tests above let through. Many a
    # payload line ("department: Sales") gets this far on its first two letters ("De:").
    return _HEADER_FROM.match(line) is not None or _HEADER_DATE.match(line) is not None


# -- mobile signatures ------------------------------------------------------------------------


def _signature_forms(langs: Iterable[ReplyWords]) -> list[tuple[str, str]]:
    forms: list[tuple[str, str]] = []
    for lang in langs:
        for entry in lang.sent_from:
            prefix, _, suffix = entry.partition("…")
            forms.append((" ".join(prefix.split()).casefold(), " ".join(suffix.split()).casefold()))
    return forms


def _index(forms: list[tuple[str, str]], key: int) -> dict[str, list[tuple[str, str]]]:
    """Forms by the first character of their prefix (key 0) or, for suffix-only forms, by the
    last character of their suffix (key 1)."""
    index: dict[str, list[tuple[str, str]]] = {}
    for form in forms:
        if key == 0 and form[0]:
            index.setdefault(form[0][0], []).append(form)
        elif key == 1 and not form[0]:
            index.setdefault(form[1][-1], []).append(form)
    return index


_SIGNATURE_FORMS = _signature_forms(LANGUAGES)
_BY_HEAD = _index(_SIGNATURE_FORMS, 0)
_BY_TAIL = _index(_SIGNATURE_FORMS, 1)
# The first two characters (folded) a signature line can start with: one is too weak a test
# (every Latin letter starts some language's "Sent from my").
_SIGNATURE_HEADS = frozenset(f[0][:2] for f in _SIGNATURE_FORMS if f[0]) | set("-_—")
_SIGNATURE_TAILS = frozenset(_BY_TAIL)
_SIGNATURE_STARTS = _ascii_cases(_SIGNATURE_HEADS)
_SIG_DELIMITER = re.compile(r"^(?:--|_{2,}+|—)\s*+$")
# "Sent from my <device>": at most this many words for the device, and no sentence.
_MAX_DEVICE_WORDS = 5
# No signature line is longer (the longest forms, with a device name, are about 60 characters).
_MAX_SIGNATURE_LINE = 120


def may_start_signature(line: str) -> bool:
    """The quick test: can a signature start at this line at all?"""
    if len(line) > _MAX_SIGNATURE_LINE:
        return False
    body = line.strip()
    start = body[:2]
    return (
        (start in _SIGNATURE_STARTS if start.isascii() else _fold(start)[:2] in _SIGNATURE_HEADS)
        or body[:1] in _SIGNATURE_HEADS  # "-- ", "__", a one-character prefix
        or body[-1:].casefold() in _SIGNATURE_TAILS
    )


def is_mobile_signature(line: str) -> bool:
    """ "-- ", "Sent from my Wiko RIDGE FAB 4G", "Von meinem iPhone gesendet", "iPhoneから送信"."""
    if _SIG_DELIMITER.match(line):
        return True
    body = " ".join(line.split()).casefold()
    if not body or body[-1] in ".!?,;:":
        return False
    for prefix, suffix in (*_BY_HEAD.get(body[0], ()), *_BY_TAIL.get(body[-1], ())):
        if not body.startswith(prefix) or not body.endswith(suffix):
            continue
        middle = body[len(prefix) : len(body) - len(suffix)]
        if prefix and _spaced(prefix[-1]) and middle[:1] not in (" ", ""):
            continue  # "Sent fromage": the prefix ends inside a word
        if middle.strip() and len(middle.split()) <= _MAX_DEVICE_WORDS:
            return True
    return False
