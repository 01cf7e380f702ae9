"""Split a reply into what the sender wrote, their signature, and the quoted history."""

from __future__ import annotations

import re
from dataclasses import dataclass

# "On Mon, 4 Mar 2024 at 10:00, Jane <jane@x.org> wrote:" and its translations; clients wrap
# it over two or three lines, so it is matched on joined lines (stripped, each at most
# _MAX_HEADER_LINE long). Every pattern here runs on one bounded line, anchored, with possessive
# blanks: no pattern can backtrack over a line twice.
_ATTRIBUTION = re.compile(
    r"""(?:On|Am|Le|El|Il|Op|Em|Den|På|W\s++dniu)\s(?=[^\n]*\d).{3,300}?
        (?:wrote|schrieb|a\s++écrit|escribió|ha\s++scritto|schreef|escreveu|skrev|napisał)
        (?:\s.{0,80})?\s?:$""",
    re.IGNORECASE | re.VERBOSE,
)
# "jane@example.org wrote:" with no leading "On <date>": the end of the line; the "@" is looked
# for around it by _is_attribution (a regex ".{0,200}@.{0,200}?" costs 40,000 steps a line).
_AT_ATTRIBUTION_END = re.compile(
    r"\s(?:wrote|schrieb|a\s++écrit|escribió|ha\s++scritto|schreef)\s?:$", re.IGNORECASE
)
_ATTRIBUTION_START = re.compile(r"^\s*+(?:On|Am|Le|El|Il|Op|Em|Den|På|W\s++dniu)\s", re.IGNORECASE)
# Longer lines are never part of a history header, an attribution or a signature line.
_MAX_HEADER_LINE = 400

# Outlook-style header block: "From: ..." then "Sent: ..."/"Date: ..." within a few lines (a
# date header is required: "From: Paris / To: Lyon" is a payload, not history).
_HEADER_FROM = re.compile(
    r"^\s*+\*?+\s*+(?:From|De|Von|Van|Da|Od|Från|Fra|Lähettäjä)\s*+\*?+\s*+:\s*+\S", re.IGNORECASE
)
_HEADER_NEXT = re.compile(
    r"^\s*+\*?+\s*+(?:Sent|Date|Envoyé|Gesendet|Datum|Verzonden|Inviato|Data|Enviado|Fecha|"
    r"Skickat|Sendt|Lähetetty|Date\s++d'envoi)\s*+\*?+\s*+:",
    re.IGNORECASE,
)
_HEADER_SUBJECT = re.compile(
    r"^\s*+\*?+\s*+(?:Subject|Objet|Betreff|Onderwerp|Oggetto|Asunto|Assunto|Ämne|Emne|Aihe)"
    r"\s*+\*?+\s*+:",
    re.IGNORECASE,
)
_ORIGINAL = re.compile(
    r"^\s*+-{2,}+\s*+(?:Original\s++Message|Message\s++d'origine|Ursprüngliche\s++Nachricht|"
    r"Mensaje\s++original|Messaggio\s++originale|Oorspronkelijk\s++bericht|Originalmeddelande|"
    r"Reply\s++message|Message\s++original)\s*+-{2,}+\s*+$",
    re.IGNORECASE,
)
# Outlook's rule above its header block: underscores in text, "---" once converted from HTML.
_RULE = re.compile(r"^\s*+(?:_{10,}+|-{3,}+)\s*+$")

# "-- " is the standard (RFC 3676); "--", "__..." and "—" are what people type instead. "---" is
# a YAML document marker or a rule, not a signature.
_SIG_DELIMITER = re.compile(r"^(?:--|_{2,}+|—)\s*+$")
_MOBILE_SIGNATURE = re.compile(
    r"""^\s*+(?:
        Sent\s++from\s++(?:my\s++)?(?:iPhone|iPad|Android|Samsung|Galaxy|BlackBerry|Huawei|
            Xiaomi|Pixel|Windows\s++Phone|mobile|phone|smartphone|tablet|
            Mail\s++for\s++Windows|Outlook|Yahoo\s++Mail|ProtonMail|Proton\s++Mail|Gmail)\b
        |Sent\s++from\s++my\s++\S++(?:\s++\S++)?+\s*+$
        |Get\s++Outlook\s++for\s++(?:iOS|Android)
        |Envoyé\s++(?:de|depuis)\s++(?:mon|ma)\s++\S++(?:\s++\S++)?+\s*+$
        |Envoyé\s++(?:de|depuis)\s++(?:l'application|Outlook|Yahoo|Mail\s++pour)\b
        |Von\s++meinem\s++\S+(?:\s++\S+)?\s++gesendet
        |Gesendet\s++(?:von|mit)\s++(?:meinem|der|Outlook)\b
        |Enviado\s++desde\s++mi\s++\S++(?:\s++\S++)?+\s*+$
        |Inviato\s++da\s++(?:iPhone|iPad|Android|Outlook|Samsung)\b
        |Verzonden\s++(?:vanaf|met)\s++(?:mijn\s++)?(?:iPhone|iPad|Android|Outlook|Samsung)\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class Reply:
    """A message text split in three; joining them gives back the lines of the original."""

    visible: str
    signature: str
    quoted: str


def split_reply(text: str) -> Reply:
    """Visible text, signature (from its delimiter on) and quoted history of a message text."""
    lines = text.splitlines()
    n = len(lines)
    visible: list[str] = []
    quoted: list[str] = []
    i = 0
    cut = n  # index where everything after is history
    while i < n:
        line = lines[i]
        if line.lstrip().startswith(">"):
            quoted.append(line)
            i += 1
            continue
        if (
            line[:2] in _PLAIN_START2
            or line[:1] in _PLAIN_START
            or not _HISTORY_OPENING.match(line)
        ) and "@" not in line:
            visible.append(line)  # most lines: no history header can start here
            i += 1
            continue
        header_len = _history_start(lines, i)
        if header_len:
            # An attribution followed by a ">" block covers just that block (bottom-posting and
            # interleaved replies keep the text after it); anything else is top-posted history.
            j = i + header_len
            while j < n and not lines[j].strip():
                j += 1
            is_attribution = _ATTRIBUTION_START.match(line) or _is_attribution(line)
            if is_attribution and j < n and lines[j].lstrip().startswith(">"):
                quoted.extend(lines[i:j])
                i = j
                continue
            cut = i
            break
        visible.append(line)
        i += 1
    quoted.extend(lines[cut:])
    body, signature = _split_signature(visible)
    return Reply(
        visible=_trim("\n".join(body)),
        signature=_trim("\n".join(signature)),
        quoted=_trim("\n".join(quoted)),
    )


# The openings of every history pattern above (same words, same flags), to rule most lines out
# with one match; a line holding an "@" may still be a bare "jane@x.org wrote:".
_OPENING_WORDS = (
    "from", "de", "von", "van", "da", "od", "från", "fra", "lähettäjä",  # From
    "sent", "date", "envoyé", "gesendet", "datum", "verzonden", "inviato", "data", "enviado",
    "fecha", "skickat", "sendt", "lähetetty",  # Sent / Date
    "on", "am", "le", "el", "il", "op", "em", "den", "på", "w ",  # attributions
)  # fmt: skip
_HISTORY_OPENING = re.compile(
    r"\s*+(?:[-_*]|" + "|".join(re.escape(w).replace("\\ ", r"\s") for w in _OPENING_WORDS) + ")",
    re.IGNORECASE,
)
# First characters no history opening can begin with, whatever follows (no blank: "\s*"; no
# letter IGNORECASE may fold onto an opening's, which rules out k, s, i for "K", "ſ", "ı").
_PLAIN_START = frozenset(
    c
    for c in "bchjkmnqrtuxyzBCHJKMNQRTUXYZ0123456789#$%&'()+,./;<=>?[]^`{|}~!\"\\:"
    if _HISTORY_OPENING.match(c + "x" * 3) is None
)
# Two ASCII characters (no blank) that begin no opening ("pl", "wo"...); "de" and "On" do.
_PLAIN_START2 = frozenset(
    a + b
    for a in map(chr, range(33, 127))
    for b in map(chr, range(33, 127))
    if a not in "-_*"
    and not any(w[:1] == a.lower() and w[1:2] == b.lower() for w in _OPENING_WORDS)
)
_SIGNATURE_OPENING = re.compile(
    r"(?:--|__|—)|\s*+(?:sent|get|envoyé|von|gesendet|enviado|inviato|verzonden)", re.IGNORECASE
)


def _history_start(lines: list[str], i: int) -> int:
    """Number of lines of the history header starting at line i (0 if none starts there)."""
    line = lines[i]
    if len(line) > _MAX_HEADER_LINE:
        return 0
    if _HISTORY_OPENING.match(line) is None and "@" not in line:
        return 0
    if _ORIGINAL.match(line):
        return 1
    if _RULE.match(line):
        nxt = _next_content(lines, i + 1)
        return 1 if nxt is not None and _is_header_block(lines, nxt) else 0
    if _HEADER_FROM.match(line) or _HEADER_NEXT.match(line):
        return 1 if _is_header_block(lines, i) else 0
    if _ATTRIBUTION_START.match(line):
        joined = line
        for extra in range(3):
            if _is_attribution(joined):
                return extra + 1
            if i + extra + 1 >= len(lines):
                break
            nxt_line = lines[i + extra + 1]
            if len(nxt_line) > _MAX_HEADER_LINE or not nxt_line.strip():
                break
            if nxt_line.lstrip().startswith(">"):
                break
            joined = joined.rstrip() + " " + nxt_line.strip()
        return 0
    if "@" in line and _is_attribution(line):
        return 1
    return 0


def _is_attribution(text: str) -> bool:
    """ "On <date>, Jane <jane@x.org> wrote:" or "jane@x.org wrote:" (and translations)."""
    body = text.strip()
    if _ATTRIBUTION.match(body):
        return True
    # "<at most 200 characters>@<at most 200 characters> wrote:"
    end = _AT_ATTRIBUTION_END.search(body)
    return end is not None and "@" in body[max(0, end.start() - 201) : min(end.start(), 201)]


def _is_header_block(lines: list[str], i: int) -> bool:
    """A From line and a date line (either order, some webmails put the date first) within a
    few lines, and an address in the From line or a Subject line: "From: Paris / Date: May 1 /
    To: Lyon" is somebody's travel request, not a quoted message."""
    block = [x for x in lines[i : i + 6] if len(x) <= _MAX_HEADER_LINE]
    from_line = next((x for x in block[:3] if _HEADER_FROM.match(x)), None)
    if from_line is None or not any(_HEADER_NEXT.match(x) for x in block[:5]):
        return False
    return "@" in from_line or any(_HEADER_SUBJECT.match(x) for x in block)


def _next_content(lines: list[str], start: int) -> int | None:
    for k in range(start, min(start + 3, len(lines))):
        if lines[k].strip():
            return k
    return None


def _split_signature(lines: list[str]) -> tuple[list[str], list[str]]:
    for k, line in enumerate(lines):
        if line[:1] in _PLAIN_SIGNATURE_START or len(line) > _MAX_HEADER_LINE:
            continue
        if _SIGNATURE_OPENING.match(line) is None:
            continue
        if _SIG_DELIMITER.match(line) or _MOBILE_SIGNATURE.match(line):
            return lines[:k], lines[k:]
    return lines, []


_BLANK_RUNS = re.compile(r"\n(?:[ \t]*+\n){2,}+")


def _trim(text: str) -> str:
    # Removing a quoted block leaves blank lines on both sides: keep one.
    return _BLANK_RUNS.sub("\n\n", text.strip("\n").rstrip())


_PLAIN_SIGNATURE_START = frozenset(
    c
    for c in "abcdfhjklmnopqrtuwxyzABCDFHJKLMNOPQRTUWXYZ0123456789#$%&'()+,./;<=>?[]^`{|}~!\"\\:"
    if _SIGNATURE_OPENING.match(c + "x" * 3) is None
)
