"""One message's timeline as the console shows it: each event's title, the payload fields it
changed, and the line diff of its payload (`diff_lines`, the one both the operator's detail
page and the admin's history timeline show)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from mailcore import DEFAULT_PAYLOAD_LIMITS as DEFAULT_LIMITS
from mailcore import PayloadTooLarge, check_payload
from mailcore.processing.vocabulary import EventKind, Status


@dataclass
class Change:
    """One payload field that differs between before and after."""

    path: str
    before: str | None  # None: the field was added
    after: str | None  # None: the field was removed


@dataclass
class TimelineStep:
    """An event as the timeline shows it: a title, who, and what changed."""

    event: Any
    title: str
    changes: list[Change] = field(default_factory=list)
    diff: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, event: Any) -> TimelineStep:
        before, after = event.before, event.after
        changes: list[Change] = []
        diff: list[tuple[str, str]] = []
        if isinstance(before, Mapping) and isinstance(after, Mapping) and _payloads(event):
            changes = payload_changes(before, after)
            diff = diff_lines(before, after)
        return cls(event=event, title=_title(event), changes=changes, diff=diff)


def _payloads(event: Any) -> bool:
    """Whether before/after of `event` are payloads (an extraction's are its metadata)."""
    return bool(event.kind != EventKind.EXTRACTED)


# By event kind; a status or an older kind ("rerun") as a kind gets its title too.
_TITLES: dict[str, Any] = {  # lazy: in the reader's language
    EventKind.RECEIVED: _l("Received"),
    EventKind.EXTRACTED: _l("Extracted"),
    EventKind.ROUTED: _l("Routed"),
    EventKind.HANDLED: _l("Handled"),
    EventKind.AUTO_REPLY: _l("Filed as auto-reply"),
    Status.PROCESSED: _l("Processed"),
    EventKind.FAILED: _l("Failed"),
    EventKind.CORRECTED: _l("Corrected"),
    EventKind.RESUBMITTED: _l("Re-submitted"),
    "rerun": _l("Re-run"),
    EventKind.MOVED: _l("Moved"),
    EventKind.REJECTED: _l("Rejected"),
    Status.AUTO: _l("Filed as auto-reply"),
    EventKind.DUPLICATE: _l("Duplicate"),
    EventKind.ADMIN: _l("Account change"),
    EventKind.AUTH: _l("Login"),
    EventKind.TEMPLATE: _l("Template change"),
    EventKind.SENT: _l("Mail sent"),
}


def kind_title(kind: str) -> str:
    """What an event of this kind is called on the console's pages."""
    title = _TITLES.get(kind)
    return str(title) if title is not None else str(kind).replace("_", " ").capitalize()


def _title(event: Any) -> str:
    title = kind_title(event.kind)
    if event.kind == EventKind.MOVED and event.folder:
        title = _("%(title)s to %(folder)s", title=title, folder=event.folder)
    return title


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def payload_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """Field-level changes from `before` to `after` (nested keys as dotted paths)."""
    old, new = _flatten(before), _flatten(after)
    changes = []
    for path in sorted(old.keys() | new.keys()):
        if path in old and path in new:
            if old[path] != new[path]:
                changes.append(Change(path, _show(old[path]), _show(new[path])))
        elif path in old:
            changes.append(Change(path, _show(old[path]), None))
        else:
            changes.append(Change(path, None, _show(new[path])))
    return changes


def diff_lines(before: Any, after: Any) -> list[tuple[str, str]]:
    """A unified line diff of two payloads as (kind, line), kind in '+', '-', ' '.

    Keys are sorted, so a payload whose keys were only reordered has no diff; a side that is
    None has no lines (the other side's are all added, or all removed); a payload over the
    payload limits is not written out (a shared list written out is all its copies): its one
    line says why.
    """
    out: list[tuple[str, str]] = []
    for line in difflib.unified_diff(_lines(before), _lines(after), lineterm="", n=2):
        if line.startswith(("---", "+++", "@@")):
            continue
        out.append((line[:1] or " ", line[1:]))
    return out


def _lines(payload: Any) -> list[str]:
    if payload is None:
        return []
    try:
        check_payload(payload, DEFAULT_LIMITS)
    except PayloadTooLarge as exc:
        return [_("(not shown: %(why)s)", why=exc)]
    try:
        text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    except TypeError:  # keys that cannot be sorted together (e.g. from YAML: 1 and "a")
        text = json.dumps(payload, indent=2, ensure_ascii=False, default=str)
    return text.splitlines()
