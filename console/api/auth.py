"""Who is calling /api/v1: the bearer token of ``Authorization: Bearer mc_...``, never a
cookie (so no session, and no CSRF hole: a browser's cookies grant nothing here).

`identify` verifies the token once per request (the rate limit's key needs it before the
view runs); `require(*roles)` is the API's `role_required`: 401 without a valid token, 403
when its role does not allow the action (admin tokens pass every check)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import flask
from flask import current_app, request

from console.api.errors import ApiError
from console.api_tokens import ApiToken, ApiTokens
from console.services import services

F = TypeVar("F", bound=Callable[..., Any])
_EXTENSION = "mailcore.api_tokens"
_lock = threading.Lock()
_UNSET = object()


def tokens() -> ApiTokens:
    """The app's token store, on the history database (built on first use)."""
    app = current_app
    found = app.extensions.get(_EXTENSION)
    if found is None:
        with _lock:
            found = app.extensions.get(_EXTENSION)
            if found is None:
                history = services().history
                found = app.extensions[_EXTENSION] = ApiTokens(history.engine, history)
    return found


def bearer() -> str | None:
    """The token of the Authorization header (None when there is no bearer token)."""
    scheme, _sep, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def identify() -> ApiToken | None:
    """The request's valid token, verified once per request (None: none or not valid)."""
    found = flask.g.get("api_token", _UNSET)
    if found is _UNSET:
        secret = bearer()
        found = tokens().verify(secret) if secret else None
        flask.g.api_token = found
    return found


def current_token() -> ApiToken:
    """The request's token; 401 when there is none (or it is revoked or unknown)."""
    token = identify()
    if token is None:
        message = (
            "This API needs an API token: send 'Authorization: Bearer <token>' (an admin"
            " creates one with `mailcore token create` or on the console's API tokens page)."
            if bearer() is None
            else "This API token is not valid: it is unknown or was revoked."
        )
        raise ApiError(401, message, headers={"WWW-Authenticate": 'Bearer realm="mailcore"'})
    return token


def actor() -> str:
    """The history's name for the caller: token:<name>."""
    return current_token().actor


def require(*roles: str) -> Callable[[F], F]:
    """The view needs a token holding one of `roles` (admin holds all): else 401 or 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            token = current_token()
            if not token.has_role(*roles):
                raise ApiError(
                    403,
                    f"This token's role ({token.role}) cannot do this: it needs"
                    f" {' or '.join(roles)} (or admin).",
                )
            return view(*args, **kwargs)

        wrapped.__dict__["api_roles"] = roles  # the document says who may call it
        return wrapped  # type: ignore[return-value]

    return decorator


def rate_key() -> str:
    """The rate limit's bucket: the token's name (every secret of it counted together), the
    client's address for requests without a valid token."""
    token = identify()
    return f"token:{token.name}" if token else f"address:{request.remote_addr}"
