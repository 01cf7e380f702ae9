"""The admins' webhooks page (/admin/webhooks/, read-only): the webhook handlers and event
subscriptions the ``[webhooks]`` table configures (never their secrets), and the events-out
delivery log -- each attempt, its outcome, HTTP status and what happened."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from console.roles import role_required
from console.services import services
from mailcore import OutboxStore

bp = Blueprint("webhooks_admin", __name__, url_prefix="/admin/webhooks")

_SHOWN = ("name", "url", "prefix", "subaddress", "subject_keyword", "default", "kinds")


def _configured(kind: str) -> list[dict[str, Any]]:
    """The entries of ``[[webhooks.<kind>]]``, with only the keys an admin page shows."""
    settings = services().settings
    section = settings.section("webhooks") if settings is not None else {}
    entries = section.get(kind) or []
    return [{k: e[k] for k in _SHOWN if k in e} for e in entries if isinstance(e, dict)]


@bp.get("/")
@role_required("admin")
def index() -> ResponseReturnValue:
    store = OutboxStore(services().history.engine)
    return render_template(
        "admin/webhooks.html",
        handlers=_configured("handlers"),
        subscriptions=_configured("subscriptions"),
        log=store.log(limit=200),
    )
