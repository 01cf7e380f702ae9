"""Role checks for views: operators fix mail, authors edit templates, admins do everything."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

F = TypeVar("F", bound=Callable[..., Any])

# How the console names each role of console.users.ROLES, in the reader's language.
ROLE_NAMES = {"operator": _l("operator"), "author": _l("author"), "admin": _l("admin")}


def role_name(role: str) -> str:
    """`role` as the console shows it (translated); an unknown one as is."""
    return str(ROLE_NAMES.get(role, role))


def role_required(*roles: str) -> Callable[[F], F]:
    """Require a logged-in user holding one of `roles` (admin passes every check); else 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return login_required(wrapped)

    return decorator
