"""The failed mailbox: list, side-by-side detail, correct and re-submit, re-run, reject.

Views only translate HTTP to Engine calls (through `services()`) and pick a template; the
presentation helpers live in console.presenters and console.mailview.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user

from console.downloads import content_disposition
from console.forms import BulkForm, FilterForm, PayloadForm, RejectForm, RerunForm, choices
from console.mailview import frame_document, safe_html
from console.presenters import (
    SYNTAXES,
    PayloadSyntaxError,
    dump_payload,
    field_rows,
    parse_payload,
)
from console.roles import role_required
from console.services import services
from console.timeline import diff_lines
from mailcore.errors import MailboxError, MailcoreError, PayloadInvalid
from mailcore.processing.vocabulary import SchemaError, Status

log = logging.getLogger(__name__)

bp = Blueprint("operator", __name__, url_prefix="/failed")

# Attachments the browser may show inline; anything else is only downloaded.
PREVIEWABLE = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"}
MAIL_FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; "
    "form-action 'none'; base-uri 'none'; sandbox"
)
RAW_LIMIT = 2 * 1024 * 1024


def _htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _go(endpoint: str, **values: Any) -> ResponseReturnValue:
    """Redirect, the htmx way (full page load, so flashes and the list refresh) or plainly."""
    target = url_for(endpoint, **values)
    if _htmx():
        return Response(status=204, headers={"HX-Redirect": target})
    return redirect(target, code=303)


def _filters() -> dict[str, str]:
    return {k: v for k in ("sender", "reason", "handler") if (v := request.args.get(k, "").strip())}


@bp.route("/")
@role_required("operator")
def failed_list() -> ResponseReturnValue:
    svc = services()
    form = FilterForm(request.args)
    form.handler.choices = choices("All handlers", svc.registry.names())
    filters = _filters()
    page_no = max(request.args.get("page", 1, type=int) or 1, 1)
    per_page = request.args.get("per_page", 0, type=int) or int(current_app.config["PER_PAGE"])
    per_page = min(max(per_page, 1), 200)
    page = svc.engine.failed_page(page_no, per_page, **filters)
    pages = max(math.ceil(page.total / page.per_page), 1) if page.per_page else 1
    context = {
        "page": page,
        "pages": pages,
        "filters": filters,
        "form": form,
        "bulk_form": BulkForm(),
    }
    if _htmx() and request.headers.get("HX-Target") == "results":
        return render_template("operator/_results.html", **context)
    return render_template("operator/list.html", **context)


@bp.route("/rerun", methods=["POST"])
@role_required("operator")
def bulk_rerun() -> ResponseReturnValue:
    form = BulkForm()
    if not form.validate_on_submit():
        abort(400)
    uids = sorted({int(u) for u in request.form.getlist("uid") if u.isdigit()})
    if not uids:
        flash("Select at least one message to re-run.", "warning")
        return _go("operator.failed_list")
    outcomes = services().engine.rerun(uids, by=current_user.username)
    done = sum(1 for o in outcomes if o.status == Status.PROCESSED)
    still = [o for o in outcomes if o.status == Status.FAILED]
    other = len(outcomes) - done - len(still)
    parts = [f"{done} processed"]
    if still:
        parts.append(f"{len(still)} still failing")
    if other:
        parts.append(f"{other} filed elsewhere")
    flash(
        f"Re-run of {len(uids)} message(s): {', '.join(parts)}.",
        "success" if not still else "warning",
    )
    return _go("operator.failed_list")


# -- one message ----------------------------------------------------------------------------


def _inspect(uid: int, *, confirm: bool = True) -> Any:
    """The failed message `uid` (404 when gone); `confirm=False` for views that change nothing
    and may show what was read a moment ago (the engine keeps it)."""
    try:
        return services().engine.inspect(uid, confirm=confirm)
    except (KeyError, LookupError):
        abort(404)
    except MailboxError as exc:
        log.info("inspect %s failed: %s", uid, exc)
        abort(404)


def _editor_context(
    inspection: Any,
    *,
    text: str | None = None,
    syntax: str = "json",
    handler: str | None = None,
    errors: Sequence[SchemaError | tuple[str, str]] | None = None,
    payload: dict[str, Any] | None = None,
    syntax_error: PayloadSyntaxError | None = None,
    outcome: Any = None,
) -> dict[str, Any]:
    svc = services()
    handler = inspection.handler if handler is None else handler
    form = PayloadForm()
    form.handler.choices = choices("(route as received)", svc.registry.names())
    form.handler.data = handler or ""
    form.syntax.data = syntax
    if payload is None and text is None:
        payload = inspection.payload or {}
    form.payload.data = text if text is not None else dump_payload(payload, syntax)
    if errors is None:
        errors = list(inspection.errors)
    rows, general = field_rows(payload, errors) if syntax_error is None else ([], [])
    return {
        "m": inspection,
        "uid": inspection.uid,
        "form": form,
        "syntax": syntax,
        "rows": rows,
        "general_errors": general,
        "syntax_error": syntax_error,
        "outcome": outcome,
        "valid": syntax_error is None and not errors,
    }


@bp.route("/<int:uid>")
@role_required("operator")
def detail(uid: int) -> ResponseReturnValue:
    inspection = _inspect(uid)
    svc = services()
    extraction = inspection.extraction
    timeline = [
        (event, diff_lines(event.before, event.after))
        for event in svc.history.timeline(inspection.message_key)
    ]
    blocked = (
        safe_html(extraction.html, _inline_parts(extraction)).blocked if extraction.html else []
    )
    return render_template(
        "operator/detail.html",
        x=extraction,
        attachments=list(enumerate(extraction.attachments)),
        previewable=PREVIEWABLE,
        blocked=blocked,
        timeline=timeline,
        reject_form=RejectForm(),
        action_form=RerunForm(),
        **_editor_context(inspection),
    )


def _inline_parts(extraction: Any) -> dict[str, tuple[str, bytes]]:
    return {
        a.content_id.strip("<>"): (a.content_type, a.data())
        for a in extraction.attachments
        if a.content_id and a.content_type.lower().startswith("image/")
    }


@bp.route("/<int:uid>/html")
@role_required("operator")
def html_frame(uid: int) -> ResponseReturnValue:
    extraction = _inspect(uid).extraction
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
    inspection = _inspect(uid)
    if _htmx():
        source = inspection.raw[:RAW_LIMIT].decode("utf-8", errors="replace")
        return render_template(
            "operator/_raw.html", source=source, truncated=len(inspection.raw) > RAW_LIMIT, uid=uid
        )
    response = Response(inspection.raw, mimetype="text/plain")
    response.headers["Content-Disposition"] = content_disposition(f"failed-{uid}.eml")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.route("/<int:uid>/attachments/<int:index>")
@role_required("operator")
def attachment(uid: int, index: int) -> ResponseReturnValue:
    attachments = _inspect(uid).extraction.attachments
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


def _read_editor() -> tuple[str, str, str | None]:
    text = request.form.get("payload", "")
    syntax = request.form.get("syntax", "json")
    syntax = syntax if syntax in SYNTAXES else "json"
    handler = request.form.get("handler", "").strip() or None
    return text, syntax, handler


@bp.route("/<int:uid>/validate", methods=["POST"])
@role_required("operator")
def validate(uid: int) -> ResponseReturnValue:
    """Live validation as the operator types: the errors panel only."""
    inspection = _inspect(uid, confirm=False)
    text, syntax, handler = _read_editor()
    context = _checked(inspection, text, syntax, handler)
    return render_template("operator/_validation.html", **context)


def _checked(inspection: Any, text: str, syntax: str, handler: str | None) -> dict[str, Any]:
    try:
        payload = parse_payload(text, syntax)
    except PayloadSyntaxError as exc:
        return _editor_context(
            inspection, text=text, syntax=syntax, handler=handler or "", syntax_error=exc, errors=[]
        )
    errors = services().engine.validate(handler or inspection.handler, payload)
    return _editor_context(
        inspection, text=text, syntax=syntax, handler=handler or "", errors=errors, payload=payload
    )


@bp.route("/<int:uid>/convert", methods=["POST"])
@role_required("operator")
def convert(uid: int) -> ResponseReturnValue:
    """Switch the editor between JSON and YAML, keeping the operator's edits."""
    inspection = _inspect(uid, confirm=False)
    text = request.form.get("payload", "")
    source = request.form.get("current_syntax", "json")
    target = request.form.get("syntax", "json")
    source = source if source in SYNTAXES else "json"
    target = target if target in SYNTAXES else "json"
    handler = request.form.get("handler", "").strip()
    try:
        payload = parse_payload(text, source)
    except PayloadSyntaxError as exc:
        # Keep the text and the format as they are; say why it cannot be converted.
        context = _editor_context(
            inspection, text=text, syntax=source, handler=handler, syntax_error=exc, errors=[]
        )
        return render_template("operator/_editor.html", **context)
    context = _editor_context(inspection, syntax=target, handler=handler, payload=payload)
    return render_template("operator/_editor.html", **context)


@bp.route("/<int:uid>/resubmit", methods=["POST"])
@role_required("operator")
def resubmit(uid: int) -> ResponseReturnValue:
    inspection = _inspect(uid)
    text, syntax, handler = _read_editor()
    try:
        payload = parse_payload(text, syntax)
    except PayloadSyntaxError as exc:
        context = _editor_context(
            inspection, text=text, syntax=syntax, handler=handler or "", syntax_error=exc, errors=[]
        )
        return _editor_response(context, 422)
    try:
        outcome = services().engine.resubmit(
            uid, payload, by=current_user.username, handler=handler
        )
    except PayloadInvalid as exc:
        context = _editor_context(
            inspection,
            text=text,
            syntax=syntax,
            handler=handler or "",
            errors=exc.errors,
            payload=payload,
        )
        return _editor_response(context, 422)
    except MailcoreError as exc:
        context = _editor_context(
            inspection, text=text, syntax=syntax, handler=handler or "", payload=payload
        )
        context["outcome_error"] = str(exc)
        return _editor_response(context, 422)
    if outcome.status == Status.PROCESSED:
        flash(f"Message {uid} re-submitted and processed by {outcome.handler}.", "success")
        return _go("operator.failed_list")
    if outcome.status != Status.FAILED:
        flash(f"Message {uid} re-submitted: filed as {outcome.status}.", "info")
        return _go("operator.failed_list")
    context = _editor_context(
        inspection,
        text=text,
        syntax=syntax,
        handler=handler or "",
        errors=list(outcome.errors),
        payload=payload,
        outcome=outcome,
    )
    return _editor_response(context, 422)


def _editor_response(context: dict[str, Any], status: int) -> ResponseReturnValue:
    if _htmx():
        # htmx swaps only 2xx responses by default; the editor re-renders in place.
        return render_template("operator/_editor.html", **context), 200
    inspection = context["m"]
    extraction = inspection.extraction
    timeline = [
        (e, diff_lines(e.before, e.after))
        for e in services().history.timeline(inspection.message_key)
    ]
    return (
        render_template(
            "operator/detail.html",
            x=extraction,
            attachments=list(enumerate(extraction.attachments)),
            previewable=PREVIEWABLE,
            blocked=[],
            timeline=timeline,
            reject_form=RejectForm(),
            action_form=RerunForm(),
            **context,
        ),
        status,
    )


@bp.route("/<int:uid>/rerun", methods=["POST"])
@role_required("operator")
def rerun(uid: int) -> ResponseReturnValue:
    """Run the handler again on the message as received (e.g. after fixing the back-end)."""
    _inspect(uid)
    outcome = services().engine.rerun([uid], by=current_user.username)[0]
    if outcome.status == Status.FAILED:
        flash(f"Message {uid} still fails: {outcome.reason}", "warning")
        return _go("operator.detail", uid=uid)
    flash(f"Message {uid} re-run: {outcome.status}.", "success")
    return _go("operator.failed_list")


@bp.route("/<int:uid>/reject", methods=["POST"])
@role_required("operator")
def reject(uid: int) -> ResponseReturnValue:
    inspection = _inspect(uid)
    form = RejectForm()
    if not form.validate_on_submit():
        if _htmx():
            return render_template("operator/_reject.html", reject_form=form, uid=uid)
        flash("Not rejected: " + "; ".join(form.note.errors), "warning")
        return _go("operator.detail", uid=uid)
    services().engine.reject(inspection.uid, form.note.data or "", by=current_user.username)
    flash(f"Message {uid} rejected.", "success")
    return _go("operator.failed_list")
