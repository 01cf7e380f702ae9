"""What an automatic message is: the vocabularies and records `extract` fills for it.

`AutoKind` says what kind of automatic mail it is (bounce, vacation reply, feedback report,
other); a bounce carries a `BounceReport` with one `RecipientReport` per failed recipient, each
with its RFC 3464 fields, a `Severity` (hard / soft) and a `BounceReason`; a feedback report
(RFC 5965, ARF) carries a `FeedbackReport`. This module owns these vocabularies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "AutoKind",
    "BounceReason",
    "BounceReport",
    "FeedbackReport",
    "RecipientReport",
    "Severity",
]


class AutoKind(StrEnum):
    """What kind of automatic message it is."""

    BOUNCE = "bounce"  # a delivery failure or delay report (RFC 3464 or an MTA's own text)
    VACATION = "vacation"  # an out-of-office / auto-reply (RFC 3834)
    FEEDBACK = "feedback-report"  # an abuse / complaint report (RFC 5965, ARF)
    OTHER = "other"  # automatic all the same: read receipt, bulk, list or robot mail


class Severity(StrEnum):
    """Whether retrying the address can help: hard (permanent) or soft (temporary)."""

    HARD = "hard"
    SOFT = "soft"


class BounceReason(StrEnum):
    """Why delivery failed, as a class an application can act on."""

    UNKNOWN_USER = "unknown-user"  # no such mailbox, disabled or moved (X.1.1, X.1.6, X.2.1)
    MAILBOX_FULL = "mailbox-full"  # over quota (X.2.2)
    BLOCKED_AS_SPAM = "blocked-as-spam"  # content or sender judged spam, blocklists
    DOMAIN_NOT_FOUND = "domain-not-found"  # no such host or domain, no MX (X.1.2, X.4.4)
    MESSAGE_TOO_LARGE = "message-too-large"  # size limits (X.2.3, X.3.4)
    POLICY = "policy"  # refused by policy: relaying, authentication, not allowed (X.7.x)
    TEMPORARY = "temporary-failure"  # delayed, will be retried, try again later
    OTHER = "other"


@dataclass(frozen=True)
class RecipientReport:
    """One recipient of a bounce: the RFC 3464 per-recipient fields and their reading."""

    final_recipient: str  # bare address, "" when the report named none
    original_recipient: str | None = None
    action: str | None = None  # failed, delayed, delivered, relayed, expanded (lowercase)
    status: str | None = None  # enhanced status code, "5.1.1"
    diagnostic: str | None = None  # Diagnostic-Code text, or the MTA's sentence for text bounces
    remote_mta: str | None = None
    severity: Severity = Severity.HARD
    reason: BounceReason = BounceReason.OTHER

    @property
    def address(self) -> str:
        """The address our mail was sent to: Original-Recipient when it holds one, else Final."""
        original = self.original_recipient
        return original if original and "@" in original else self.final_recipient

    def to_json(self) -> dict[str, Any]:
        out = {k: (str(v) if isinstance(v, StrEnum) else v) for k, v in asdict(self).items()}
        return out | {"address": self.address}


@dataclass(frozen=True)
class BounceReport:
    """A bounce: who failed and why, and how it was recognised."""

    recipients: tuple[RecipientReport, ...]
    source: str  # "rfc3464" or the family of a non-standard bounce ("qmail", "exchange"...)
    reporting_mta: str | None = None
    original_message_id: str | None = None  # of our mail, read in the returned headers
    defects: tuple[str, ...] = field(default=())  # what was cut (too many recipients...)

    @property
    def severity(self) -> Severity:
        """Hard when any recipient failed for good, else soft."""
        hard = any(r.severity is Severity.HARD for r in self.recipients)
        return Severity.HARD if hard or not self.recipients else Severity.SOFT

    def to_json(self) -> dict[str, Any]:
        return {
            "recipients": [r.to_json() for r in self.recipients],
            "source": self.source,
            "reporting_mta": self.reporting_mta,
            "original_message_id": self.original_message_id,
            "severity": str(self.severity),
            "defects": list(self.defects),
        }


@dataclass(frozen=True)
class FeedbackReport:
    """An RFC 5965 feedback report (ARF): a complaint about mail we sent."""

    feedback_type: str  # abuse, fraud, virus, not-spam, auth-failure, other (lowercase)
    user_agent: str | None = None
    version: str | None = None
    original_mail_from: str | None = None
    original_rcpt_to: tuple[str, ...] = ()
    source_ip: str | None = None
    arrival_date: str | None = None
    reporting_mta: str | None = None
    reported_domain: tuple[str, ...] = ()
    original_message_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
