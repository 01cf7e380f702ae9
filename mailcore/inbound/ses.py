"""Amazon SES bounce and complaint notices delivered by e-mail (an SNS e-mail subscription).

The body is the notification's JSON (``{"notificationType": "Bounce", "bounce": {...}}``),
possibly wrapped in SNS's envelope (``{"Type": "Notification", "Message": "<json>"}``), then
SNS's unsubscribe footer. `ses_notice` reads it with the payload parser's budgets
(`mailcore.inbound.payload.load_json`): a notice is data from outside like any payload.
"""

from __future__ import annotations

from typing import Any

from mailcore.inbound.automatic import BounceReport, FeedbackReport, RecipientReport, Severity
from mailcore.inbound.bounce_reasons import classify
from mailcore.inbound.dsn import MAX_RECIPIENTS
from mailcore.inbound.payload import PayloadTooLarge, load_json

__all__ = ["SES_SENDERS", "ses_complaint", "ses_notice"]

SES_SENDERS = ("sns.amazonaws.com", "amazonses.com")
_MAX_CHARS = 256 * 1024


def ses_notice(text: str) -> BounceReport | None:
    """The bounce an SES notification in `text` reports, or None when it holds none."""
    data = _notification(text[:_MAX_CHARS])
    if not isinstance(data, dict) or str(data.get("notificationType", "")).lower() != "bounce":
        return None
    bounce = data.get("bounce")
    if not isinstance(bounce, dict):
        return None
    permanent = str(bounce.get("bounceType", "")).lower() == "permanent"
    records = []
    for item in (bounce.get("bouncedRecipients") or [])[:MAX_RECIPIENTS]:
        if isinstance(item, dict) and isinstance(item.get("emailAddress"), str):
            records.append(_record(item, permanent))
    mail = _dict(data.get("mail"))
    message_id = _header(mail, "message-id")
    return BounceReport(
        recipients=tuple(records),
        source="amazon-ses",
        reporting_mta=_str(bounce.get("reportingMTA")),
        original_message_id=message_id,
    )


def ses_complaint(text: str) -> FeedbackReport | None:
    """The complaint an SES notification in `text` reports, or None when it holds none."""
    data = _notification(text[:_MAX_CHARS])
    if not isinstance(data, dict) or str(data.get("notificationType", "")).lower() != "complaint":
        return None
    complaint = _dict(data.get("complaint"))
    rcpts = tuple(
        item["emailAddress"]
        for item in (complaint.get("complainedRecipients") or [])[:50]
        if isinstance(item, dict) and isinstance(item.get("emailAddress"), str)
    )
    mail = _dict(data.get("mail"))
    return FeedbackReport(
        feedback_type=(_str(complaint.get("complaintFeedbackType")) or "abuse").lower(),
        user_agent=_str(complaint.get("userAgent")),
        original_mail_from=_str(mail.get("source")),
        original_rcpt_to=rcpts,
        arrival_date=_str(complaint.get("arrivalDate")),
        original_message_id=_header(mail, "message-id"),
    )


def _record(item: dict[str, Any], permanent: bool) -> RecipientReport:
    status = _str(item.get("status"))
    diagnostic = _str(item.get("diagnosticCode"))
    _, reason = classify(status, diagnostic, _str(item.get("action")))
    return RecipientReport(
        final_recipient=item["emailAddress"],
        action=_str(item.get("action")) or "failed",
        status=status,
        diagnostic=diagnostic,
        severity=Severity.HARD if permanent else Severity.SOFT,
        reason=reason,
    )


def _notification(text: str) -> Any:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = load_json(text[start : end + 1])
        if isinstance(data, dict) and isinstance(data.get("Message"), str):  # SNS's envelope
            data = load_json(data["Message"])
    except (ValueError, PayloadTooLarge):
        return None
    return data


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value[:2000] if isinstance(value, str) and value else None


def _header(mail: dict[str, Any], name: str) -> str | None:
    common = mail.get("commonHeaders")
    if isinstance(common, dict) and isinstance(common.get("messageId"), str):
        found = common["messageId"].strip()
        return found if found.startswith("<") else f"<{found}>"
    for header in (mail.get("headers") or [])[:200]:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == name:
            return _str(header.get("value"))
    return None
