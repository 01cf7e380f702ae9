"""/api/v1/mail: every folder's list and messages, and the failed mail's actions (validate,
re-submit, re-run, reject; take a rejected mail back) -- the operator's console as JSON, over
the same functions as its pages (console.folders, console.operator, the Engine)."""

from __future__ import annotations

from typing import Any

from console import folders, mailbox_choice, operator
from console.api import convert
from console.api.auth import actor, require
from console.api.errors import ApiError, blueprint, within
from console.api.schemas import (
    BulkRerunIn,
    ListArgs,
    MailboxArg,
    MailDetail,
    MailPage,
    NoteIn,
    OutcomeOut,
    OutcomesOut,
    ResubmitIn,
    TodayOut,
    ValidateIn,
    ValidationOut,
)
from console.mailbox_choice import chosen_uids, current_engine
from console.services import services
from mailcore.errors import MailcoreError, PayloadInvalid

blp = blueprint(
    "api_mail", __name__, url_prefix="/api/v1/mail", description="Mail in every folder (operator)"
)
mailbox_choice.install(blp)  # ?mailbox=NAME, as on the console's pages
FOLDER = {
    "in": "path",
    "name": "folder",
    "required": True,
    "schema": {"type": "string", "enum": list(folders.FOLDERS)},
}


def _folder(key: str) -> str:
    if key not in folders.FOLDERS:
        raise ApiError(404, f"no folder {key!r}: one of {', '.join(folders.FOLDERS)}")
    return key


@blp.route("/<folder>/", parameters=[FOLDER])
@require("operator")
@blp.arguments(ListArgs, location="query")
@blp.response(200, MailPage)
def list_mail(args: dict[str, Any], folder: str) -> dict[str, Any]:
    """A page of a folder, newest first, filtered like the console's list."""
    filters = {
        k: args[k].strip() for k in ("sender", "reason", "handler") if args.get(k, "").strip()
    }
    page = folders.folder_page(_folder(folder), args["page"], args["per_page"], filters)
    pages = max(1, -(-page.total // page.per_page))
    items = [convert.listed(i) for i in page.items]
    return {"items": items, "total": page.total, "page": page.page, "per_page": page.per_page,
            "pages": pages}  # fmt: skip


@blp.route("/<folder>/<int:uid>", parameters=[FOLDER])
@require("operator")
@blp.arguments(MailboxArg, location="query")
@blp.response(200, MailDetail)
def show(_args: dict[str, Any], folder: str, uid: int) -> dict[str, Any]:
    """One message: what was understood (the extraction), its payload and errors, its
    timeline."""
    m = folders.inspect_in(_folder(folder), within(uid, 2**32, "message"))
    timeline = services().history.timeline(m.message_key)
    return {
        "uid": m.uid,
        "folder": folder,
        "message_key": m.message_key,
        "handler": m.handler,
        "reason": m.reason,
        "failure": m.failure,
        "identifier": operator.current_identifier(m),
        "payload": m.payload,
        "errors": convert.schema_errors(m.errors),
        "extraction": m.extraction.to_json(),
        "timeline": [convert.event(e) for e in timeline],
    }


@blp.post("/failed/<int:uid>/validate")
@require("operator")
@blp.arguments(MailboxArg, location="query")
@blp.arguments(ValidateIn)
@blp.response(200, ValidationOut)
def validate(_args: dict[str, Any], body: dict[str, Any], uid: int) -> dict[str, Any]:
    """Check a payload against the handler's schema, changing nothing."""
    m = folders.inspect_in("failed", within(uid, 2**32, "message"), confirm=False)
    errors = current_engine().validate(body.get("handler") or m.handler, body["payload"])
    return {"valid": not errors, "errors": convert.schema_errors(errors)}


@blp.post("/failed/<int:uid>/resubmit")
@require("operator")
@blp.arguments(MailboxArg, location="query")
@blp.arguments(ResubmitIn)
@blp.response(200, OutcomeOut)
def resubmit(_args: dict[str, Any], body: dict[str, Any], uid: int) -> dict[str, Any]:
    """Re-submit a failed mail with a corrected payload (and handler, identifier); an invalid
    payload is refused (422, its errors in fields)."""
    folders.inspect_in("failed", within(uid, 2**32, "message"))
    try:
        outcome = current_engine().resubmit(
            uid, body["payload"], by=actor(), handler=body.get("handler"),
            identifier=body.get("identifier"),
        )  # fmt: skip
    except PayloadInvalid as exc:
        fields: dict[str, list[str]] = {}
        for e in convert.schema_errors(exc.errors):
            fields.setdefault(f"payload{e['path'].lstrip('$')}", []).append(e["message"])
        raise ApiError(422, str(exc), code="payload_invalid", fields=fields) from None
    except MailcoreError as exc:
        raise ApiError(409, str(exc), code="not_resubmitted") from None
    return convert.outcome(outcome)


@blp.post("/failed/<int:uid>/rerun")
@require("operator")
@blp.arguments(MailboxArg, location="query")
@blp.response(200, OutcomeOut)
def rerun(_args: dict[str, Any], uid: int) -> dict[str, Any]:
    """Run the handler again on the mail as received."""
    folders.inspect_in("failed", within(uid, 2**32, "message"))
    return convert.outcome(current_engine().rerun([uid], by=actor())[0])


@blp.post("/failed/rerun")
@require("operator")
@blp.arguments(BulkRerunIn)
@blp.response(200, OutcomesOut)
def bulk_rerun(body: dict[str, Any]) -> dict[str, Any]:
    """Re-run several failed mails ("42", or "orders:42" for another mailbox's, as the list's
    ticks)."""
    prefix = f"{body['mailbox']}:" if body.get("mailbox") else ""
    ticked = chosen_uids([f"{prefix}{u}" for u in body["uids"]])
    outcomes = [
        o
        for name, group in ticked.items()
        for o in services().engine_for(name).rerun(group, by=actor())
    ]
    return {"outcomes": [convert.outcome(o) for o in outcomes]}


@blp.post("/failed/<int:uid>/reject")
@require("operator")
@blp.arguments(MailboxArg, location="query")
@blp.arguments(NoteIn)
@blp.response(200, OutcomeOut)
def reject(_args: dict[str, Any], body: dict[str, Any], uid: int) -> dict[str, Any]:
    """Reject a failed mail with a note (it moves to the rejected folder)."""
    m = folders.inspect_in("failed", within(uid, 2**32, "message"))
    return convert.outcome(current_engine().reject(m.uid, body["note"], by=actor()))


@blp.post("/rejected/<int:uid>/undo")
@require("operator")
@blp.arguments(MailboxArg, location="query")
@blp.arguments(NoteIn)
@blp.response(200, OutcomeOut)
def undo_reject(_args: dict[str, Any], body: dict[str, Any], uid: int) -> dict[str, Any]:
    """Take a rejected mail back to failed, with a note."""
    folders.inspect_in("rejected", within(uid, 2**32, "message"))
    try:
        outcome = current_engine().unreject(uid, body["note"], by=actor())
    except MailcoreError as exc:
        raise ApiError(409, str(exc), code="not_taken_back") from None
    return convert.outcome(outcome)


@blp.get("/today")
@require("operator")
@blp.response(200, TodayOut)
def today() -> dict[str, Any]:
    """What this token did since midnight (UTC), one row per message."""
    rows, truncated = folders.today_rows(actor())
    out = [
        {
            "message_key": r["key"],
            "status": str(r["state"].status) if r["state"] and r["state"].status else None,
            "folder": r["folder"],
            "subject": r["state"].subject if r["state"] else None,
            "steps": [convert.event(s.event) for s in r["steps"]],
        }
        for r in rows
    ]
    return {"rows": out, "truncated": truncated}
