"""The console's languages: English (the source strings) and the catalogs beside this module,
one ``<lang>/LC_MESSAGES/messages.po`` each, and the language of a request.

The ``.mo`` files Flask-Babel reads are committed beside their ``.po`` (so an installed wheel
has them) and compiled again here when a ``.po`` is newer (a developer who edits a
translation just reloads). `request_language` picks the language: the user's preference
(console.users.LanguagePreferences) if set, else the best match of the browser's
Accept-Language, else English.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, has_request_context, request
from flask_babel import lazy_gettext as _l

from mailcore import AutoKind, BounceReason, BounceSeverity, PayloadSource
from mailcore.processing.vocabulary import Status

log = logging.getLogger(__name__)

DIRECTORY = Path(__file__).resolve().parent
DEFAULT_LANGUAGE = "en"
# Code -> the language's name in itself (how the menu offers it).
LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français"}


# How the console names each status of a message (mailcore.processing.vocabulary.Status).
STATUS_NAMES = {
    Status.PROCESSED: _l("processed"),
    Status.FAILED: _l("failed"),
    Status.AUTO: _l("auto-reply"),
    Status.DUPLICATE: _l("duplicate"),
    Status.REJECTED: _l("rejected"),
}


def status_name(status: str) -> str:
    """`status` as the console shows it, in the reader's language (an unknown one as is)."""
    return str(STATUS_NAMES.get(status, status))  # type: ignore[call-overload]


# How the console names what mailcore says of an automatic mail: its kind (AutoKind), and
# for each bounced recipient whether retrying can help (BounceSeverity) and why (BounceReason).
# (mailcore.inbound.automatic owns those vocabularies.)
AUTO_KIND_NAMES = {
    AutoKind.BOUNCE: _l("delivery failure report"),
    AutoKind.VACATION: _l("out-of-office reply"),
    AutoKind.FEEDBACK: _l("complaint report"),
    AutoKind.OTHER: _l("other automatic mail"),
}
BOUNCE_NAMES = {
    BounceSeverity.HARD: _l("hard (permanent)"),
    BounceSeverity.SOFT: _l("soft (temporary)"),
    BounceReason.UNKNOWN_USER: _l("unknown user"),
    BounceReason.MAILBOX_FULL: _l("mailbox full"),
    BounceReason.BLOCKED_AS_SPAM: _l("blocked as spam"),
    BounceReason.DOMAIN_NOT_FOUND: _l("domain not found"),
    BounceReason.MESSAGE_TOO_LARGE: _l("message too large"),
    BounceReason.POLICY: _l("refused by policy"),
    BounceReason.TEMPORARY: _l("temporary failure"),
    BounceReason.OTHER: _l("other"),
}


# Where mailcore found what it read (PayloadSource, and mailcore.inbound.model's
# IdentifierSource for the identifier), as the detail page says it after "read from".
SOURCE_NAMES = {
    PayloadSource.JSON_PART: _l("a JSON attachment"),
    PayloadSource.TEXT_DOCUMENT: _l("a YAML or JSON document in the text"),
    PayloadSource.KEY_LINES: _l("“key: value” lines"),
    PayloadSource.OVER_LIMITS: _l("found, over the limits"),
    PayloadSource.NONE: _l("nowhere"),
    "subaddress": _l("the +tag of the address"),
    "subject": _l("the subject's [tag]"),
    "references": _l("the headers of the mail it answers"),
    "bounce-address": _l("the bounce address"),
}


def source_name(source: object) -> str:
    """Where a payload or an identifier was found, in the reader's language."""
    text = str(getattr(source, "value", source))
    return str(SOURCE_NAMES.get(text, text))


def auto_kind_name(kind: str) -> str:
    """An automatic mail's kind in the reader's language (an unknown one as is)."""
    return str(AUTO_KIND_NAMES.get(kind, kind))


def bounce_name(value: str) -> str:
    """A bounced recipient's severity or reason in the reader's language (unknown: as is)."""
    return str(BOUNCE_NAMES.get(value, value))


def compile_catalogs(directory: Path = DIRECTORY) -> list[Path]:
    """Compile every ``messages.po`` under `directory` whose ``.mo`` is missing or older;
    the ``.mo`` files written. A directory that cannot be written keeps its ``.mo``."""
    written = []
    for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            mo.write_bytes(catalog_bytes(po))
        except OSError as exc:
            log.warning("cannot compile %s (%s): using the committed catalog", po, exc)
            continue
        written.append(mo)
    return written


def catalog_bytes(po: Path) -> bytes:
    """The compiled (``.mo``) form of the catalog `po`."""
    import io

    with po.open("rb") as fh:
        catalog = read_po(fh, locale=po.parent.parent.name)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def request_language(preference: Callable[[], str | None]) -> str:
    """The language of this request: `preference()` (the user's) when it is one of
    LANGUAGES, else the browser's best match, else DEFAULT_LANGUAGE."""
    if not has_request_context():  # e.g. a command run in an app context: the source text
        return DEFAULT_LANGUAGE
    chosen = preference()
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT_LANGUAGE


def init_app(app: Flask, preference: Callable[[], str | None]) -> None:
    """Flask-Babel on `app`, with the catalogs of this package (compiled when stale)."""
    from flask_babel import Babel, get_locale

    compile_catalogs()
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(DIRECTORY))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    Babel(app, locale_selector=lambda: request_language(preference))

    from console.timeline import kind_title  # an event kind's name, as status_name a status's

    @app.context_processor
    def languages() -> dict[str, object]:
        return {
            "LANGUAGES": LANGUAGES,
            "get_locale": get_locale,
            "status_name": status_name,
            "kind_title": kind_title,
            "auto_kind_name": auto_kind_name,
            "bounce_name": bounce_name,
            "source_name": source_name,
        }
