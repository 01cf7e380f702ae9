"""The failed mailbox: list, side-by-side detail, correct (payload, handler, identifier) and
re-submit, re-run, reject.

Views only translate HTTP to Engine calls (through `services()`) and pick a template; the
presentation helpers live in console.presenters and console.mailview; what every folder shares
(the list, the read-only detail, taking back a rejected mail, "Today") in console.folders,
whose blueprint is registered with this one.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, flash, render_template, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from console import folders, mailbox_choice
from console.downloads import content_disposition
from console.folders import go as _go
from console.folders import is_htmx as _htmx
from console.forms import BulkForm, PayloadForm, RejectForm, RerunForm, choices
from console.mailbox_choice import chosen, chosen_uids, current_engine, current_registry
from console.mailview import frame_document, safe_html
from console.presenters import (
    SYNTAXES,
    PayloadSyntaxError,
    dump_payload,
    field_rows,
    parse_payload,
    set_choices,
)
from console.roles import role_required
from console.services import services
from console.timeline import diff_lines
from console.translations import status_name
from mailcore.errors import MailcoreError, PayloadInvalid
from mailcore.processing.vocabulary import EventKind, SchemaError, Status

log = logging.getLogger(__name__)

bp = Blueprint("operator", __name__, url_prefix="/failed")
mailbox_choice.install(bp)  # ?mailbox=NAME, kept in the links (several mailboxes)

# Attachments the browser may show inline; anything else is only downloaded.
PREVIEWABLE = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"}
MAIL_FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; "
    "form-action 'none'; base-uri 'none'; sandbox"
)
RAW_LIMIT = 2 * 1024 * 1024
# Identifiers a handler may offer for one mail (its `candidates` hook), at most.
MAX_CANDIDATES = 12


@bp.record_once
def _with_folders(state: BlueprintSetupState) -> None:
    state.app.register_blueprint(folders.bp)


@bp.route("/")
@role_required("operator")
def failed_list() -> ResponseReturnValue:
    return folders.list_view("failed")


@bp.route("/rerun", methods=["POST"])
@role_required("operator")
def bulk_rerun() -> ResponseReturnValue:
    form = BulkForm()
    if not form.validate_on_submit():
        abort(400)
    ticked = chosen_uids(request.form.getlist("uid"))
    uids = [u for group in ticked.values() for u in group]
    if not uids:
        flash(_("Select at least one message to re-run."), "warning")
        return _go("operator.failed_list")
    outcomes = [
        o
        for name, group in ticked.items()
        for o in services().engine_for(name).rerun(group, by=current_user.username)
    ]
    done = sum(1 for o in outcomes if o.status == Status.PROCESSED)
    still = [o for o in outcomes if o.status == Status.FAILED]
    other = len(outcomes) - done - len(still)
    parts = [_("%(num)d processed", num=done)]
    if still:
        parts.append(_("%(num)d still failing", num=len(still)))
    if other:
        parts.append(_("%(num)d filed elsewhere", num=other))
    flash(
        ngettext(
            "Re-run of %(num)d message: %(what)s.",
            "Re-run of %(num)d messages: %(what)s.",
            len(uids),
            what=", ".join(parts),
        ),
        "success" if not still else "warning",
    )
    return _go("operator.failed_list")


# -- one message ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """What the operator's editor holds: the payload text and its format, the handler and the
    identifier (None: as the mail was routed)."""

    text: str
    syntax: str = "json"
    handler: str | None = None
    identifier: str | None = None

    @classmethod
    def posted(cls) -> Edit:
        syntax = request.form.get("syntax", "json")
        return cls(
            request.form.get("payload", ""),
            syntax if syntax in SYNTAXES else "json",
            request.form.get("handler", "").strip() or None,
            " ".join(request.form.get("identifier", "").split())[:200] or None,
        )


def _inspect(uid: int, *, confirm: bool = True, folder: str = "failed") -> Any:
    """Message `uid` of `folder` (404 when gone); `confirm=False` for views that change nothing
    and may show what was read a moment ago (the engine keeps it)."""
    return folders.inspect_in(folder, uid, confirm=confirm)


def current_identifier(inspection: Any) -> str | None:
    """The identifier a failed mail is for now: an operator's correction, else the mail's."""
    state = services().history.state(inspection.message_key)
    if state is not None and state.identifier:
        return str(state.identifier)
    return inspection.extraction.identifier


def _schema(handler: str | None) -> dict[str, Any] | None:
    registry = current_registry()
    return registry.get(handler).schema if handler and handler in registry else None


def _candidates(uid: int, handler: str | None, identifier: str | None) -> list[Any]:
    """The identifiers the handler offers for this mail (none without a handler)."""
    if not handler:
        return []
    try:
        found = current_engine().candidates(uid, handler, identifier)
    except (MailcoreError, KeyError, LookupError) as exc:
        log.info("candidates of %s for %s: %s", handler, uid, exc)
        return []
    return list(found)[:MAX_CANDIDATES]


def _editor_context(
    inspection: Any,
    edit: Edit | None = None,
    *,
    errors: Sequence[SchemaError | tuple[str, str]] | None = None,
    payload: dict[str, Any] | None = None,
    syntax_error: PayloadSyntaxError | None = None,
    outcome: Any = None,
) -> dict[str, Any]:
    if edit is None:
        payload = inspection.payload or {} if payload is None else payload
        edit = Edit(
            dump_payload(payload), "json", inspection.handler, current_identifier(inspection)
        )
    form = PayloadForm()
    form.handler.choices = choices(_("(route as received)"), current_registry().names())
    form.handler.data = edit.handler or ""
    form.identifier.data = edit.identifier or ""
    form.syntax.data = edit.syntax
    form.payload.data = edit.text
    if errors is None:
        errors = list(inspection.errors)
    handler = edit.handler or inspection.handler
    rows, general = (
        field_rows(payload, errors, _schema(handler)) if syntax_error is None else ([], [])
    )
    return {
        "m": inspection,
        "uid": inspection.uid,
        "form": form,
        "syntax": edit.syntax,
        "rows": rows,
        "general_errors": general,
        "syntax_error": syntax_error,
        "outcome": outcome,
        "valid": syntax_error is None and not errors,
        "editable": True,
        "candidates": _candidates(inspection.uid, handler, edit.identifier),
    }


def detail_context(inspection: Any, folder: str = "failed") -> dict[str, Any]:
    """What the detail page of a message shows: both sides, its timeline; for a failed mail
    the editor, for the others what was understood, read-only."""
    extraction = inspection.extraction
    timeline = [
        (e, diff_lines(e.before, e.after) if e.kind == EventKind.CORRECTED else [])
        for e in services().history.timeline(inspection.message_key)
    ]
    blocked = (
        safe_html(extraction.html, _inline_parts(extraction)).blocked if extraction.html else []
    )
    context: dict[str, Any] = {
        "x": extraction,
        "attachments": list(enumerate(extraction.attachments)),
        "previewable": PREVIEWABLE,
        "blocked": blocked,
        "timeline": timeline,
        "reject_form": RejectForm(),
        "action_form": RerunForm(),
        "folder": folder,
        "part_args": {} if folder == "failed" else {"folder": folder},
        # which mailbox, shown when there are several
        "mailbox_label": (chosen() or services().mailbox_names[0]) if services().several else None,
    }
    if folder == "failed":
        return {**context, **_editor_context(inspection)}
    rows, general = field_rows(inspection.payload, inspection.errors, inspection.schema)
    return {
        **context,
        "m": inspection,
        "uid": inspection.uid,
        "rows": rows,
        "general_errors": general,
        "editable": False,
        "identifier": current_identifier(inspection),
    }


@bp.route("/<int:uid>")
@role_required("operator")
def detail(uid: int) -> ResponseReturnValue:
    return render_template("operator/detail.html", **detail_context(_inspect(uid)))


def _inline_parts(extraction: Any) -> dict[str, tuple[str, bytes]]:
    return {
        a.content_id.strip("<>"): (a.content_type, a.data())
        for a in extraction.attachments
        if a.content_id and a.content_type.lower().startswith("image/")
    }


def _part_folder() -> str:
    """The folder key of a mail part's request (the parts of every folder are served here)."""
    return request.args.get("folder", "failed")


@bp.route("/<int:uid>/html")
@role_required("operator")
def html_frame(uid: int) -> ResponseReturnValue:
    extraction = _inspect(uid, folder=_part_folder()).extraction
    if not extraction.html:
        abort(404)
    document = frame_document(safe_html(extraction.html, _inline_parts(extraction)))
    response = Response(document, mimetype="text/html")
    response.headers["Content-Security-Policy"] = MAIL_FRAME_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:uid>/raw")
@role_required("operator")
def raw(uid: int) -> ResponseReturnValue:
    folder = _part_folder()
    inspection = _inspect(uid, folder=folder)
    if _htmx():
        source = inspection.raw[:RAW_LIMIT].decode("utf-8", errors="replace")
        return render_template(
            "operator/_raw.html",
            source=source,
            truncated=len(inspection.raw) > RAW_LIMIT,
            uid=uid,
            part_args={} if folder == "failed" else {"folder": folder},
        )
    response = Response(inspection.raw, mimetype="text/plain")
    response.headers["Content-Disposition"] = content_disposition(f"{folder}-{uid}.eml")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.route("/<int:uid>/attachments/<int:index>")
@role_required("operator")
def attachment(uid: int, index: int) -> ResponseReturnValue:
    attachments = _inspect(uid, folder=_part_folder()).extraction.attachments
    if not 0 <= index < len(attachments):
        abort(404)
    part = attachments[index]
    ctype = (part.content_type or "application/octet-stream").lower()
    inline = request.args.get("inline") == "1" and ctype in PREVIEWABLE
    response = Response(part.data(), mimetype=ctype if inline else "application/octet-stream")
    # The name is the sender's: any Unicode, quotes, CR/LF (see console.downloads).
    response.headers["Content-Disposition"] = content_disposition(
        part.filename, inline=inline, default=f"part-{index}"
    )
    # Served from our origin: never let a part run script here, even if opened directly.
    csp = "default-src 'none'; frame-ancestors 'self'"
    response.headers["Content-Security-Policy"] = (
        csp if ctype == "application/pdf" else csp + "; sandbox"
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/<int:uid>/validate", methods=["POST"])
@role_required("operator")
def validate(uid: int) -> ResponseReturnValue:
    """Live validation as the operator types: the errors panel only."""
    inspection = _inspect(uid, confirm=False)
    return render_template("operator/_validation.html", **_checked(inspection, Edit.posted()))


def _checked(inspection: Any, edit: Edit) -> dict[str, Any]:
    try:
        payload = parse_payload(edit.text, edit.syntax)
    except PayloadSyntaxError as exc:
        return _editor_context(inspection, edit, syntax_error=exc, errors=[])
    errors = current_engine().validate(edit.handler or inspection.handler, payload)
    return _editor_context(inspection, edit, errors=errors, payload=payload)


@bp.route("/<int:uid>/candidates", methods=["POST"])
@role_required("operator")
def candidates(uid: int) -> ResponseReturnValue:
    """The identifiers the chosen handler offers for what the operator typed so far."""
    inspection = _inspect(uid, confirm=False)
    edit = Edit.posted()
    found = _candidates(uid, edit.handler or inspection.handler, edit.identifier)
    return render_template("operator/_candidates.html", candidates=found)


@bp.route("/<int:uid>/convert", methods=["POST"])
@role_required("operator")
def convert(uid: int) -> ResponseReturnValue:
    """Switch the editor between JSON and YAML, keeping the operator's edits."""
    inspection = _inspect(uid, confirm=False)
    edit = Edit.posted()
    source = request.form.get("current_syntax", "json")
    source = source if source in SYNTAXES else "json"
    try:
        payload = parse_payload(edit.text, source)
    except PayloadSyntaxError as exc:
        # Keep the text and the format as they are; say why it cannot be converted.
        kept = dataclasses.replace(edit, syntax=source)
        return render_template(
            "operator/_editor.html",
            **_editor_context(inspection, kept, syntax_error=exc, errors=[]),
        )
    return _rewritten(inspection, edit, payload)


@bp.route("/<int:uid>/choose", methods=["POST"])
@role_required("operator")
def choose(uid: int) -> ResponseReturnValue:
    """A value picked from a field's choices (a schema enum) written into the payload."""
    inspection = _inspect(uid, confirm=False)
    edit = Edit.posted()
    try:
        payload = parse_payload(edit.text, edit.syntax)
    except PayloadSyntaxError as exc:
        return render_template(
            "operator/_editor.html",
            **_editor_context(inspection, edit, syntax_error=exc, errors=[]),
        )
    picked = {k[len("choice.") :]: v for k, v in request.form.items() if k.startswith("choice.")}
    payload = set_choices(payload, picked, _schema(edit.handler or inspection.handler))
    return _rewritten(inspection, edit, payload)


def _rewritten(inspection: Any, edit: Edit, payload: dict[str, Any]) -> ResponseReturnValue:
    """The editor showing `payload`, written out anew in the edit's format, checked."""
    edit = dataclasses.replace(edit, text=dump_payload(payload, edit.syntax))
    errors = current_engine().validate(edit.handler or inspection.handler, payload)
    context = _editor_context(inspection, edit, errors=errors, payload=payload)
    return render_template("operator/_editor.html", **context)


@bp.route("/<int:uid>/resubmit", methods=["POST"])
@role_required("operator")
def resubmit(uid: int) -> ResponseReturnValue:
    inspection = _inspect(uid)
    edit = Edit.posted()
    try:
        payload = parse_payload(edit.text, edit.syntax)
    except PayloadSyntaxError as exc:
        return _editor_response(_editor_context(inspection, edit, syntax_error=exc, errors=[]))
    try:
        outcome = current_engine().resubmit(
            uid, payload, by=current_user.username, handler=edit.handler, identifier=edit.identifier
        )
    except PayloadInvalid as exc:
        return _editor_response(
            _editor_context(inspection, edit, errors=exc.errors, payload=payload)
        )
    except MailcoreError as exc:
        context = _editor_context(inspection, edit, payload=payload)
        context["outcome_error"] = str(exc)
        return _editor_response(context)
    if outcome.status == Status.PROCESSED:
        flash(
            _(
                "Message %(uid)s re-submitted and processed by %(handler)s: it is now in"
                " Processed.",
                uid=uid,
                handler=outcome.handler,
            ),
            "success",
        )
        return _go("operator.failed_list")
    if outcome.status != Status.FAILED:
        flash(
            _(
                "Message %(uid)s re-submitted: filed as %(status)s.",
                uid=uid,
                status=status_name(outcome.status),
            ),
            "info",
        )
        return _go("operator.failed_list")
    context = _editor_context(
        inspection, edit, errors=list(outcome.errors), payload=payload, outcome=outcome
    )
    return _editor_response(context)


def _editor_response(context: dict[str, Any]) -> ResponseReturnValue:
    """A refused re-submission: the editor again (htmx swaps only 2xx: it gets a 200)."""
    if _htmx():
        return render_template("operator/_editor.html", **context), 200
    page = {**detail_context(context["m"]), **context}
    return render_template("operator/detail.html", **page), 422


@bp.route("/<int:uid>/rerun", methods=["POST"])
@role_required("operator")
def rerun(uid: int) -> ResponseReturnValue:
    """Run the handler again on the message as received (e.g. after fixing the back-end)."""
    _inspect(uid)
    outcome = current_engine().rerun([uid], by=current_user.username)[0]
    if outcome.status == Status.FAILED:
        flash(_("Message %(uid)s still fails: %(why)s", uid=uid, why=outcome.reason), "warning")
        return _go("operator.detail", uid=uid)
    flash(
        _("Message %(uid)s re-run: %(status)s.", uid=uid, status=status_name(outcome.status)),
        "success",
    )
    return _go("operator.failed_list")


@bp.route("/<int:uid>/reject", methods=["POST"])
@role_required("operator")
def reject(uid: int) -> ResponseReturnValue:
    inspection = _inspect(uid)
    form = RejectForm()
    if not form.validate_on_submit():
        if _htmx():
            return render_template("operator/_reject.html", reject_form=form, uid=uid)
        flash(_("Not rejected: %(why)s", why="; ".join(map(str, form.note.errors))), "warning")
        return _go("operator.detail", uid=uid)
    current_engine().reject(inspection.uid, form.note.data or "", by=current_user.username)
    flash(_("Message %(uid)s rejected.", uid=uid), "success")
    return _go("operator.failed_list")
