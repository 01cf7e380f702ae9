"""User management for admins: list, create, enable/disable, change role or e-mail, reset a
password, delete.

Every change goes through console.accounts.Accounts, which records it in the history
(kind "admin", actor = the admin), so "who gave Bob admin rights?" has an answer. Resetting a
password or disabling an account ends all that user's sessions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from console.accounts import MIN_PASSWORD_LENGTH, ROLES, AccountError
from console.auth import current_token
from console.forms import ActiveForm, CreateUserForm, PasswordForm, RoleForm
from console.roles import role_name, role_required
from console.services import services
from mailcore.processing.vocabulary import EventKind

log = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _me() -> str:
    return str(current_user.username)


def _recent_admin_events(limit: int = 15) -> list[Any]:
    """The latest account changes, for context on the users page."""
    history = services().history
    try:
        return list(history.events(kind=EventKind.ADMIN, limit=limit))
    except TypeError:  # a History without the kind filter: pick them out of recent events
        return [e for e in history.events(limit=500) if e.kind == EventKind.ADMIN][:limit]


def _render(create: CreateUserForm | None = None, status: int = 200, **extra: Any) -> Any:
    users = services().accounts.list()
    role_forms = {u.username: RoleForm(formdata=None, role=u.role) for u in users}
    return (
        render_template(
            "admin/users.html",
            users=users,
            role_forms=role_forms,
            active_form=ActiveForm(),
            create=create or CreateUserForm(formdata=None),
            password_form=PasswordForm(formdata=None),
            events=_recent_admin_events(),
            min_password=MIN_PASSWORD_LENGTH,
            **extra,
        ),
        status,
    )


@bp.get("/")
@role_required("admin")
def index() -> ResponseReturnValue:
    """The user list, the creation form, and the latest account changes."""
    return _render()


@bp.post("/users")
@role_required("admin")
def create() -> ResponseReturnValue:
    form = CreateUserForm()
    if not form.validate():
        return _render(form, 422)
    try:
        user = services().accounts.create(
            form.username.data or "",
            form.password.data or "",
            form.role.data or "operator",
            email=form.email.data or None,
            by=_me(),
        )
    except AccountError as e:
        message = str(e)
        fields = {"password": form.password, "role": form.role, "email": form.email}
        target = fields.get(e.field or "", form.username)
        target.errors = [*target.errors, message[:1].upper() + message[1:] + "."]
        return _render(form, 422)
    flash(
        _(
            "User %(user)s created with role %(role)s.",
            user=user.username,
            role=role_name(user.role),
        ),
        "success",
    )
    return redirect(url_for("admin.index"))


@bp.post("/users/<username>/role")
@role_required("admin")
def set_role(username: str) -> ResponseReturnValue:
    user = services().accounts.by_name(username)
    if user is None:
        abort(404)
    form = RoleForm()
    if not form.validate():
        choices = ", ".join(role_name(r) for r in ROLES)
        flash(
            _(
                "Role of %(user)s not changed: choose one of %(roles)s.",
                user=username,
                roles=choices,
            ),
            "error",
        )
        return redirect(url_for("admin.index"))

    def change() -> str:
        updated = services().accounts.set_role(username, form.role.data or "", by=_me())
        return _("%(user)s is now %(role)s.", user=updated.username, role=role_name(updated.role))

    return _account_change(change, _("Role of %(user)s not changed", user=username))


@bp.post("/users/<username>/active")
@role_required("admin")
def set_active(username: str) -> ResponseReturnValue:
    form = ActiveForm()
    if not form.validate():
        abort(400)
    active = request.form.get("active") == "1"
    if not active and username.lower() == _me().lower():
        flash(_("You cannot disable your own account: ask another admin."), "error")
        return redirect(url_for("admin.index"))

    def change() -> str:
        updated = services().accounts.set_active(username, active, by=_me())
        if updated.active:
            return _("%(user)s enabled.", user=updated.username)
        return _("%(user)s disabled.", user=updated.username)

    return _account_change(change, _("%(user)s not changed", user=username))


@bp.post("/users/<username>/password")
@role_required("admin")
def set_password(username: str) -> ResponseReturnValue:
    form = PasswordForm()
    if not form.validate():
        errors = "; ".join(map(str, form.password.errors)) or _("invalid form")
        flash(_("Password of %(user)s not changed: %(why)s", user=username, why=errors), "error")
        return redirect(url_for("admin.index"))

    # Every session of the user ends (a stolen one included); an admin resetting their own
    # password keeps the one they are using.
    keep = current_token() if username.lower() == _me().lower() else None

    def change() -> str:
        accounts = services().accounts
        accounts.set_password(username, form.password.data or "", by=_me(), keep_session=keep)
        return _(
            "Password of %(user)s changed and their sessions ended;"
            " tell them through another channel.",
            user=username,
        )

    return _account_change(change, _("Password of %(user)s not changed", user=username))


@bp.post("/users/<username>/email")
@role_required("admin")
def set_email(username: str) -> ResponseReturnValue:
    """Change (or, empty, remove) the address test sends of that user go to."""
    email = request.form.get("email", "")[:300]

    def change() -> str:
        updated = services().accounts.set_email(username, email, by=_me())
        if updated.email:
            return _("E-mail of %(user)s is now %(email)s.", user=username, email=updated.email)
        return _("%(user)s has no e-mail address any more.", user=username)

    return _account_change(change, _("E-mail of %(user)s not changed", user=username))


@bp.post("/users/<username>/delete")
@role_required("admin")
def delete(username: str) -> ResponseReturnValue:
    """Delete an account (ticked to confirm); not one's own, nor the last active admin."""
    if request.form.get("confirm") != "1":
        flash(_("%(user)s not deleted: tick the box to confirm.", user=username), "error")
        return redirect(url_for("admin.index"))
    if username.lower() == _me().lower():
        flash(_("You cannot delete your own account: ask another admin."), "error")
        return redirect(url_for("admin.index"))

    def change() -> str:
        services().accounts.delete(username, by=_me())
        return _("%(user)s deleted; what they did stays in the history.", user=username)

    return _account_change(change, _("%(user)s not deleted", user=username))


def _account_change(change: Callable[[], str], refused: str) -> ResponseReturnValue:
    """Run one account change; flash what it did, or `refused` and why; back to the list."""
    try:
        done = change()
    except AccountError as e:
        flash(_("%(refused)s: %(why)s.", refused=refused, why=str(e)), "error")
    else:
        flash(done, "success")
    return redirect(url_for("admin.index"))
