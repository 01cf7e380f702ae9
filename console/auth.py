"""Login and logout; the Flask-Login glue over mailcore.accounts."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, current_user, login_user, logout_user

from console.forms import LoginForm, LogoutForm
from console.services import services
from mailcore.accounts import LoginThrottled, User

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


class ConsoleUser:
    """A mailcore account as Flask-Login sees it."""

    is_anonymous = False

    def __init__(self, user: User) -> None:
        self.user = user
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
        return str(self.user.id)

    def has_role(self, *roles: str) -> bool:
        return self.user.has_role(*roles)


class Anonymous:
    is_anonymous = True
    is_authenticated = False
    is_active = False
    username = ""
    role = ""

    def get_id(self) -> None:
        return None

    def has_role(self, *roles: str) -> bool:
        return False


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    login_manager.anonymous_user = Anonymous
    login_manager.session_protection = "strong"

    @app.context_processor
    def logout_form() -> dict[str, object]:
        return {"logout_form": LogoutForm()}


@login_manager.user_loader
def load_user(user_id: str) -> ConsoleUser | None:
    try:
        user = services().accounts.get(int(user_id))
    except ValueError:
        return None
    # A disabled account loses its open sessions at the next request.
    return ConsoleUser(user) if user is not None and user.active else None


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
                form.password.errors = ["Wrong username or password (or the account is disabled)."]
            else:
                login_user(ConsoleUser(user), remember=bool(form.remember.data))
                log.info("login: %s", user.username)
                return redirect(_safe_next(form.next.data) or url_for("index"))
    return render_template("auth/login.html", form=form), status, headers


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    form = LogoutForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        log.info("logout: %s", current_user.username)
        logout_user()
        flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
