"""Which configured mailbox an operator's page is about, when there are several.

A URL names a mailbox with ``?mailbox=NAME``; without it, a message's page and its actions are
the first mailbox's (so the URLs of a console with one mailbox never change) and a list is of
every mailbox ("All mailboxes"). `url_for` keeps the mailbox of the request in every link it
builds for the operator's pages (`keep_mailbox`), so a form posted from a message's page acts
on that mailbox's message.

`page_across` is the list of all mailboxes (a FailedPage of `Listed` items): the mailboxes'
lists one after the other, in the order configured, each newest first; a page of it asks each
mailbox for the part of its own list the page covers (at most two of its pages), never for the
whole folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import flask
from flask import Blueprint, abort, request

from console.services import services
from mailcore.errors import MailcoreError
from mailcore.processing.outcomes import FailedItem, FailedPage
from mailcore.processing.scope import DEFAULT_MAILBOX

log = logging.getLogger(__name__)

__all__ = [
    "Listed",
    "chosen",
    "chosen_uids",
    "current_engine",
    "install",
    "page_across",
    "unreachable",
]


@dataclass(frozen=True)
class Listed(FailedItem):
    """One message of a list, and the mailbox it is in (its configured name)."""

    mailbox: str = DEFAULT_MAILBOX


def install(bp: Blueprint) -> None:
    """Read ?mailbox= on the blueprint's requests and keep it in the links they build."""
    bp.url_value_preprocessor(_pick_mailbox)
    bp.url_defaults(keep_mailbox)


def _pick_mailbox(endpoint: str | None, values: dict[str, Any] | None) -> None:
    name = request.args.get("mailbox") or None
    if name is not None and name not in services().engines:
        abort(404)
    flask.g.mailbox = name


def keep_mailbox(endpoint: str, values: dict[str, Any]) -> None:
    name = flask.g.get("mailbox")
    if name and "mailbox" not in values:
        values["mailbox"] = name


def chosen() -> str | None:
    """The mailbox the request names (None: none named)."""
    name: str | None = flask.g.get("mailbox")
    return name


def current_engine() -> Any:
    """The engine of the request's mailbox (the first mailbox's when none is named)."""
    return services().engine_for(chosen())


def current_registry() -> Any:
    return services().registry_for(chosen())


def link_name(name: str | None) -> str | None:
    """How a URL names mailbox `name` (None: the default one, as the history records it): not
    at all for the first one configured."""
    name = name or DEFAULT_MAILBOX
    return None if name == services().mailbox_names[0] else name


def chosen_uids(values: list[str]) -> dict[str | None, list[int]]:
    """The UIDs ticked on a list, by mailbox: "42" is of the request's mailbox, "orders:42"
    (a list of every mailbox) of that one; unknown mailboxes and anything else are dropped."""
    out: dict[str | None, set[int]] = {}
    names = services().engines
    for value in values:
        name, _sep, uid = value.rpartition(":")
        if uid.isdigit() and (not name or name in names):
            out.setdefault(name or chosen(), set()).add(int(uid))
    return {name: sorted(uids) for name, uids in out.items()}


def page_across(page: int, per_page: int, **filters: Any) -> FailedPage:
    """Page `page` of every mailbox's list together (see the module docstring); `filters` as
    `Engine.failed_page` takes them (folder_key: the key of Folders, e.g. "failed"). A mailbox
    that cannot be read (its server down) is left out, named in `unreachable()`."""
    key = filters.pop("folder_key")
    start, end = (page - 1) * per_page, page * per_page
    items: list[FailedItem] = []
    unreachable: list[str] = []
    offset = 0
    for name, engine in services().engines.items():
        folder = str(getattr(engine.folders, key))
        try:
            total = engine.failed_page(1, 1, folder=folder, **filters).total
            lo, hi = max(start - offset, 0), min(end - offset, total)
            if lo < hi:
                items += _slice(engine, name, lo, hi, folder, filters)
        except MailcoreError as e:
            log.warning("mailbox %r left out of the list: %s", name, e)
            unreachable.append(name)
            continue
        offset += total
    flask.g.unreachable = unreachable
    return FailedPage(items, offset, page, per_page)


def unreachable() -> list[str]:
    """The mailboxes the request's list of all mailboxes had to leave out."""
    names: list[str] = flask.g.get("unreachable", [])
    return names


def _slice(
    engine: Any, name: str, lo: int, hi: int, folder: str, filters: dict[str, Any]
) -> list[FailedItem]:
    """Items [lo, hi) of one mailbox's list, from the (at most two) pages of hi - lo that
    hold them."""
    size = hi - lo
    first = lo // size + 1
    found: list[Any] = []
    for number in (first, first + 1) if lo % size else (first,):
        found += engine.failed_page(number, size, folder=folder, **filters).items
    skip = lo - (first - 1) * size
    return [
        Listed(i.summary, i.handler, i.reason, i.failure, mailbox=name)
        for i in found[skip : skip + size]
    ]
