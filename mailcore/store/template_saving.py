"""Appending a version: the `Draft` about to be saved and the `VersionWriter` that numbers it,
refuses a save on top of a version the editor did not start from (`TemplateConflict`), and
records it in the history.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa

from mailcore.errors import TemplateError
from mailcore.store.records import EventKind
from mailcore.store.template_table import (
    Version,
    newest_first,
    template_versions,
    variants_json,
    version_from_row,
)

log = logging.getLogger(__name__)

_SAVE_ATTEMPTS = 10


class TemplateConflict(TemplateError):
    """Someone saved a newer version since the editor loaded `base`; reload and merge."""


@dataclass(frozen=True)
class Draft:
    """A version about to be appended: `base` is the version an editor started from (None: on
    top of whatever is latest); `restored_from` the old version it brings back."""

    name: str
    subject: str
    body: str
    sample_data: dict[str, Any]
    note: str
    by: str
    handler: str | None
    base: int | None = None
    restored_from: int | None = None
    variants: dict[str, tuple[str, str]] = field(default_factory=dict)  # tag -> subject, body

    def same_content(self, version: Version) -> bool:
        """True when saving this draft would change nothing of `version` (sample data
        compared as data: its key order is the author's, not a change)."""
        return (version.subject, version.body, version.sample_data, version.handler) == (
            self.subject,
            self.body,
            self.sample_data,
            self.handler,
        ) and version.variants == self.variants


class Recorder(Protocol):
    def record(self, kind: EventKind, **fields: Any) -> None: ...


class VersionWriter:
    """Appends drafts as new versions of `template_versions`, each recorded in `history`."""

    def __init__(self, db: sa.Engine, history: Recorder | None = None) -> None:
        self.db = db
        self.history = history

    def append(self, draft: Draft) -> Version:
        # Two saves racing for the same number: the unique (name, version) constraint refuses
        # the later one. Saved from an editor (`base`), that is a conflict the author merges;
        # otherwise the save goes on top of the winner.
        # Every lost race means another save won, so a handful of attempts is plenty.
        for attempt in range(_SAVE_ATTEMPTS):
            try:
                return self._append_once(draft)
            except sa.exc.IntegrityError as e:
                if draft.base is None and attempt < _SAVE_ATTEMPTS - 1:
                    continue
                name, latest = draft.name, self._latest(draft.name)
                raise TemplateConflict(
                    f"template {name!r} was saved as version {latest.number if latest else '?'} "
                    f"by {latest.by if latest else '?'} at the same time; "
                    "reload it and apply your change again"
                ) from e
        raise AssertionError("not reached")

    def _latest(self, name: str) -> Version | None:
        with self.db.connect() as conn:
            row = conn.execute(newest_first(name).limit(1)).mappings().first()
        return version_from_row(row) if row else None

    def _append_once(self, d: Draft) -> Version:
        t = template_versions
        now = datetime.now(UTC)
        with self.db.begin() as conn:
            row = conn.execute(newest_first(d.name).limit(1)).mappings().first()
            latest = version_from_row(row) if row else None
            current = latest.number if latest else 0
            if d.base is not None and d.base != current:
                raise TemplateConflict(
                    f"template {d.name!r} was saved as version {current} by "
                    f"{latest.by if latest else '?'} after you opened version {d.base}; "
                    "reload it and apply your change again"
                )
            if latest is not None and d.restored_from is None and d.same_content(latest):
                return latest
            number = current + 1
            # The unique (name, version) constraint makes a concurrent save of the same number
            # fail here (IntegrityError, see append) rather than produce two versions 3.
            conn.execute(
                t.insert().values(
                    name=d.name,
                    version=number,
                    handler=d.handler,
                    subject=d.subject,
                    body=d.body,
                    # In the author's order: the editor shows it back as it was typed.
                    sample_data=json.dumps(d.sample_data, ensure_ascii=False),
                    variants=variants_json(d.variants),
                    note=d.note,
                    created_by=d.by,
                    created_at=now,
                    restored_from=d.restored_from,
                )
            )
        log.info("template %s saved as version %d by %s", d.name, number, d.by)
        if self.history is not None:
            action = (
                f"restored v{d.restored_from} as v{number}"
                if d.restored_from
                else f"saved v{number}"
            )
            self.history.record(
                EventKind.TEMPLATE,
                actor=d.by,
                subject=d.name,
                reason=f"{action}: {d.note}" if d.note else action,
                after={"template": d.name, "version": number, "restored_from": d.restored_from},
            )
        return Version(
            d.name,
            number,
            d.subject,
            d.body,
            d.sample_data,
            d.note,
            d.by,
            now,
            d.handler,
            d.restored_from,
            dict(d.variants),
        )
