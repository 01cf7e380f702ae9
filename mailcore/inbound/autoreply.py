"""Telling an automatic message from a person's, and what kind it is.

`read_automatic` decides in this order: a read receipt; an RFC 5965 feedback report; a bounce
(an RFC 3464 delivery-status part, else the MTA's own text when the headers point to the mail
system: MAILER-DAEMON or postmaster senders, a null Return-Path, X-Failed-Recipients, a
delivery-report subject); a vacation reply (RFC 3834 headers, then the subject words of
`auto_words`); other automatic mail (Auto-Submitted, Precedence bulk/junk). A bounce is
decided before the Auto-Submitted header is read, so a bounce recognised through that header
alone is still a bounce. `auto_reply_reason` keeps the one-line reason the pipeline files by.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from email.message import Message

from mailcore.ident import DEFAULT_SCHEME, IdentScheme
from mailcore.inbound.auto_words import vacation_subject
from mailcore.inbound.automatic import AutoKind, BounceReport, FeedbackReport
from mailcore.inbound.bounce_link import link_bounce
from mailcore.inbound.bounces import (
    answered_subject,
    bounce_subject,
    family,
    is_system_sender,
    text_bounce,
)
from mailcore.inbound.dsn import feedback_report, parse_delivery_status
from mailcore.inbound.headers import Headers, unfold
from mailcore.inbound.htmltext import html_to_text
from mailcore.inbound.report_parts import ReportParts, report_parts
from mailcore.inbound.ses import SES_SENDERS, ses_complaint, ses_notice

__all__ = ["AutoVerdict", "auto_reply_reason", "read_automatic"]


@dataclass(frozen=True)
class AutoVerdict:
    """What `read_automatic` found: nothing (kind None), or the kind, the reason and records."""

    kind: AutoKind | None = None
    reason: str | None = None
    bounce: BounceReport | None = None
    feedback: FeedbackReport | None = None


def auto_reply_reason(
    msg: Message, raw: dict[str, list[str]], headers: Headers, has_dsn: bool
) -> str | None:
    """Why `msg` is an automatic message (bounce, receipt, out-of-office...), or None."""
    return read_automatic(msg, raw, headers, has_dsn).reason


def read_automatic(
    msg: Message,
    raw: dict[str, list[str]],
    headers: Headers,
    has_dsn: bool,
    scheme: IdentScheme = DEFAULT_SCHEME,
) -> AutoVerdict:
    """The automatic-mail verdict of `msg`; `raw` holds its raw headers by lowercase name."""
    report = str(msg.get_param("report-type") or "").lower() if msg.is_multipart() else ""
    is_report = msg.get_content_type() == "multipart/report" or has_dsn
    if is_report and report == "disposition-notification":
        reason = "read receipt (multipart/report; report-type=disposition-notification)"
        return AutoVerdict(AutoKind.OTHER, reason)
    signs = _Signs(msg, raw, headers)
    if is_report or signs.system:
        found = _report(msg, headers, signs, report, scheme)
        if found is not None:
            return found
    if is_report:  # another report type (TLS-RPT...): automatic all the same
        kind = report or "delivery-status"
        return AutoVerdict(AutoKind.OTHER, f"report (multipart/report; report-type={kind})")
    return _auto_reply(raw, headers, signs)


class _Signs:
    """The header signs of an automatic message, read once."""

    def __init__(self, msg: Message, raw: dict[str, list[str]], headers: Headers) -> None:
        self.auto_submitted = (headers.auto_submitted or "").strip()
        auto = self.auto_submitted.lower().split(";")[0].split("(")[0].strip()
        self.auto_kind = "" if auto == "no" else auto
        self._raw, self._headers = raw, headers
        self.sender = is_system_sender(headers.from_, headers.from_name)
        self.failed = msg.get("X-Failed-Recipients") is not None
        self.ndr = msg.get("X-MS-Exchange-Message-Is-Ndr") is not None
        self.ses = headers.from_.lower().endswith(SES_SENDERS)  # SES notices by SNS e-mail
        self.subject = bounce_subject(headers.subject)
        self.vacation = vacation_subject(headers.subject, self.header_sign(msg, raw))
        # Worth reading the body for: a bounce subject alone is enough to look (not to decide).
        self.system = self.sender or self.failed or self.ndr or self.subject or self.ses

    # The signs only a bounce is asked for: read when asked (most mail is no bounce).

    @functools.cached_property
    def null_path(self) -> bool:
        raw = self._raw
        return unfold(raw.get("return-path", [""])[0]).strip() in ("<>", "") and (
            "return-path" in raw
        )

    @functools.cached_property
    def daemon(self) -> bool:
        local = self._headers.from_.rsplit("@", 1)[0].lower()
        return self.sender and ("daemon" in local or local in ("mailer", "ndr"))

    @functools.cached_property
    def answered(self) -> bool:
        return answered_subject(self._headers.subject)  # a person's "Re:"/"Fwd:" of one

    @functools.cached_property
    def subject_prefix(self) -> bool:
        return self._headers.subject.strip().lower().startswith(_BOUNCE_PREFIXES)

    def header_sign(self, msg: Message, raw: dict[str, list[str]]) -> bool:
        names = ("x-autoreply", "x-autorespond", "precedence")
        suppress = msg.get("X-Auto-Response-Suppress") is not None  # Exchange's, not in `raw`
        return bool(self.auto_kind) or suppress or any(n in raw for n in names)


def _report(
    msg: Message, headers: Headers, signs: _Signs, report: str, scheme: IdentScheme
) -> AutoVerdict | None:
    parts = report_parts(msg)
    if signs.ses:
        found = _ses(parts, headers, scheme)
        if found is not None:
            return found
    if parts.feedback is not None or report == "feedback-report":
        feedback = feedback_report(parts.feedback or "")
        feedback = link_bounce(feedback, parts.returned, headers, scheme, parts.notice)
        return AutoVerdict(
            AutoKind.FEEDBACK,
            f"feedback report (RFC 5965; feedback-type={feedback.feedback_type})",
            feedback=feedback,
        )
    bounce = _bounce(parts, headers, signs, report)
    if bounce is None:
        return None
    bounce = link_bounce(bounce, parts.returned, headers, scheme, parts.notice)
    if parts.delivery_status or report == "delivery-status":
        kind = report or "delivery-status"
        reason = f"delivery status notification (multipart/report; report-type={kind})"
    else:
        reason = f"bounce from the mail system ({bounce.source}; {_why(signs)})"
    return AutoVerdict(AutoKind.BOUNCE, reason, bounce=bounce)


def _ses(parts: ReportParts, headers: Headers, scheme: IdentScheme) -> AutoVerdict | None:
    bounce = ses_notice(parts.notice)
    if bounce is not None:
        bounce = link_bounce(bounce, None, headers, scheme)
        return AutoVerdict(AutoKind.BOUNCE, "Amazon SES bounce notification", bounce=bounce)
    complaint = ses_complaint(parts.notice)
    if complaint is not None:
        reason = f"Amazon SES complaint notification (feedback-type={complaint.feedback_type})"
        return AutoVerdict(AutoKind.FEEDBACK, reason, feedback=complaint)
    return None


def _bounce(
    parts: ReportParts, headers: Headers, signs: _Signs, report: str
) -> BounceReport | None:
    exclude = {a.lower() for a in (*headers.to, *headers.delivered_to, headers.from_)}
    text = html_to_text(parts.notice) if parts.notice_is_html else parts.notice
    if parts.delivery_status:
        reports = [parse_delivery_status(t) for t in parts.delivery_status[:4]]
        recipients = tuple(r for rep in reports for r in rep.recipients)
        if recipients:
            first = reports[0]
            defects = tuple(d for rep in reports for d in rep.defects)
            return BounceReport(recipients, "rfc3464", first.reporting_mta, defects=defects)
        return text_bounce(text, family(text) or "rfc3464", exclude)
    if signs.vacation is not None and not signs.failed and not signs.ndr:
        return None  # an out-of-office reply from a postmaster address is still one
    name = family(text)
    decided = (
        report == "delivery-status"
        or signs.daemon
        or (signs.sender and (name is not None or signs.subject or signs.null_path))
        or signs.failed
        or signs.ndr
        or signs.subject_prefix
        # A bounce's subject and an MTA's sentence decide from any sender (some MTAs send from
        # the original address); when the subject answers or forwards one ("Re: Undeliverable"),
        # only if the notice opens the mail: a person writes before what they pass on.
        or (signs.subject and name is not None and (not signs.answered or _opens(text)))
        or (name is not None and name != "generic" and (signs.null_path or bool(signs.auto_kind)))
    )
    return text_bounce(text, name or "generic", exclude) if decided else None


def _opens(text: str) -> bool:
    """Whether an MTA's fixed sentence comes before anything quoted or passed on in `text`
    (a ``>`` line, a dashed separator, a forward or original-message header): it is then the
    notice itself, not a copy a person quotes below their own words."""
    own: list[str] = []
    for line in text[:MAX_OWN_CHARS].splitlines():
        low = line.lstrip().lower()
        if low.startswith((">", "-----", "_____")) or any(m in low for m in _PASSED_ON):
            break
        own.append(line)
    return family("\n".join(own)) is not None


MAX_OWN_CHARS = 4000
_PASSED_ON = ("forwarded message", "original message", "message d'origine", "ursprüngliche")


# Subjects that are a delivery report's on their own, whoever sent it (mailcore's earlier list).
_BOUNCE_PREFIXES = (
    "undeliverable:",
    "undelivered mail returned to sender",
    "delivery status notification (failure)",
    "mail delivery failed",
    "non remis :",
    "unzustellbar:",
)


def _why(signs: _Signs) -> str:
    if signs.failed:
        return "X-Failed-Recipients"
    if signs.ndr:
        return "X-MS-Exchange-Message-Is-Ndr"
    if signs.sender:
        return "MAILER-DAEMON or postmaster sender"
    if signs.null_path:
        return "delivery-report subject, null Return-Path"
    return "delivery-report subject"


def _auto_reply(raw: dict[str, list[str]], headers: Headers, signs: _Signs) -> AutoVerdict:
    vacation = signs.vacation
    if signs.auto_kind:
        kind = (
            AutoKind.VACATION if signs.auto_kind == "auto-replied" or vacation else AutoKind.OTHER
        )
        return AutoVerdict(kind, f"Auto-Submitted: {signs.auto_submitted}")
    for name in ("x-autoreply", "x-autorespond", "x-autogenerated", "x-auto-response"):
        if name in raw:
            value = unfold(raw[name][0]).strip()
            if value.lower() not in ("no", "false", "0"):
                kind = (
                    AutoKind.OTHER
                    if name == "x-autogenerated" and not vacation
                    else AutoKind.VACATION
                )
                return AutoVerdict(kind, f"{_display(name)}: {value}")
    precedence = unfold(raw.get("precedence", [""])[0]).strip().lower()
    if precedence in ("auto_reply", "bulk", "junk"):
        kind = AutoKind.VACATION if precedence == "auto_reply" or vacation else AutoKind.OTHER
        return AutoVerdict(kind, f"Precedence: {precedence}")
    if vacation is not None:
        language, words = vacation
        return AutoVerdict(
            AutoKind.VACATION,
            f"automatic reply subject ({language}: {words!r}): {headers.subject.strip()[:80]}",
        )
    return AutoVerdict()


def _display(name: str) -> str:
    return "-".join(w.capitalize() for w in name.split("-"))
