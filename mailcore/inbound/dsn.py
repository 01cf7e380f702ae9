"""RFC 3464 delivery-status and RFC 5965 feedback-report bodies: field blocks -> records.

Both are blocks of header-like fields separated by blank lines (one per-message block, then one
per recipient). `field_blocks` reads them in one pass under fixed budgets (bytes, lines, line
length, blocks), so a hostile report of any size or recipient count costs linear time.
"""

from __future__ import annotations

from mailcore.inbound.automatic import BounceReport, FeedbackReport, RecipientReport
from mailcore.inbound.bounce_reasons import classify

__all__ = ["MAX_RECIPIENTS", "feedback_report", "field_blocks", "parse_delivery_status"]

MAX_REPORT_CHARS = 256 * 1024  # more is not a report any MTA writes: the rest is ignored
MAX_RECIPIENTS = 200  # records kept per bounce; the count beyond is noted as a defect
MAX_FIELD_CHARS = 2000  # one field's value, continuation lines included

Block = dict[str, list[str]]


def field_blocks(text: str, max_blocks: int = MAX_RECIPIENTS + 1) -> tuple[list[Block], int]:
    """The field blocks of `text` (lowercase names -> values) and how many were left out."""
    blocks: list[Block] = []
    current: Block = {}
    name: str | None = None
    dropped = 0
    for line in text[:MAX_REPORT_CHARS].splitlines():
        if not line.strip():
            if current:
                if len(blocks) < max_blocks:
                    blocks.append(current)
                else:
                    dropped += 1
            current, name = {}, None
            continue
        if line[0] in " \t" and name is not None:
            values = current[name]
            if len(values[-1]) < MAX_FIELD_CHARS:
                values[-1] = (values[-1] + " " + line.strip())[:MAX_FIELD_CHARS]
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip() or " " in key.strip():
            name = None
            continue
        name = key.strip().lower()
        current.setdefault(name, []).append(value.strip()[:MAX_FIELD_CHARS])
    if current:
        if len(blocks) < max_blocks:
            blocks.append(current)
        else:
            dropped += 1
    return blocks, dropped


def _first(block: Block, name: str) -> str | None:
    values = block.get(name)
    return values[0] if values and values[0] else None


def _typed(value: str | None) -> str | None:
    """``rfc822; user@host`` -> ``user@host`` (the address-type is dropped)."""
    if value is None:
        return None
    kind, sep, rest = value.partition(";")
    found = (rest if sep else kind).strip().strip("<>").strip()
    return found or None


def _status(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.split()[0].strip("();,") if value.split() else ""
    parts = code.split(".")
    if len(parts) == 3 and parts[0] in ("2", "4", "5") and all(p.isdigit() for p in parts[1:]):
        return code
    return None


def parse_delivery_status(text: str) -> BounceReport:
    """A message/delivery-status body -> its per-recipient records (RFC 3464 section 2)."""
    blocks, dropped = field_blocks(text)
    defects = (f"{dropped} more recipient records ignored",) if dropped else ()
    head: Block = {}
    if blocks and "final-recipient" not in blocks[0] and "original-recipient" not in blocks[0]:
        head = blocks.pop(0)
    records = []
    for block in blocks[:MAX_RECIPIENTS]:
        final = _typed(_first(block, "final-recipient")) or _typed(
            _first(block, "original-recipient")
        )
        if final is None:
            continue
        action = (_first(block, "action") or "").lower() or None
        status = _status(_first(block, "status"))
        diagnostic = _typed_text(_first(block, "diagnostic-code"))
        severity, reason = classify(status, diagnostic, action)
        records.append(
            RecipientReport(
                final_recipient=final,
                original_recipient=_typed(_first(block, "original-recipient")),
                action=action,
                status=status,
                diagnostic=diagnostic,
                remote_mta=_typed(_first(block, "remote-mta")),
                severity=severity,
                reason=reason,
            )
        )
    return BounceReport(
        recipients=tuple(records),
        source="rfc3464",
        reporting_mta=_typed(_first(head, "reporting-mta")),
        defects=defects,
    )


def _typed_text(value: str | None) -> str | None:
    """``smtp; 550 5.1.1 ...`` -> ``550 5.1.1 ...``: the diagnostic without its type."""
    if value is None:
        return None
    kind, sep, rest = value.partition(";")
    if sep and " " not in kind.strip():
        return rest.strip() or None
    return value.strip() or None


def feedback_report(text: str) -> FeedbackReport:
    """A message/feedback-report body -> its fields (RFC 5965 section 3)."""
    blocks, _ = field_blocks(text, max_blocks=4)
    fields: Block = {}
    for block in blocks:
        for name, values in block.items():
            fields.setdefault(name, []).extend(values)
    rcpts = tuple(v for v in (_typed(x) for x in fields.get("original-rcpt-to", [])[:50]) if v)
    domains = tuple(v for v in fields.get("reported-domain", [])[:20] if v)
    return FeedbackReport(
        feedback_type=(_first(fields, "feedback-type") or "other").lower(),
        user_agent=_first(fields, "user-agent"),
        version=_first(fields, "version"),
        original_mail_from=_typed(_first(fields, "original-mail-from")),
        original_rcpt_to=rcpts,
        source_ip=_first(fields, "source-ip"),
        arrival_date=_first(fields, "arrival-date") or _first(fields, "received-date"),
        reporting_mta=_typed(_first(fields, "reporting-mta")),
        reported_domain=domains,
    )
