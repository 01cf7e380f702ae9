"""The admins' API tokens page (/admin/tokens/): every token (name, role, who created and
revoked it, never a secret), a form creating one -- its secret shown once, on the answer
to that form -- and a button revoking each active one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from console.api.auth import tokens
from console.api_tokens import TokenError
from console.forms import ROLE_CHOICES
from console.roles import role_name, role_required
from console.users import ROLES

bp = Blueprint("api_tokens_admin", __name__, url_prefix="/admin/tokens")


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_l("Name the token.")), Length(max=64)],
        description=_l("Who uses it, e.g. backoffice or crm-sync."),
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="operator")


class RevokeForm(FlaskForm):
    """The revoke button: only its CSRF token."""


def _page(form: TokenForm, status: int = 200, **extra: Any) -> ResponseReturnValue:
    shown = {"tokens": tokens().list(), "form": form, "revoke_form": RevokeForm(), **extra}
    shown["role_names"] = {role: role_name(role) for role in ROLES}
    return render_template("admin/tokens.html", **shown), status


@bp.get("/")
@role_required("admin")
def index() -> ResponseReturnValue:
    return _page(TokenForm())


@bp.post("/")
@role_required("admin")
def create() -> ResponseReturnValue:
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        made, secret = tokens().create(
            (form.name.data or "").strip(), form.role.data or "", by=current_user.username
        )
    except TokenError as exc:
        form.name.errors = [str(exc)]
        return _page(form, 422)
    # Shown on this answer only: never stored, never in a redirect or a flash.
    return _page(TokenForm(formdata=None), 201, created=made, secret=secret)


@bp.post("/<name>/revoke")
@role_required("admin")
def revoke(name: str) -> ResponseReturnValue:
    if not RevokeForm().validate_on_submit():
        flash(_("This form has expired: reload the page and try again."), "warning")
        return redirect(url_for("api_tokens_admin.index"), code=303)
    try:
        tokens().revoke(name, by=current_user.username)
    except TokenError:
        flash(_("There is no API token named %(name)s.", name=name), "warning")
    else:
        flash(_("API token %(name)s revoked: it is refused from now on.", name=name), "success")
    return redirect(url_for("api_tokens_admin.index"), code=303)
