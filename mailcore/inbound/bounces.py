"""Bounces without a delivery-status part: recognised and read from the MTA's own text.

`is_system_sender` and `bounce_subject` are the header signs (`answered_subject` says when a
person answers or passes one on); `family` names the software by
its fixed sentences (`bounce_words.FAMILIES`); `text_bounce` reads the failed recipients, their
status codes and diagnostic sentences out of the notice. Everything runs on at most
`MAX_NOTICE_CHARS` of text, line by line, with plain substring tests and bounded token scans.
"""

from __future__ import annotations

import re

from mailcore.inbound.automatic import BounceReason, BounceReport, RecipientReport, Severity
from mailcore.inbound.bounce_reasons import classify, reason_from_text
from mailcore.inbound.bounce_words import (
    COPY_MARKERS,
    FAMILIES,
    SUBJECTS,
    SYSTEM_LOCAL_PARTS,
    SYSTEM_NAMES,
)
from mailcore.inbound.dsn import MAX_RECIPIENTS
from mailcore.inbound.report_parts import MAX_NOTICE_CHARS

__all__ = [
    "answered_subject",
    "bounce_subject",
    "family",
    "is_system_sender",
    "notice_section",
    "text_bounce",
]

MAX_LINE = 1000
_ADDR_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.!#$%&'*+/=?^_`{|}~-")


def is_system_sender(address: str, display_name: str = "") -> bool:
    """True for MAILER-DAEMON, postmaster and the other names mail systems bounce from."""
    local = address.rsplit("@", 1)[0].strip().lower()
    if local in SYSTEM_LOCAL_PARTS or local.startswith(("mailer-daemon", "postmaster")):
        return True
    name = display_name.lower()
    return bool(name) and any(w in name for w in SYSTEM_NAMES)


def bounce_subject(subject: str) -> bool:
    low = subject[:300].lower()
    return _SUBJECT_WORDS.search(low) is not None  # any(w in low for w in SUBJECTS), in one call


_SUBJECT_WORDS = re.compile("|".join(map(re.escape, SUBJECTS)))


# The reply and forward prefixes mail clients write (Re, AW, SV, Odp, Fwd, WG, TR, RV, Enc,
# 回复, 转发...), at most one bracketed count ("Re[2]:"); a mail system never writes them.
# fmt: off
_ANSWER_PREFIXES = frozenset({
    "re", "aw", "sv", "vs", "ré", "odp", "odg", "ynt", "antw", "antwort", "atb", "vá", "r",
    "wg", "fw", "fwd", "tr", "rv", "enc", "doorst", "i",
    "回复", "回覆", "答复", "转发", "轉寄", "返信", "転送", "회신", "전달",
})
# fmt: on


def answered_subject(subject: str) -> bool:
    """True when `subject` starts with a reply or forward prefix ("Re: Undeliverable")."""
    head = subject[:40].lstrip()
    cut = min((i for i in (head.find(":"), head.find("：")) if i > 0), default=-1)
    if cut < 0:
        return False
    word = head[:cut].strip().lower()
    if word.endswith("]") and "[" in word:
        word = word[: word.index("[")].strip()
    return word in _ANSWER_PREFIXES


def family(text: str) -> str | None:
    """The MTA family whose fixed sentences `text` holds, or None."""
    low = text[:MAX_NOTICE_CHARS].lower()
    for name, sentences in FAMILIES:
        if any(s in low for s in sentences):
            return name
    return None


def notice_section(text: str) -> list[str]:
    """The lines of the notice before the copy of the returned message, each cut to MAX_LINE."""
    lines: list[str] = []
    for raw in text[:MAX_NOTICE_CHARS].splitlines():
        line = raw[:MAX_LINE]
        low = line.strip().lower()
        if any(m in low for m in COPY_MARKERS):
            break
        if lines and low.startswith(("return-path:", "received: from", "received: by")):
            break
        lines.append(line)
    return lines


def addresses_in(line: str) -> list[str]:
    """The e-mail addresses in one line (no regex: a scan around each '@', bounded by MAX_LINE)."""
    found: list[str] = []
    low = line.lower()
    start = 0
    while len(found) < 20:
        at = low.find("@", start)
        if at < 0:
            break
        left = at
        while left > 0 and at - left < 64 and low[left - 1] in _ADDR_CHARS:
            left -= 1
        right = at + 1
        while (
            right < len(low) and right - at < 255 and (low[right].isalnum() or low[right] in ".-")
        ):
            right += 1
        local, domain = line[left:at].strip(".'"), line[at + 1 : right].strip(".-")
        if local[:5].lower() in ("smtp=", "smtp:"):  # Exchange's X.400 form: dda:SMTP=user@host
            local = local[5:]
        if local and "." in domain and not domain.startswith(".") and domain[-1].isalpha():
            found.append(f"{local}@{domain}")
        start = right if right > at + 1 else at + 1
    return found


def _strong(line: str, address: str) -> bool:
    """The address leads its line, the way bounces list failed recipients."""
    low = line.strip().lower().lstrip("<\"'").lstrip()
    addr = address.lower()
    return (
        low.startswith(addr)
        or low.startswith(("rcpt to:<" + addr, "rcpt to: <" + addr))
        or low.startswith(("(expanded from: " + addr, "(expanded from: <" + addr))  # Sendmail
        or f"<{addr}>:" in low
        or f"{addr}..." in low
    )


def _status_in(text: str) -> str | None:
    for word in text.replace("(", " ").replace(")", " ").split()[:200]:
        word = word.strip("#:;,.[]<>'\"").lstrip("#")
        parts = word.split(".")
        if (
            len(parts) == 3
            and parts[0] in ("4", "5")
            and all(p.isdigit() and len(p) <= 3 for p in parts[1:])
        ):
            return word
    return None


def text_bounce(text: str, source: str, exclude: set[str]) -> BounceReport:
    """The failed recipients a text bounce names; `exclude`: our own and the system's addresses."""
    lines = notice_section(text)
    seen: dict[str, int] = {}
    strong: list[str] = []
    for k, line in enumerate(lines):
        if line.strip().lower().startswith(_SUMMARY):
            continue  # "To: ...", "Cc: ...": the returned message's summary, not who failed
        for address in addresses_in(line):
            key = address.lower()
            local = key.split("@", 1)[0]
            if key in exclude or local in ("postmaster", "mailer-daemon", "abuse") or key in seen:
                if key in seen and key not in strong and _strong(line, address):
                    strong.append(key)
                    seen[key] = k
                continue
            seen[key] = k
            if _strong(line, address):
                strong.append(key)
    chosen = strong or list(seen)
    section = "\n".join(lines)
    stance = notice_severity(section)
    originals = {a.lower(): a for line in lines for a in addresses_in(line)}
    records = []
    for key in chosen[:MAX_RECIPIENTS]:
        snippet = _snippet(lines, seen[key])
        status = _status_in(snippet)
        diagnostic = " ".join(snippet.split())[:500] or None
        if status is None and reason_from_text(snippet) is BounceReason.OTHER:
            status = _status_in(section)
            diagnostic = diagnostic if diagnostic and len(diagnostic) > len(key) + 2 else None
            _, reason = classify(status, section)
        else:
            _, reason = classify(status, snippet)
        severity = stance
        records.append(
            RecipientReport(
                final_recipient=originals.get(key, key),
                action="delayed" if severity is Severity.SOFT else "failed",
                status=status,
                diagnostic=diagnostic,
                severity=severity,
                reason=reason,
            )
        )
    defects = (
        (f"{len(chosen) - MAX_RECIPIENTS} more recipients ignored",)
        if len(chosen) > MAX_RECIPIENTS
        else ()
    )
    return BounceReport(recipients=tuple(records), source=source, defects=defects)


_SUMMARY = ("to:", "cc:", "bcc:", "from:", "subject:", "sent:", "date:", "reply-to:")
# What a notice says when it has given up, and when it is only a warning that it goes on trying.
_GIVEN_UP = (
    "permanent",
    "given up",
    "giving up",
    "not going to try again",
    "will not retry",
    "fatal error",
    "too long in the queue",
    "has been in the queue too long",
)
_WARNING = (
    "will continue to try",
    "will be retried",
    "will retry",
    "still trying",
    "has not yet been delivered",
    "not yet been delivered",
    "delivery delayed",
    "is delayed",
    "been delayed",
    "postponed",
    "warning:",
    "will try again",
    "will keep trying",
    "this is a warning",
    "no action is required",
)


def notice_severity(section: str) -> Severity:
    """A text bounce is final (hard) unless it says it is a warning and goes on trying."""
    low = section[:MAX_NOTICE_CHARS].lower()
    if any(w in low for w in _GIVEN_UP):
        return Severity.HARD
    return Severity.SOFT if any(w in low for w in _WARNING) else Severity.HARD


def _snippet(lines: list[str], k: int) -> str:
    """The recipient's line and the lines that follow it, up to a blank line (at most 4)."""
    out = [lines[k]]
    for line in lines[k + 1 : k + 5]:
        if not line.strip():
            if len(out) > 1:
                break
            continue
        if addresses_in(line) and any(_strong(line, a) for a in addresses_in(line)):
            break
        out.append(line)
    return "\n".join(out)
