"""Every folder an operator works with, browsed alike: failed, processed, auto and rejected share
one list (filters, pages), one detail page, and the failed folder adds the editor. A rejected
mail can be taken back to `failed` (with a note, in its timeline); "Today" lists what the
signed-in operator did since midnight (UTC), one row per message.

The failed folder's own views (editor, re-submit, reject) are console.operator's; this module
holds what every folder has, and is registered with the operator blueprint.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, time
from typing import Any

import flask
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from console import mailbox_choice
from console.forms import BulkForm, FilterForm, UndoRejectForm, choices
from console.mailbox_choice import Listed, chosen, current_engine, link_name
from console.roles import role_required
from console.services import services
from console.timeline import TimelineStep
from mailcore.errors import MailboxError, MailcoreError
from mailcore.processing.outcomes import FailedItem, FailedPage
from mailcore.processing.scope import DEFAULT_MAILBOX
from mailcore.processing.vocabulary import EventKind, Status

log = logging.getLogger(__name__)

bp = Blueprint("folders", __name__, url_prefix="/mail")
mailbox_choice.install(bp)  # ?mailbox=NAME, kept in the links (several mailboxes)

# The folders an operator browses, by the key the settings name them with (Folders' fields).
FOLDERS: dict[str, tuple[Any, Any]] = {  # key: (title, description), translated when shown
    "failed": (
        _l("Failed mail"),
        _l(
            "Messages the engine could not process. Open one to see what arrived, what was"
            " understood and why it failed."
        ),
    ),
    "processed": (_l("Processed"), _l("Messages a handler accepted (and duplicates of them).")),
    "auto": (
        _l("Auto-replies"),
        _l("Out-of-office and other automatic replies, filed unprocessed."),
    ),
    "rejected": (
        _l("Rejected"),
        _l("Messages an operator rejected, with the note saying why. A mistake can be undone."),
    ),
}
TODAY_LIMIT = 500  # events of one operator in a day: more than anyone does by hand


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def results_page(page: str, pane: str, context: dict[str, Any], ok: bool) -> ResponseReturnValue:
    """A filtered list: the whole `page`, or only its results `pane` when htmx asks for it;
    400 when the filters are wrong, but 200 to htmx, which swaps only 2xx answers (the pane
    must arrive to show the errors)."""
    htmx = is_htmx() and request.headers.get("HX-Target") == "results"
    status = 200 if ok or htmx else 400
    return render_template(pane if htmx else page, **context), status


def go(endpoint: str, **values: Any) -> ResponseReturnValue:
    """Redirect, the htmx way (full page load, so flashes and the list refresh) or plainly."""
    target = url_for(endpoint, **values)
    if is_htmx():
        return flask.Response(status=204, headers={"HX-Redirect": target})
    return redirect(target, code=303)


def folder_name(key: str) -> str:
    """The mailbox folder of a folder key ('processed' -> the configured processed folder)."""
    if key not in FOLDERS:
        abort(404)
    return str(getattr(current_engine().folders, key))


def detail_url(key: str, uid: int, **mailbox: str | None) -> str:
    """Where one message of a folder is shown (the failed folder's page has the editor);
    `mailbox=NAME`: of that mailbox (else the request's)."""
    named: dict[str, Any] = {"mailbox": link_name(mailbox["mailbox"])} if mailbox else {}
    if key == "failed":
        return url_for("operator.detail", uid=uid, **named)
    return url_for("folders.detail", key=key, uid=uid, **named)


def list_url(key: str, **args: Any) -> str:
    if key == "failed":
        return url_for("operator.failed_list", **args)
    return url_for("folders.folder_list", key=key, **args)


def _filters(form: FilterForm) -> dict[str, str]:
    fields = {"sender": form.sender.data, "reason": form.reason.data, "handler": form.handler.data}
    return {k: v.strip() for k, v in fields.items() if v and v.strip()}


def list_view(key: str) -> ResponseReturnValue:
    """A folder's list page (or, for htmx, its results pane). Bad filters or a page past the
    last one are form errors: the pane says what to fix and lists nothing."""
    svc = services()
    form = FilterForm(request.args)
    registries = [svc.registry_for(chosen())] if chosen() else list(svc.registries.values())
    handlers = list(dict.fromkeys(n for r in registries for n in r.names()))
    form.handler.choices = choices(_("All handlers"), handlers)
    valid = form.validate()
    problems = form.problems()
    filters = _filters(form) if valid else {}
    per_page = form.per_page.data or int(flask.current_app.config["PER_PAGE"])
    page = None
    if valid:
        page = folder_page(key, form.page.data or 1, per_page, filters)
        if page.page > page.pages:
            last = page.pages
            problems.append(
                (
                    _("Page"),
                    ngettext(
                        "There is %(num)d page of messages here: enter a page from 1 to %(num)d.",
                        "There are %(num)d pages of messages here: enter a page from 1 to %(num)d.",
                        last,
                    ),
                )
            )
            form.page.errors = [problems[-1][1]]
            page = None
    context = {
        "folder": key,
        "title": FOLDERS[key][0],
        "description": FOLDERS[key][1],
        "folders": FOLDERS,
        "page": page,
        "problems": problems,
        "filters": filters,
        "form": form,
        "bulk_form": BulkForm(),
        "list_url": list_url,
        "detail_url": detail_url,
        "mailboxes": svc.mailbox_names if svc.several else [],
        "mailbox": chosen(),
        "unreachable": mailbox_choice.unreachable(),
    }
    return results_page("operator/list.html", "operator/_results.html", context, not problems)


def folder_page(key: str, number: int, per_page: int, filters: dict[str, str]) -> FailedPage:
    """A page of the folder `key`: of the request's mailbox, or of every mailbox when there
    are several and none is named."""
    if services().several and chosen() is None:
        return mailbox_choice.page_across(number, per_page, folder_key=key, **filters)
    engine = current_engine()
    found = engine.failed_page(number, per_page, folder=folder_name(key), **filters)
    name = chosen() or services().mailbox_names[0]
    items: list[FailedItem] = [
        Listed(i.summary, i.handler, i.reason, i.failure, mailbox=name) for i in found.items
    ]
    return FailedPage(items, found.total, found.page, found.per_page)


@bp.route("/<key>/")
@role_required("operator")
def folder_list(key: str) -> ResponseReturnValue:
    if key == "failed":
        args: dict[str, Any] = request.args.to_dict()
        return redirect(url_for("operator.failed_list", **args), code=301)
    folder_name(key)
    return list_view(key)


def inspect_in(key: str, uid: int, *, confirm: bool = True) -> Any:
    """Message `uid` of the folder `key`, read through the engine (404 when it is not there)."""
    try:
        return current_engine().inspect(uid, folder_name(key), confirm=confirm)
    except (KeyError, LookupError):
        abort(404)
    except MailboxError as exc:
        log.info("inspect %s/%s failed: %s", key, uid, exc)
        abort(404)


@bp.route("/<key>/<int:uid>")
@role_required("operator")
def detail(key: str, uid: int) -> ResponseReturnValue:
    """One message of a folder other than `failed`: what arrived, what was understood, its
    timeline; a rejected one has the form taking it back."""
    if key == "failed":
        return redirect(url_for("operator.detail", uid=uid), code=301)
    from console.operator import detail_context  # the failed page's parts, shown read-only

    inspection = inspect_in(key, uid)
    return render_template(
        "operator/detail.html",
        folder_title=FOLDERS[key][0],
        undo_form=UndoRejectForm() if key == "rejected" else None,
        **detail_context(inspection, folder=key),
    )


@bp.route("/rejected/<int:uid>/undo", methods=["POST"])
@role_required("operator")
def undo_reject(uid: int) -> ResponseReturnValue:
    """Take a rejected mail back to `failed`, with the operator's note."""
    inspect_in("rejected", uid)
    form = UndoRejectForm()
    if not form.validate_on_submit():
        flash(_("Not taken back: %(why)s", why="; ".join(map(str, form.note.errors))), "warning")
        return go("folders.detail", key="rejected", uid=uid)
    try:
        outcome = current_engine().unreject(uid, form.note.data or "", by=current_user.username)
    except MailcoreError as exc:  # moved or expunged by someone else meanwhile
        flash(_("Not taken back: %(why)s", why=str(exc)), "warning")
        return go("folders.folder_list", key="rejected")
    flash(
        _("Message %(uid)s is back in failed mail: it can be corrected again.", uid=uid), "success"
    )
    if outcome.new_uid is None:
        return go("operator.failed_list")
    return go("operator.detail", uid=outcome.new_uid)


# Where each kind of state is shown: its folder key by status.
_STATUS_FOLDER: dict[str, str] = {
    Status.FAILED: "failed",
    Status.PROCESSED: "processed",
    Status.DUPLICATE: "processed",
    Status.AUTO: "auto",
    Status.REJECTED: "rejected",
}
# The events that are an operator's own doing (the outcomes they led to are shown with them).
_ACTIONS = frozenset(
    {EventKind.CORRECTED, EventKind.RESUBMITTED, EventKind.REJECTED, EventKind.MOVED}
)


@bp.route("/today")
@role_required("operator")
def today() -> ResponseReturnValue:
    """What I did today: one row per message I acted on, its state now and my steps."""
    rows, truncated = today_rows(current_user.username)
    return render_template(
        "operator/today.html",
        rows=rows,
        folders=FOLDERS,
        folder="today",
        truncated=truncated,
        list_url=list_url,
    )


def today_rows(actor: str) -> tuple[list[dict[str, Any]], bool]:
    """What `actor` did since midnight (UTC), one row per message (its key, its state now,
    the actor's steps, its folder and page link), newest first; and whether more were done
    than TODAY_LIMIT events show (the console's Today page, the API's /mail/today)."""
    history = services().history
    midnight = datetime.combine(datetime.now(UTC).date(), time.min, tzinfo=UTC)
    events = history.events(actor=actor, since=midnight, limit=TODAY_LIMIT)
    steps: dict[str, list[TimelineStep]] = defaultdict(list)
    for event in reversed(events):  # oldest first within a message
        if event.message_key:
            steps[event.message_key].append(TimelineStep.of(event))
    states = history.states(steps)
    rows = []
    for key in sorted(steps, key=lambda k: steps[k][-1].event.at, reverse=True):
        state = states.get(key)
        folder = _STATUS_FOLDER.get(state.status) if state and state.status else None
        link = None
        if folder and state and state.uid and _known_mailbox(state.mailbox):
            link = detail_url(folder, state.uid, mailbox=state.mailbox)
        did = [s for s in steps[key] if s.event.kind in _ACTIONS] or steps[key]
        rows.append({"key": key, "state": state, "steps": did, "link": link, "folder": folder})
    return rows, len(events) >= TODAY_LIMIT


def _known_mailbox(name: str | None) -> bool:
    """Whether a message recorded in mailbox `name` (None: the default) can be shown: its
    mailbox is still configured."""
    return (name or DEFAULT_MAILBOX) in services().mailbox_names
