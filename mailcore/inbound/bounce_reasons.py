"""Hard or soft, and why: a bounce's status code first, its diagnostic text second.

A specific enhanced status code (RFC 3463: 5.1.1 no such user, 5.2.2 mailbox full...) decides
the reason; a generic one (X.0.0, X.7.1, X.5.0...) and a missing one leave it to the words of
the diagnostic, from `_WORDS` (plain substrings, no regex: the text is the sender's). Severity
comes from the status class (5 hard, 4 soft), else the SMTP reply code, else the words.
"""

from __future__ import annotations

from mailcore.inbound.automatic import BounceReason, Severity

__all__ = ["classify", "reason_from_text", "smtp_code"]

R = BounceReason

# Enhanced status subject.detail -> reason (RFC 3463 section 3, RFC 7372, RFC 7505).
_BY_STATUS: dict[str, BounceReason] = {
    "1.1": R.UNKNOWN_USER,
    "1.3": R.UNKNOWN_USER,
    "1.6": R.UNKNOWN_USER,
    "1.10": R.UNKNOWN_USER,
    "2.1": R.UNKNOWN_USER,
    "1.2": R.DOMAIN_NOT_FOUND,
    "4.4": R.DOMAIN_NOT_FOUND,
    "1.8": R.POLICY,
    "2.2": R.MAILBOX_FULL,
    "2.3": R.MESSAGE_TOO_LARGE,
    "3.4": R.MESSAGE_TOO_LARGE,
    "7.26": R.POLICY,
    "7.25": R.POLICY,
    "7.27": R.POLICY,
}

# Reason words, looked for in this order in the lowercased diagnostic (first match wins).
# fmt: off
_WORDS: tuple[tuple[BounceReason, tuple[str, ...]], ...] = (
    (R.BLOCKED_AS_SPAM, (
        "spam", "unsolicited", "blacklist", "blocklist", "spamhaus", "rbl", "junk mail",
        "content rejected", "message content", "reputation", "bulk mail", "uribl",
    )),
    (R.MAILBOX_FULL, (
        "mailbox full", "mailbox is full", "quota", "exceeds allowed size",
        "insufficient storage", "insufficient system storage", "mailbox size limit",
        "over the storage", "disk full",
        "mail box full", "full mailbox", "too much mail", "mailfolder is full",
        "mailbox has exceeded", "is full", "storage space",
    )),
    (R.MESSAGE_TOO_LARGE, (
        "message size", "too large", "too big", "exceeds size limit", "size limit",
        "message length exceeds", "exceeds the maximum size",
    )),
    (R.DOMAIN_NOT_FOUND, (
        "host unknown", "domain not found", "no such domain", "unknown domain",
        "name or service not known", "host or domain name not found", "unrouteable",
        "no mx", "domain does not exist", "host not found", "mx record", "nxdomain",
        "domain name not found", "no route to host", "name service error",
    )),
    (R.UNKNOWN_USER, (
        "user unknown", "unknown user", "no such user", "no such mailbox", "no mailbox",
        "mailbox unavailable", "mailbox not found", "does not exist", "doesn't exist",
        "unknown recipient", "recipient unknown", "invalid recipient", "recipient rejected",
        "not our customer", "user not found", "not listed in", "not recognized",
        "no longer", "not a known user", "not an active address", "deactivated",
        "disabled", "suspended", "bad_recipient", "bad recipient", "address rejected",
        "unknown address", "no mail box", "recipientnotfound", "not found", "nie istnieje",
        "mailbox unknown", "account is unavailable", "inactive", "invalid address",
        "no such recipient", "unknown local part", "address unknown", "unknown or illegal",
    )),
    (R.POLICY, (
        "relaying", "relay access", "not a relay", "not permitted", "policy",
        "authentication", "not allowed", "denied", "spf", "dmarc", "dkim", "refused",
        "rejected", "only subscribers", "not allowed to post", "moderator", "not a member",
    )),
    (R.TEMPORARY, (
        "try again", "temporar", "delayed", "will retry", "will be retried", "still trying",
        "deferred", "timed out", "timeout", "will continue", "connection refused",
        "greylist", "postponed",
    )),
)
# fmt: on

_SOFT_WORDS = (
    "try again",
    "temporar",
    "delayed",
    "will retry",
    "will be retried",
    "still trying",
    "deferred",
    "will continue",
    "greylist",
    "warning",
)
_MAX_TEXT = 4000  # the diagnostic looked at: reasons are said in the first sentences


def reason_from_text(text: str | None) -> BounceReason:
    """The reason the words of `text` give, OTHER when none of `_WORDS` is there."""
    low = (text or "")[:_MAX_TEXT].lower()
    if not low:
        return R.OTHER
    for reason, words in _WORDS:
        if any(w in low for w in words):
            return reason
    return R.OTHER


def smtp_code(text: str | None) -> str | None:
    """The first SMTP reply code (``550``) the text starts a word with, or None."""
    low = (text or "")[:_MAX_TEXT]
    for word in low.replace("-", " ").split()[:40]:
        word = word.strip("(#:;,[]")
        if len(word) == 3 and word.isdigit() and word[0] in "45" and word[1] in "012345":
            return word
    return None


def classify(
    status: str | None, diagnostic: str | None, action: str | None = None
) -> tuple[Severity, BounceReason]:
    """Severity and reason of one failed recipient."""
    reason = R.OTHER
    if status:
        reason = _BY_STATUS.get(status.split(".", 1)[1] if "." in status else "", R.OTHER)
    if reason is R.OTHER:
        reason = reason_from_text(diagnostic)
    if reason is R.OTHER and status and status.startswith("4"):
        reason = R.TEMPORARY
    return _severity(status, diagnostic, action, reason), reason


def _severity(
    status: str | None, diagnostic: str | None, action: str | None, reason: BounceReason
) -> Severity:
    if action == "delayed":
        return Severity.SOFT
    if status and status[0] in "45":
        return Severity.HARD if status[0] == "5" else Severity.SOFT
    code = smtp_code(diagnostic)
    if code is not None:
        return Severity.HARD if code[0] == "5" else Severity.SOFT
    low = (diagnostic or "")[:_MAX_TEXT].lower()
    if "permanent" in low:
        return Severity.HARD
    if reason is R.TEMPORARY or any(w in low for w in _SOFT_WORDS):
        return Severity.SOFT
    return Severity.HARD
