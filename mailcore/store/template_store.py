"""Versioned outbound templates, stored next to the processing history.

Every save appends an immutable version (who, when, a change note); nothing is ever updated
in place or deleted -- the database refuses both too, with triggers. Restoring copies an old
version into a new one, so the record of who changed what stays complete. A template that does
not render cleanly on its own sample data (syntax error, undefined placeholder, markup the
sanitizer removes, refused construct) is not saved: `TemplateHasErrors` lists each problem with
its line.

The parts have modules of their own, and every name imported from here still is:
`template_table` (the table, its immutability triggers, `Version`), `template_saving` (drafts,
numbering, conflicts), `template_checks` (`Problem`, `TemplateHasErrors`, what is checked
before saving) and `template_samples` (sample data from a JSON Schema). This module holds the
`TemplateStore` that reads versions and saves or restores them.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from mailcore.errors import MailcoreError
from mailcore.store.template_checks import (
    NAME_RE,
    Checker,
    Problem,
    ProblemKind,
    TemplateHasErrors,
    check_template,
    field_problems,
    text_problems,
    variant_problems,
)
from mailcore.store.template_samples import sample_from_schema
from mailcore.store.template_saving import Draft, Recorder, TemplateConflict, VersionWriter
from mailcore.store.template_table import (
    Version,
    install_guards,
    newest_first,
    template_versions,
    version_from_row,
)

# Names imported from this module before its parts had modules of their own.
__all__ = [
    "NAME_RE",
    "Checker",
    "Problem",
    "ProblemKind",
    "TemplateConflict",
    "TemplateHasErrors",
    "TemplateStore",
    "TemplateSummary",
    "UnknownTemplate",
    "Version",
    "check_template",
    "field_problems",
    "install_guards",
    "sample_from_schema",
    "template_versions",
]


class UnknownTemplate(MailcoreError, KeyError):
    """No such template, or no such version of it."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown template"


@dataclass(frozen=True)
class TemplateSummary:
    """A template as the list page shows it: its latest version and how many there are."""

    name: str
    latest: Version
    count: int


class TemplateStore:
    """Templates and their versions in the history database (SQLAlchemy Core)."""

    def __init__(
        self,
        db: sa.Engine,
        history: Recorder | None = None,
        checker: Checker = check_template,
    ) -> None:
        self.db = db
        self.checker = checker
        self.writer = VersionWriter(db, history)  # appends versions, records them in `history`
        template_versions.create(db, checkfirst=True)
        with db.begin() as conn:
            install_guards(conn)  # a table from before the DELETE guard gets it now

    @property
    def history(self) -> Recorder | None:
        """Where each saved version is recorded (the writer's)."""
        return self.writer.history

    @history.setter
    def history(self, history: Recorder | None) -> None:
        self.writer.history = history

    # -- reading -----------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every template name, sorted."""
        query = sa.select(template_versions.c.name).distinct().order_by(template_versions.c.name)
        with self.db.connect() as conn:
            return [row[0] for row in conn.execute(query)]

    def summaries(self) -> list[TemplateSummary]:
        """Every template with its latest version and version count, sorted by name."""
        t = template_versions
        counts = (
            sa.select(t.c.name, sa.func.max(t.c.version).label("latest"))
            .group_by(t.c.name)
            .subquery()
        )
        query = (
            sa.select(t)
            .join(counts, sa.and_(t.c.name == counts.c.name, t.c.version == counts.c.latest))
            .order_by(t.c.name)
        )
        with self.db.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [TemplateSummary(r["name"], version_from_row(r), r["version"]) for r in rows]

    def latest(self, name: str) -> Version | None:
        """The newest version of `name`, or None when there is no such template."""
        with self.db.connect() as conn:
            row = conn.execute(newest_first(name).limit(1)).mappings().first()
        return version_from_row(row) if row else None

    def get(self, name: str, version: int | None = None) -> Version:
        """Version `version` of `name` (the latest when None); UnknownTemplate if absent."""
        if version is None:
            found = self.latest(name)
            if found is None:
                raise UnknownTemplate(f"no template named {name!r}")
            return found
        t = template_versions
        query = sa.select(t).where(t.c.name == name, t.c.version == version)
        with self.db.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise UnknownTemplate(f"template {name!r} has no version {version}")
        return version_from_row(row)

    def versions(self, name: str) -> list[Version]:
        """All versions of `name`, newest first (empty when there is no such template)."""
        with self.db.connect() as conn:
            return [version_from_row(r) for r in conn.execute(newest_first(name)).mappings()]

    def diff(self, name: str, v1: int, v2: int, context: int = 3) -> str:
        """Unified diff from version `v1` to `v2` of subject, body and sample data."""
        old, new = self.get(name, v1), self.get(name, v2)
        lines = difflib.unified_diff(
            old.as_text().splitlines(keepends=True),
            new.as_text().splitlines(keepends=True),
            fromfile=f"{name} v{v1}",
            tofile=f"{name} v{v2}",
            n=context,
        )
        return "".join(lines)

    # -- writing -----------------------------------------------------------------------

    def problems(
        self,
        name: str,
        subject: str,
        body: str,
        sample_data: Mapping[str, Any],
        variants: Mapping[str, tuple[str, str]] | None = None,
    ) -> list[Problem]:
        """What would keep `save` from accepting this template, in every language (empty
        when it is fine)."""
        found = field_problems(name, subject, sample_data) + text_problems(subject, body)
        if not isinstance(sample_data, Mapping):
            return found
        found += self.checker(name, subject, body, sample_data)
        return found + variant_problems(name, variants or {}, sample_data, self.checker)

    def save(
        self,
        name: str,
        subject: str,
        body: str,
        sample_data: Mapping[str, Any],
        note: str,
        by: str,
        *,
        handler: str | None = None,
        base: int | None = None,
        variants: Mapping[str, tuple[str, str]] | None = None,
    ) -> Version:
        """Append a new version; TemplateHasErrors if it does not render cleanly (in any of
        its languages: `variants`, tag -> (subject, body), beside the default).

        `base` is the version the editor started from: if someone saved since, TemplateConflict
        instead of overwriting their work. Saving content identical to the latest version
        returns that version and records nothing.
        """
        variants = dict(variants or {})
        problems = self.problems(name, subject, body, sample_data, variants)
        if problems:
            raise TemplateHasErrors(name, problems)
        note = note.replace("\x00", "")  # free text PostgreSQL would refuse; not worth an error
        draft = Draft(name, subject, body, dict(sample_data), note, by, handler, base=base)
        return self.writer.append(replace(draft, variants=variants))

    def restore(self, name: str, version: int, by: str, note: str = "") -> Version:
        """Make version `version` current again, as a new version that says where it came from."""
        old = self.get(name, version)
        problems = self.problems(name, old.subject, old.body, old.sample_data, old.variants)
        if problems:
            # Rendering rules may have tightened since that version was saved.
            raise TemplateHasErrors(name, problems)
        note = note or f"restored version {version}"
        return self.writer.append(
            Draft(
                name,
                old.subject,
                old.body,
                old.sample_data,
                note,
                by,
                old.handler,
                restored_from=version,
                variants=dict(old.variants),
            )
        )
