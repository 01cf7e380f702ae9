"""The operator console: a Flask app over mailcore (failed mailbox, templates, history, admin).

`create_app` builds it. The package holds, one job a module:

- views (one blueprint each): operator (the failed mailbox), authoring (the template editor),
  history (the admins' history), admin (accounts), auth (login and logout, Flask-Login);
- what views share: forms (every form), roles (`role_required`), services (the mailcore
  objects of one app), presenters (payload text and field errors), timeline (a message's
  timeline and the one payload diff), mailview (mail HTML made safe), downloads;
- accounts (the account store) over users (its vocabulary), throttle (the login throttle) and
  sessions (server-side sessions);
- the editor's parts: template_preview, template_samples, template_sending; the history's:
  history_chart, history_csv;
- commands (`mailcore demo`, `serve`, `create-user`), demo (its handlers and mails), testing;
- api (the JSON API under /api/v1 over the same functions, `init_app`) and api_tokens (its
  bearer tokens, `mailcore token`).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
csrf = CSRFProtect()

# Blueprints written by other modules; registered when their module is present.
OPTIONAL_BLUEPRINTS = (
    "console.authoring",
    "console.history",
    "console.admin",
    "console.keys",
    "console.oauth_admin",  # the admins' OAuth2 page (/admin/oauth2/)
    "console.webhooks_admin",  # the admins' webhooks page and delivery log (/admin/webhooks/)
    "console.ingress",  # push ingress (/ingress/...): no login, each endpoint checks its secret
)

# Strict policy for every console page: no inline script, nothing from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'self'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; "
    "base-uri 'none'"
)


def asset_dir(name: str) -> Path:
    """`templates` or `static`: inside the package in an installed wheel (setup.py maps them
    there), else the checkout's top-level directory (an editable install, the tests)."""
    packaged = PACKAGE / name
    return packaged if packaged.is_dir() else ROOT / name


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the console app; `overrides` update the Flask config (tests inject services)."""
    app = Flask(
        __name__,
        template_folder=str(asset_dir("templates")),
        static_folder=str(asset_dir("static")),
    )
    app.config.update(
        SECRET_KEY=os.environ.get("MAILCORE_SECRET_KEY") or None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        PER_PAGE=50,
        MAILCORE_SETTINGS=None,  # a mailcore.config.Settings; loaded from the environment if None
        MAILCORE_SERVICES=None,  # a ready console.services.Services (tests, demo)
        MAX_CONTENT_LENGTH=5 * 1024 * 1024,
    )
    if overrides:
        app.config.update(overrides)
    if not app.config["SECRET_KEY"]:
        # Sessions then die with the process: fine for a demo, not for production.
        log.warning("MAILCORE_SECRET_KEY is not set: using a random key for this process")
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    if os.environ.get("MAILCORE_SECURE_COOKIES", "").lower() in ("1", "true", "yes"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True

    # Behind a reverse proxy every client would share the proxy's address, and one guesser
    # would lock everyone out: trust X-Forwarded-For from that many proxies, no more.
    hops = int(os.environ.get("MAILCORE_TRUSTED_PROXIES", "0") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    csrf.init_app(app)

    from console import auth, failure_words, operator, translations

    translations.init_app(app, auth.user_language)
    failure_words.register(app)  # failure_title(kind), failure_advice(kind) in templates
    auth.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(operator.bp)
    for name in OPTIONAL_BLUEPRINTS:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        app.register_blueprint(module.bp)
    if importlib.util.find_spec("console.api") is not None:  # the JSON API, /api/v1
        importlib.import_module("console.api").init_app(app)

    _register_pages(app)
    app.after_request(_security_headers)
    return app


def _register_pages(app: Flask) -> None:
    @app.route("/")
    def index() -> ResponseReturnValue:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        if current_user.has_role("operator"):
            return redirect(url_for("operator.failed_list"))
        if current_user.has_role("author") and "authoring" in app.blueprints:
            return redirect(url_for("authoring.index"))
        return render_template("home.html")

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError) -> ResponseReturnValue:
        # Flask-WTF's description ("The CSRF token is missing.") says what, not what to do.
        message = _(
            "This form has expired or did not come from this console (%(why)s): reload the "
            "page and try again.",
            why=err.description,
        )
        return render_template("error.html", code=400, message=message), 400

    @app.errorhandler(403)
    def forbidden(_err: Exception) -> ResponseReturnValue:
        message = _("Your role does not give access to this page.")
        return render_template("error.html", code=403, message=message), 403

    @app.errorhandler(404)
    def not_found(_err: Exception) -> ResponseReturnValue:
        if request.path.startswith("/api/") and "mailcore.api" in app.extensions:
            from console.api.errors import handle  # a path no API route has: JSON too

            return handle(NotFound())
        message = _("Nothing here: the message may have been moved or the link is outdated.")
        return render_template("error.html", code=404, message=message), 404

    @app.template_filter("pretty_json")
    def pretty_json(value: Any) -> str:
        """Data as indented JSON for people: "Zoë", not tojson's "Zo\\u00eb" (the template's
        autoescaping makes it HTML-safe)."""
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)

    @app.context_processor
    def nav() -> dict[str, Any]:
        return {"has_blueprint": lambda name: name in app.blueprints}


def _security_headers(response: Response) -> Response:
    headers = response.headers
    # Routes that serve mail content set their own, stricter policy.
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")
    return response
