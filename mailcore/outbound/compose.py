"""Outbound mail from a template: three alternatives, identifiers, attachments.

The message is ``multipart/alternative`` with, in this order:

1. ``application/json``: all the data (UTF-8), for partners' software;
2. ``text/plain``: the rendered Markdown source, readable as is;
3. ``text/html``: the Markdown as HTML inside the common layout (`templates/email/base.html`),
   CSS inlined for Gmail and Outlook, wrapped in ``multipart/related`` with the logo (a
   ``cid:`` image: Gmail shows neither data: URIs nor inline SVG).

Attachments put a ``multipart/mixed`` around it. Text parts are quoted-printable, so the
message is 7-bit clean (what S/MIME signing and old relays want).

Replies find their way back through three identifiers (formats in `mailcore.ident`): the
Reply-To subaddress, the ``[<id>]`` subject tag, and Message-IDs threaded under a stable
per-resource root in In-Reply-To / References.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict, Unpack

import css_inline
import jinja2
from markupsafe import Markup

from mailcore import ident
from mailcore.errors import TemplateError
from mailcore.ident import DEFAULT_SCHEME, IdentScheme
from mailcore.outbound.templating import (
    Problem,
    ProblemKind,
    RenderResult,
    Template,
    error_from,
    render,
    render_all,
)

__all__ = [
    "Brand",
    "OutboundAttachment",
    "Preview",
    "Problem",
    "Template",
    "bounce_address",
    "compose",
    "preview",
    "render",
]

log = logging.getLogger(__name__)

# An installed wheel carries the layout beside this module (setup.py); a checkout keeps it in
# the top-level templates/email/.
_HERE = Path(__file__).resolve().parent
LAYOUT_DIR = (
    _HERE / "layouts" if (_HERE / "layouts").is_dir() else _HERE.parents[1] / "templates/email"
)
MESSAGE_POLICY = policy.SMTP  # CRLF line ends: the bytes signed are the bytes sent


DEFAULT_FOOTER = "This message was sent automatically. Reply to it to answer."
DEFAULT_FOOTERS = (
    ("fr", "Ce message a été envoyé automatiquement. Répondez-y pour nous écrire."),
    ("de", "Diese Nachricht wurde automatisch versandt. Antworten Sie einfach darauf."),
)


@dataclass(frozen=True)
class Brand:
    """What the layout shows around every message."""

    name: str = "mailcore"
    color: str = "#1f6feb"
    footer: str = DEFAULT_FOOTER
    logo_png: bytes | None = None  # None: the mailcore logo
    footers: tuple[tuple[str, str], ...] = ()  # (tag, text): the footer in other languages

    def footer_in(self, lang: str) -> str:
        """The footer for mail in `lang` ("fr-ca" falls back to "fr"), else `footer`; the
        default footer has its own translations."""
        known = dict(DEFAULT_FOOTERS if self.footer == DEFAULT_FOOTER else ()) | dict(self.footers)
        return known.get(lang) or known.get(lang.split("-")[0]) or self.footer


DEFAULT_BRAND = Brand()


@dataclass(frozen=True)
class OutboundAttachment:
    """A file to attach; `content_type` is guessed from the name when None."""

    filename: str
    data: bytes
    content_type: str | None = None


AttachmentLike = OutboundAttachment | tuple[str, bytes] | str | os.PathLike[str]


@dataclass
class Preview:
    """Everything the live editor shows; `problems` is empty when the template is fine."""

    subject: str
    text: str
    html: str  # the full page, logo as a data: URI
    json: str
    mime: str  # the raw message source
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.kind != ProblemKind.UNSAFE for p in self.problems)


# --- layout -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _layout() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(LAYOUT_DIR), autoescape=True, auto_reload=False
    )
    return env.get_template("base.html")


@lru_cache(maxsize=1)
def _default_logo() -> bytes:
    return (LAYOUT_DIR / "logo.png").read_bytes()


_INLINER = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


def _page(subject: str, content_html: str, brand: Brand, logo_src: str, lang: str) -> str:
    """The fragment inside the layout, CSS inlined."""
    preheader = " ".join(Markup(content_html).striptags().split())[:120]
    page = _layout().render(
        subject=subject,
        content=Markup(content_html),  # already sanitized by mailcore.outbound.templating
        preheader=preheader,
        brand=replace(brand, footer=brand.footer_in(lang)),
        logo_src=logo_src,
        lang=lang,
    )
    return str(_INLINER.inline(page))


def _logo_cid(scheme: IdentScheme) -> str:
    return f"logo@{scheme.domain}"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# --- message ------------------------------------------------------------------------------


def data_json(data: Mapping[str, Any]) -> str:
    """The JSON alternative: all the data, UTF-8, dates and other objects as strings."""
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


def _attachment(item: AttachmentLike) -> OutboundAttachment:
    if isinstance(item, OutboundAttachment):
        return item
    if isinstance(item, tuple):
        name, data = item
        return OutboundAttachment(name, data)
    path = Path(item)
    return OutboundAttachment(path.name, path.read_bytes())


def _addresses(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else ", ".join(value)


class ComposeOptions(TypedDict, total=False):
    """The optional keywords of `compose` and `preview`: `scheme` (how identifiers are
    written), `attachments`, `in_reply_to` and `references` (threading), `cc`, `automatic`
    (Auto-Submitted: auto-generated), `brand`, `date`, `lang` and extra `headers`."""

    scheme: IdentScheme
    attachments: Iterable[AttachmentLike]
    in_reply_to: str | None
    references: Sequence[str]
    cc: str | Sequence[str]
    automatic: bool
    brand: Brand
    date: datetime | None
    lang: str
    headers: Mapping[str, str] | None


def _build(
    rendered: RenderResult,
    json_text: str,
    to: str | Sequence[str],
    resource_id: str,
    sender: str,
    options: ComposeOptions,
) -> tuple[EmailMessage, str]:
    """The message, and its HTML page as a browser would show it (for previews)."""
    scheme = options.get("scheme", DEFAULT_SCHEME)
    brand = options.get("brand", DEFAULT_BRAND)
    lang = options.get("lang", "en")
    cc = options.get("cc", ())
    in_reply_to = options.get("in_reply_to")
    date = options.get("date")
    subject = ident.tagged_subject(resource_id, rendered.subject)
    logo = brand.logo_png or _default_logo()
    cid = _logo_cid(scheme)
    page = _page(subject, rendered.html, brand, f"cid:{cid}", lang)

    msg = EmailMessage(policy=MESSAGE_POLICY)
    msg["From"] = sender
    msg["To"] = _addresses(to)
    if cc:
        msg["Cc"] = _addresses(cc)
    msg["Reply-To"] = scheme.reply_address(resource_id)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = ident.new_message_id(resource_id, scheme.domain)
    root = ident.thread_root(resource_id, scheme.domain)
    references = options.get("references", ())
    chain = list(dict.fromkeys([root, *references, *([in_reply_to] if in_reply_to else [])]))
    msg["In-Reply-To"] = in_reply_to or root
    msg["References"] = " ".join(chain)
    if options.get("automatic", False):
        msg["Auto-Submitted"] = "auto-generated"
    for name, value in (options.get("headers") or {}).items():
        msg[name] = value

    # Set as text for line-preserving quoted-printable, then retyped: JSON stays readable.
    msg.set_content(json_text, subtype="plain", cte="quoted-printable")
    msg.replace_header("Content-Type", 'application/json; charset="utf-8"')
    msg.add_alternative(rendered.markdown, subtype="plain", cte="quoted-printable")
    msg.add_alternative(page, subtype="html", cte="quoted-printable")
    html_part = list(msg.iter_parts())[2]
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(logo, "image", "png", cid=f"<{cid}>", disposition="inline")

    for item in options.get("attachments", ()):
        att = _attachment(item)
        ctype = att.content_type or mimetypes.guess_type(att.filename)[0]
        maintype, _, subtype = (ctype or "application/octet-stream").partition("/")
        msg.add_attachment(att.data, maintype, subtype, filename=att.filename)
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # only the top level carries it
    if "MIME-Version" not in msg:
        msg["MIME-Version"] = "1.0"
    return msg, page.replace(f"cid:{cid}", _data_uri(logo))


def _variant(template: Template, data: Mapping[str, Any], options: ComposeOptions) -> Template:
    """The template's variant in the recipient's language (`lang`, else the data's); the
    page's `lang` follows it when none was given."""
    chosen = template.for_data(data, options.get("lang"))
    if chosen.language:
        options.setdefault("lang", chosen.language)
    return chosen


def compose(
    template: Template,
    data: Mapping[str, Any],
    to: str | Sequence[str],
    resource_id: str,
    *,
    sender: str,
    **options: Unpack[ComposeOptions],
) -> EmailMessage:
    """Render `template` with `data` into a message about `resource_id`.

    The variant of `template` in the recipient's language is used: `lang` (e.g. the
    partner's configured language) when given, else the data's `language` field, else the
    default. Raises TemplateError (every undefined placeholder named, syntax errors with their line,
    refused constructs) and ValueError for an invalid resource id. Markup removed by the
    allowlist is not an error: `preview` reports it.
    """
    template = _variant(template, data, options)
    rendered = render_all(template, data)
    fatal = rendered.fatal
    if fatal:
        raise error_from(fatal)
    msg, _ = _build(rendered, data_json(data), to, resource_id, sender, options)
    log.debug("composed %s for %s", msg["Message-ID"], resource_id)
    return msg


def bounce_address(msg: EmailMessage, scheme: IdentScheme = DEFAULT_SCHEME) -> str | None:
    """The VERP envelope sender for a composed `msg` (``bounce+<id>.<token>@domain``): pass it
    as `send(..., envelope_from=...)` and a bounce names this mail even if it quotes nothing."""
    message_id = msg["Message-ID"]
    return scheme.bounce_address(str(message_id)) if message_id else None


def preview(
    template: Template,
    data: Mapping[str, Any],
    *,
    to: str | Sequence[str] = "partner@example.com",
    resource_id: str = "preview",
    sender: str = "mailcore <noreply@example.com>",
    **options: Unpack[ComposeOptions],
) -> Preview:
    """All alternatives and the raw message as they would be sent, and every problem.

    Never raises: what cannot be rendered is left empty and explained in `problems`.
    """
    try:
        template = _variant(template, data, options)
        rendered = render_all(template, data)
    except Exception as exc:  # noqa: BLE001 -- the editor must keep working
        log.exception("rendering failed unexpectedly")
        rendered = RenderResult(
            "", "", "", [Problem(None, f"cannot render: {exc}", ProblemKind.SYNTAX)]
        )
    try:
        json_text = data_json(data)
    except Exception as exc:  # noqa: BLE001
        json_text = ""
        rendered.problems.append(Problem(None, f"data is not JSON: {exc}", ProblemKind.SYNTAX))
    try:
        msg, page = _build(rendered, json_text, to, resource_id, sender, options)
        mime = msg.as_string(policy=MESSAGE_POLICY.clone(linesep="\n"))
        subject = str(msg["Subject"])
    except (ValueError, TypeError, OSError, TemplateError) as exc:
        rendered.problems.append(Problem(None, f"cannot compose: {exc}", ProblemKind.SYNTAX))
        page, mime, subject = "", "", rendered.subject
    return Preview(subject, rendered.markdown, page, json_text, mime, rendered.problems)
