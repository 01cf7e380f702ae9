"""The template editor: subject + Markdown body + sample data, with a live preview of every
alternative partners receive (HTML at desktop and mobile widths, text, JSON, raw MIME).

A template is saved only when it renders cleanly on its sample data; every problem is shown
with its line, next to the field it concerns, while typing. Versions are immutable; any can
be restored or compared. Views stay thin: the store is `mailcore.store.template_store`, the
preview console.template_preview (over `mailcore.outbound.compose.preview`), sample data
console.template_samples, the test send console.template_sending, the forms console.forms.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import escape
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from console.forms import RestoreForm, TemplateForm
from console.roles import role_required
from console.services import services
from console.template_preview import (
    evaluate,
    frames,
    parse_sample,
    problem_source,
    variants_from_form,
)
from console.template_samples import last_payload, sample_for
from console.template_sending import send_test_mail
from mailcore import TEMPLATE_NAME as NAME_RE
from mailcore import (
    TemplateConflict,
    TemplateHasErrors,
    TemplateStore,
    UnknownTemplate,
    language_tag,
)
from mailcore import TemplateProblem as Problem
from mailcore import TemplateVersion as Version
from mailcore.errors import MailcoreError

__all__ = ["bp", "parse_sample"]

log = logging.getLogger(__name__)

bp = Blueprint("authoring", __name__, url_prefix="/templates")
bp.add_app_template_global(problem_source, "problem_source")

ROLES = ("author",)  # admins pass every role check
# The previewed mail runs under its own policy: its inline styles are what partners see, but
# nothing may run or load from elsewhere; `sandbox` repeats the iframe's attribute server-side.
FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)
# Names that would collide with the editor's own pages.
RESERVED = frozenset({"new", "sample", "preview", "save", "test", "frame", "language"})
# What a new template starts from: it renders as it is (a placeholder would need a field the
# handler may not have, an empty subject is refused), so the editor opens without errors.
DEFAULT_SUBJECT = "Update on your file"
DEFAULT_BODY = "Hello,\n\nWrite the message here.\n"
Variants = dict[str, tuple[str, str]]


# -- helpers -------------------------------------------------------------------------------


def _store() -> TemplateStore:
    store = services().templates
    if store is None:
        abort(503)
    return store


def _me() -> str:
    return str(current_user.username)


def _handler_choices() -> list[SelectChoice]:
    try:
        names = list(services().registry.names())
    except Exception:  # no registry configured: templates still work without one
        names = []
    return [SelectChoice("", _("— none —")), *[SelectChoice(n) for n in names]]


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def _form_from_version(version: Version) -> TemplateForm:
    return TemplateForm(
        formdata=None,
        name=version.name,
        handler=version.handler or "",
        subject=version.subject,
        body=version.body,
        sample_data=_dump(version.sample_data),
        base=str(version.number),
    )


def _editor(
    form: TemplateForm,
    current: Version | None,
    status: int = 200,
    refused: list[Problem] | None = None,
    variants: Variants | None = None,
) -> ResponseReturnValue:
    form.handler.choices = _handler_choices()
    variants = _posted_variants() if variants is None else variants
    ev = _evaluate(form, variants)
    user = getattr(current_user, "user", None)
    return (
        render_template(
            "authoring/editor.html",
            form=form,
            ev=ev,
            current=current,
            refused=refused,
            my_email=getattr(user, "email", None),
            variants=variants,
            versions=_store().versions(current.name)[:10] if current else [],
        ),
        status,
    )


# -- views -----------------------------------------------------------------------------


@bp.get("/")
@role_required(*ROLES)
def index() -> ResponseReturnValue:
    """Every template with its latest version."""
    return render_template(
        "authoring/index.html", summaries=_store().summaries(), handlers=_handler_choices()[1:]
    )


@bp.get("/new")
@role_required(*ROLES)
def new() -> ResponseReturnValue:
    """An empty editor; sample data pre-filled from the chosen handler."""
    handler = request.args.get("handler") or ""
    source = request.args.get("sample", "schema")
    form = TemplateForm(
        formdata=None,
        name=request.args.get("name", ""),
        handler=handler,
        subject=DEFAULT_SUBJECT,
        body=DEFAULT_BODY,
        sample_data=_dump(sample_for(handler or None, source)),
        base="0",
    )
    return _editor(form, None)


@bp.get("/<name>")
@role_required(*ROLES)
def edit(name: str) -> ResponseReturnValue:
    """The editor on the latest version (or ?version=N to start from an older one)."""
    store = _store()
    try:
        latest = store.get(name)
        start = store.get(name, _version_arg("version") or latest.number)
    except UnknownTemplate:
        abort(404)
    form = _form_from_version(start)
    form.base.data = str(latest.number)
    return _editor(form, latest, variants=dict(start.variants))


@bp.post("/preview")
@role_required(*ROLES)
def preview() -> ResponseReturnValue:
    """The preview pane for the posted editor state (htmx, on every pause in typing)."""
    ev = _evaluate(TemplateForm(), _posted_variants())
    return render_template("authoring/_preview.html", ev=ev, oob=True)


@bp.post("/language")
@role_required(*ROLES)
def language() -> ResponseReturnValue:
    """Add a language to the editor (a copy of the default to translate) or remove one;
    nothing is saved until Save."""
    form = TemplateForm()
    name = (form.name.data or "").strip()
    current = _store().latest(name) if NAME_RE.match(name) and form.base.data != "0" else None
    variants = _posted_variants()
    removed = request.form.get("remove_language")
    if removed is not None:
        variants.pop(removed, None)
        return _editor(form, current, variants=variants)
    tag = language_tag(request.form.get("new_language", ""))
    if tag is None:
        flash(_("Type a language code such as fr, de or pt-br."), "error")
    elif tag not in variants:
        variants[tag] = (form.subject.data or "", form.body.data or "")
    return _editor(form, current, variants=variants)


def _posted_variants() -> Variants:
    return variants_from_form(request.form) if request.method == "POST" else {}


def _evaluate(form: TemplateForm, variants: Variants) -> Any:
    """The preview of the editor's state, in the language the author picked to preview."""
    return evaluate(
        form.name.data or "",
        form.subject.data or "",
        form.body.data or "",
        form.sample_data.data or "",
        variants,
        request.form.get("preview_language", "") if request.method == "POST" else "",
    )


@bp.get("/sample")
@role_required(*ROLES)
def sample() -> ResponseReturnValue:
    """Sample data for a handler as the editor's textarea (htmx swap)."""
    handler = request.args.get("handler") or None
    source = request.args.get("sample", "schema")
    data = sample_for(handler, source)
    found = source != "history" or (handler is not None and last_payload(handler) is not None)
    html = render_template(
        "authoring/_sample.html", text=_dump(data), source=source, found=found, handler=handler
    )
    # The editor form listens for this to refresh the preview with the new data.
    return html, 200, {"HX-Trigger-After-Settle": "sample-loaded"}


@bp.get("/frame/<key>")
@role_required(*ROLES)
def frame(key: str) -> ResponseReturnValue:
    """The HTML alternative of a preview, served for a sandboxed iframe under its own CSP."""
    html = frames().get(key)
    if html is None:
        html = (
            "<!doctype html><p style='font-family:sans-serif;color:#555'>"
            + escape(_("This preview expired: type in the editor to refresh it."))
            + "</p>"
        )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = FRAME_CSP
    response.headers["Cache-Control"] = "private, max-age=600"
    return response


class SaveRefused(MailcoreError):
    """A version not saved: `status` (422, 409), what is wrong (`problems`, or a `message`
    about `field`)."""

    def __init__(
        self, status: int, message: str, *, problems: list[Problem] | None = None,
        field: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.message, self.problems, self.field = status, message, problems, field


def save_version(
    name: str, subject: str, body: str, sample_text: str, note: str, by: str, *,
    handler: str | None, base: int | None, variants: Variants,
) -> Version:  # fmt: skip
    """Save a new version of `name` if it renders cleanly in every language on its sample
    data (the editor's Save and the API's); SaveRefused says why not. `base`: the version the
    author started from (0: a new template; None: on top of the latest)."""
    store = _store()
    current = store.latest(name) if NAME_RE.match(name) else None
    if name in RESERVED:
        msg = _(
            "%(name)s is reserved for the editor's pages: choose another name.", name=repr(name)
        )
        raise SaveRefused(422, msg, field="name")
    data, problems = parse_sample(sample_text)
    if data is None:
        raise SaveRefused(422, "The sample data is not valid JSON.", problems=problems)
    if current is not None and base == 0:
        # A "new template" form whose name is already taken: do not overwrite silently.
        msg = _(
            "A template named %(name)s already exists: choose another name, or open it to edit it.",
            name=repr(name),
        )
        raise SaveRefused(409, msg, field="name")
    # The preview may know problems the store does not check (composition, headers).
    ev = evaluate(name, subject, body, sample_text, variants)
    if ev.problems:
        raise SaveRefused(422, "Fix the problems listed before saving.", problems=ev.problems)
    try:
        return store.save(
            name, subject, body, data, note, by, handler=handler, base=base or None,
            variants=variants,
        )  # fmt: skip
    except TemplateHasErrors as e:
        raise SaveRefused(422, str(e), problems=e.problems) from None
    except TemplateConflict as e:
        raise SaveRefused(409, str(e)) from None


@bp.post("/save")
@role_required(*ROLES)
def save() -> ResponseReturnValue:
    """Save a new version, or show the editor again with what must be fixed first."""
    form = TemplateForm()
    store = _store()
    name = (form.name.data or "").strip()
    form.name.data = name
    current = store.latest(name) if NAME_RE.match(name) else None
    if not form.validate():
        return _editor(form, current, 422)
    try:
        version = save_version(
            name, form.subject.data or "", form.body.data or "", form.sample_data.data or "",
            (form.note.data or "").strip(), _me(), handler=form.handler.data or None,
            base=int(form.base.data) if (form.base.data or "").isdigit() else None,
            variants=_posted_variants(),
        )  # fmt: skip
    except SaveRefused as e:
        if e.field == "name":
            form.name.errors = [e.message]
        elif e.status == 409:
            flash(e.message, "error")
        return _editor(form, current, e.status, e.problems or None)
    if current is not None and version.number == current.number:
        flash(_("Nothing changed since the last version: nothing saved."), "info")
    else:
        flash(_("Saved %(name)s as version %(n)s.", name=name, n=version.number), "success")
    return redirect(url_for("authoring.edit", name=name))


@bp.post("/test")
@role_required(*ROLES)
def send_test() -> ResponseReturnValue:
    """Send the editor's current state to the author's own address (htmx; result inline)."""
    form = TemplateForm()
    user = getattr(current_user, "user", None)
    to = getattr(user, "email", None)
    if not to:
        return _test_result(
            False,
            _(
                "Your account has no e-mail address to send the test to: ask an admin to add "
                "one on the Users page."
            ),
        )
    name = form.name.data or "preview"
    variants = _posted_variants()
    ev = _evaluate(form, variants)
    if ev.problems or ev.data is None:
        return _test_result(
            False, _("Fix the problems listed in the preview before sending a test.")
        )
    # The language previewed is the one sent.
    subject, body = variants.get(ev.shown, (form.subject.data or "", form.body.data or ""))
    try:
        send_test_mail(name, subject, body, ev.data, to, _me())
    except MailcoreError as e:
        log.warning("test send of %s to %s failed: %s", name, to, e)
        return _test_result(False, str(e))
    log.info("test of template %s sent to %s by %s", name, to, _me())
    return _test_result(True, _("Test sent to %(to)s.", to=to))


def _test_result(ok: bool, message: str) -> ResponseReturnValue:
    return render_template("authoring/_test_result.html", ok=ok, message=message)


@bp.get("/<name>/versions")
@role_required(*ROLES)
def versions(name: str) -> ResponseReturnValue:
    """Every version with who, when and why; restore and compare from here."""
    found = _store().versions(name)
    if not found:
        abort(404)
    return render_template(
        "authoring/versions.html", name=name, versions=found, action_form=RestoreForm()
    )


@bp.get("/<name>/versions/<int:number>")
@role_required(*ROLES)
def show_version(name: str, number: int) -> ResponseReturnValue:
    """One saved version, read-only, with its preview."""
    store = _store()
    try:
        version = store.get(name, number)
    except UnknownTemplate:
        abort(404)
    latest = store.latest(name)
    language = request.args.get("language", "")
    ev = evaluate(
        name, version.subject, version.body, _dump(version.sample_data), version.variants, language
    )
    return render_template(
        "authoring/version.html",
        version=version,
        latest=latest,
        ev=ev,
        sample_text=_dump(version.sample_data),
        action_form=RestoreForm(),
    )


@bp.post("/<name>/versions/<int:number>/restore")
@role_required(*ROLES)
def restore(name: str, number: int) -> ResponseReturnValue:
    """Make an old version current again (as a new version, recorded)."""
    form = RestoreForm()
    if not form.validate():
        abort(400)
    try:
        version = _store().restore(name, number, by=_me())
    except UnknownTemplate:
        abort(404)
    except TemplateHasErrors as e:
        flash(
            _("Version %(n)s cannot be restored as it is: %(why)s", n=number, why=str(e)), "error"
        )
        return redirect(url_for("authoring.versions", name=name))
    flash(_("Version %(n)s restored as version %(m)s.", n=number, m=version.number), "success")
    return redirect(url_for("authoring.versions", name=name))


def _version_arg(key: str) -> int | None:
    """The version number in ?key=, None when absent; 404 when it cannot name a version
    (a huge number would overflow the database's integer and answer 500)."""
    text = request.args.get(key, "")
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 10 and 1 <= int(text) < 2**31):
        abort(404)
    return int(text)


@bp.get("/<name>/diff")
@role_required(*ROLES)
def diff(name: str) -> ResponseReturnValue:
    """The unified diff between two versions (?a=1&b=3; defaults: previous and latest)."""
    store = _store()
    found = store.versions(name)
    if not found:
        abort(404)
    b = _version_arg("b") or found[0].number
    a = _version_arg("a") or max(1, b - 1)
    try:
        text = store.diff(name, a, b)
    except UnknownTemplate:
        abort(404)
    lines = [(line[:1], line) for line in text.splitlines()]
    return render_template("authoring/diff.html", name=name, a=a, b=b, lines=lines, versions=found)
