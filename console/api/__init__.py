"""The JSON API under /api/v1: what the console does, for machines (issue 15).

One blueprint a part -- mail (the operator's folders and actions), history, templates, send,
admin (users, tokens) -- each calling the functions the console's pages call. Callers send an
API token (console.api_tokens) as ``Authorization: Bearer``; cookies are never read here, so
the blueprints are exempt from CSRF. Each token has a rate limit (Flask-Limiter, in memory by
default; MAILCORE_API_RATE_STORAGE names a shared store such as redis:// for several worker
processes). The OpenAPI 3.1 document is made from the code by flask-smorest (apispec and the
marshmallow schemas of console.api.schemas) and served at /api/v1/openapi.json; every error
has one shape (console.api.errors).
"""

from __future__ import annotations

import importlib
import os
from http import HTTPStatus
from typing import Any

import flask_smorest
from flask import Flask, current_app, request
from flask_limiter import Limiter
from werkzeug.exceptions import MethodNotAllowed

from console.api import errors
from console.api.auth import rate_key

PREFIX = "/api/v1"
PARTS = ("mail", "history", "templates", "send", "admin")
DEFAULT_RATE = "120/minute"
# Statuses every endpoint may answer besides its own (no token, its role, gone, its rate).
COMMON_ERRORS = (401, 403, 404, 429)


class Api(flask_smorest.Api):
    """flask-smorest's Api, with the API's error shape; its HTTPException handler is not
    installed app-wide (the console's pages keep their HTML errors), but on each API
    blueprint."""

    ERROR_SCHEMA = errors.ErrorSchema

    def _register_error_handlers(self) -> None:
        pass


def init_app(app: Flask) -> None:
    config = app.config
    config.setdefault("API_TITLE", "mailcore")
    config.setdefault("API_VERSION", "1")
    config.setdefault("OPENAPI_VERSION", "3.1.0")
    config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    config.setdefault(
        "MAILCORE_API_RATE_LIMIT", os.environ.get("MAILCORE_API_RATE_LIMIT") or DEFAULT_RATE
    )
    config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    config.setdefault(
        "RATELIMIT_STORAGE_URI", os.environ.get("MAILCORE_API_RATE_STORAGE") or "memory://"
    )
    api = Api(app, spec_kwargs=_spec_kwargs())
    limiter = Limiter(rate_key, app=app)
    from console import csrf

    for part in PARTS:
        blp = importlib.import_module(f"console.api.{part}").blp
        limiter.limit(_rate)(blp)
        csrf.exempt(blp)
        _document_errors(blp)
        api.register_blueprint(blp)
    app.extensions["mailcore.api"] = api
    app.register_error_handler(405, _method_not_allowed)
    from console.api import tokens_page

    app.register_blueprint(tokens_page.bp)  # the admins' page of the tokens (HTML)


def _method_not_allowed(err: MethodNotAllowed) -> Any:
    """405 on an API path in the error shape (no route matched: no blueprint handler ran)."""
    return errors.handle(err) if request.path.startswith(PREFIX) else err


def _rate() -> str:
    return str(current_app.config["MAILCORE_API_RATE_LIMIT"])


def _spec_kwargs() -> dict[str, Any]:
    return {
        "info": {
            "description": "The mailcore console's operations as JSON. Every error answers"
            ' {"error": {"code", "message", "fields"?}}.'
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _document_errors(blp: flask_smorest.Blueprint) -> None:
    """Add the common error answers (flask-smorest's response components of those statuses,
    with the error shape) to every operation the blueprint documents."""
    for endpoint in blp._docs.values():  # the operations flask-smorest collected
        for method, doc in endpoint.items():
            if method == "parameters":
                continue
            responses = doc.setdefault("response", {}).setdefault("responses", {})
            for status in COMMON_ERRORS:
                responses.setdefault(status, [HTTPStatus(status).name])
