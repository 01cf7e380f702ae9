"""Push ingress over HTTP: POST /ingress/mime, /ingress/postmark, /ingress/mailgun[/mime],
/ingress/sendgrid, into the inbox of the console's first mailbox (``?mailbox=NAME``: another).

No login and no CSRF token: each endpoint checks its own secret or signature
(`mailcore.Ingress`, which owns what each provider documents). The body is read as a stream,
64 KiB at a time, into a spool that moves to disk past 1 MiB, so a 30 MB mail is never held
three times in memory. The answer is 200 only once the mailbox confirmed the message, 503 with
Retry-After when it did not (the sender retries); see `mailcore.ingress.http` for the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from console import csrf
from console.services import services
from mailcore import Ingress, IngressProvider, IngressSettings, PushRequest, ReplayGuard
from mailcore.errors import ConfigError

log = logging.getLogger(__name__)

bp = Blueprint("ingress", __name__, url_prefix="/ingress")
csrf.exempt(bp)

CHUNK = 64 * 1024
_GUARD = "mailcore.ingress.guard"


def ingress_settings() -> IngressSettings:
    """MAILCORE_INGRESS (tests) or the ``[ingress]`` table of the console's settings."""
    given = current_app.config.get("MAILCORE_INGRESS")
    if isinstance(given, IngressSettings):
        return given
    settings = services().settings
    return IngressSettings() if settings is None else IngressSettings.from_settings(settings)


def _ingress(mailbox: str | None) -> Ingress | None:
    """The ingress on the named mailbox's inbox (the first one's without a name); None when
    no mailbox has that name."""
    conf = ingress_settings()
    guard = current_app.extensions.get(_GUARD)
    if guard is None:
        guard = current_app.extensions.setdefault(_GUARD, ReplayGuard(conf.max_age))
    svc = services()
    engine = svc.engines.get(mailbox) if mailbox else svc.engine
    if engine is None:
        return None
    return Ingress(conf, engine.mailbox, engine.folders.inbox, guard)


def _body() -> Iterator[bytes]:
    stream = request.stream
    while chunk := stream.read(CHUNK):
        yield chunk


@bp.post("/mailgun/mime")
def mailgun_mime() -> Response:
    """Mailgun posts the raw message only to a route URL that ends in "mime"."""
    return receive("mailgun")


@bp.post("/<provider>")
def receive(provider: str) -> Response:
    try:
        which = IngressProvider(provider)
    except ValueError:
        return Response("no such ingress endpoint\n", 404, mimetype="text/plain")
    try:
        ingress = _ingress(request.args.get("mailbox"))
    except ConfigError as exc:  # said in the log, not to whoever posts
        log.error("ingress is not configured right: %s", exc)
        return Response("ingress is misconfigured; see the log\n", 503, mimetype="text/plain")
    if ingress is None:
        return Response("no such mailbox\n", 404, mimetype="text/plain")
    request.max_content_length = ingress.request_limit
    push = PushRequest(request.headers, _body(), request.content_type, request.content_length)
    try:
        answer = ingress.receive(which, push)
    except RequestEntityTooLarge:
        return Response("the request is too large\n", 413, mimetype="text/plain")
    if answer.status == 200:
        log.info("ingress %s: stored (uid %s)", which, answer.uid)
    elif answer.status >= 500:
        log.warning("ingress %s: %s", which, answer.text)
    response = Response(answer.text + "\n", answer.status, mimetype="text/plain")
    response.headers.update(answer.headers)
    return response
