"""The admins' OAuth2 page: each mail account signed in with `mailcore oauth2 login`, its
token's state (valid until when, expired, or the refresh failing and what to run), read-only.
Tokens themselves are never read here: only what the token table says about them."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from console.roles import role_required
from console.services import secret_key_without_settings, services
from mailcore import MailcoreError, OAuthTokenStore, TokenHealth, oauth2_token_store

bp = Blueprint("oauth_admin", __name__, url_prefix="/admin/oauth2")


def store() -> OAuthTokenStore:
    """The token table of the history database, opened with the secret key the tokens are
    encrypted with ($MAILCORE_SECRET_KEY or [console] secret_key; the app's in tests)."""
    svc = services()
    if svc.settings is not None:
        return oauth2_token_store(svc.settings, svc.history.engine)
    return OAuthTokenStore(svc.history.engine, secret_key_without_settings())


@bp.get("/")
@role_required("admin")
def index() -> ResponseReturnValue:
    try:
        states, error = store().states(), None
    except MailcoreError as exc:  # e.g. no secret key configured: the message says what to set
        states, error = [], str(exc)
    return render_template("admin/oauth2.html", states=states, error=error, Health=TokenHealth)
