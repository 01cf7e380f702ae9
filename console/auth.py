"""Login and logout; the Flask-Login glue over console.accounts.

Flask's session cookie lives in the browser, so it cannot be taken back: what it (and the
remember-me cookie) carries is the token of a server-side session (`Accounts.start_session`),
checked on every request. Logout ends that session; a password change or disabling the
account ends all of the user's. A login without "keep me signed in" ends after
MAILCORE_SESSION_IDLE (default 12 hours) without a request; a remembered one after
REMEMBER_COOKIE_DURATION (default 30 days) without one, and its cookie expires then too.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, login_user, logout_user

from console.accounts import LoginThrottled, User
from console.forms import LoginForm, LogoutForm
from console.roles import role_name
from console.services import services
from console.translations import LANGUAGES
from console.users import LanguagePreferences

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


SESSION_IDLE = timedelta(hours=12)
REMEMBER_DURATION = timedelta(days=30)


class ConsoleUser:
    """A mailcore account as Flask-Login sees it, in one server-side session."""

    is_anonymous = False

    def __init__(self, user: User, token: str) -> None:
        self.user = user
        self.token = token  # the session's secret: what get_id() hands to both cookies
        self.id = user.id
        self.username = user.username
        self.role = user.role

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.user.active

    def get_id(self) -> str:
        return self.token

    def has_role(self, *roles: str) -> bool:
        return self.user.has_role(*roles)

    @property
    def language(self) -> str | None:
        """The console language this user chose; None: their browser's."""
        if not hasattr(self, "_language"):
            self._language = preferences().get(self.id)
        return self._language


class Anonymous:
    is_anonymous = True
    is_authenticated = False
    is_active = False
    username = ""
    role = ""
    language = None

    def get_id(self) -> None:
        return None

    def has_role(self, *roles: str) -> bool:
        return False


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.localize_callback = str  # the lazy message, in the request's language
    login_manager.login_message_category = "info"
    login_manager.anonymous_user = Anonymous
    login_manager.session_protection = "strong"
    app.config.setdefault("MAILCORE_SESSION_IDLE", SESSION_IDLE)
    app.config.setdefault("REMEMBER_COOKIE_DURATION", REMEMBER_DURATION)

    @app.context_processor
    def logout_form() -> dict[str, object]:
        return {"logout_form": LogoutForm(), "role_name": role_name}


def preferences() -> LanguagePreferences:
    """The users' language preferences, on the accounts' database."""
    db = services().accounts.db
    store = current_app.extensions.get("mailcore_languages")
    if store is None or store.db is not db:
        store = current_app.extensions["mailcore_languages"] = LanguagePreferences(db)
    return store


def user_language() -> str | None:
    """The language preference of whoever is logged in (None: anonymous or unset)."""
    return getattr(current_user, "language", None)


@login_manager.user_loader
def load_user(token: str) -> ConsoleUser | None:
    """The user of the session whose token a cookie carries; None once it has ended
    (logout, password change, disabled account, idle too long)."""
    user = services().accounts.session_user(token)
    return ConsoleUser(user, token) if user is not None else None


def current_token() -> str | None:
    """The current request's session token, None when nobody is logged in."""
    return current_user.token if isinstance(current_user, ConsoleUser) else None


def _start_session(user: User, remember: bool) -> ConsoleUser:
    config = current_app.config
    idle = config["REMEMBER_COOKIE_DURATION"] if remember else config["MAILCORE_SESSION_IDLE"]
    return ConsoleUser(user, services().accounts.start_session(user, idle))


def _safe_next(target: str | None) -> str | None:
    """Only local paths: an attacker's link must not bounce a fresh login to another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    headers: dict[str, str] = {}
    status = 401 if request.method == "POST" else 200
    if form.validate_on_submit():
        try:
            user = services().accounts.login(
                form.username.data or "", form.password.data or "", request.remote_addr
            )
        except LoginThrottled as exc:
            message = str(exc)
            form.password.errors = [message[:1].upper() + message[1:] + "."]
            status = 429
            headers["Retry-After"] = str(int(exc.retry_after.total_seconds()) + 1)
        else:
            if user is None:
                form.password.errors = [
                    _("Wrong username or password (or the account is disabled).")
                ]
            else:
                remember = bool(form.remember.data)
                previous = current_token()
                if previous:  # logging in again replaces the session, never adds one
                    services().accounts.end_session(previous)
                login_user(_start_session(user, remember), remember=remember)
                log.info("login: %s", user.username)
                return redirect(_safe_next(form.next.data) or url_for("index"))
    return render_template("auth/login.html", form=form), status, headers


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    form = LogoutForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        log.info("logout: %s", current_user.username)
        token = current_token()
        if token:
            services().accounts.end_session(token)  # the copied cookies die with it
        logout_user()
        flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def set_language() -> ResponseReturnValue:
    """Save the language the logged-in user chose ("" follows the browser); back to the page."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    chosen = request.form.get("language", "")
    if chosen and chosen not in LANGUAGES:
        flash(_("Unknown language."), "error")
    else:
        preferences().set(current_user.id, chosen or None)
    return redirect(_safe_next(request.form.get("next")) or url_for("index"))
