"""Versioned outbound templates, stored next to the processing history.

Every save appends an immutable version (who, when, a change note); nothing is ever updated
in place or deleted -- the database refuses both too, with triggers. Restoring copies an old
version into a new one, so the record of who changed what stays complete. A template that does
not render cleanly on its own sample data (syntax error, undefined placeholder, markup the
sanitizer removes, refused construct) is not saved: `TemplateHasErrors` lists each problem with
its line.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa

from mailcore.errors import MailcoreError, TemplateError
from mailcore.store.db import METADATA

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_SAVE_ATTEMPTS = 10

template_versions = sa.Table(
    "template_versions",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("handler", sa.String(128), nullable=True),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("sample_data", sa.Text, nullable=False),  # JSON object
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("restored_from", sa.Integer, nullable=True),
    sa.UniqueConstraint("name", "version", name="uq_template_versions_name_version"),
)

# Immutability is a property of the data, not of this module's manners: refuse UPDATE and
# DELETE (and TRUNCATE on PostgreSQL) in the database itself, so a hand-written SQL fix cannot
# silently rewrite or remove what partners were sent. (name, DDL) per dialect, in order.
_GUARDS: dict[str, list[tuple[str | None, str]]] = {
    "sqlite": [
        (
            "template_versions_immutable",
            "CREATE TRIGGER IF NOT EXISTS template_versions_immutable BEFORE UPDATE"
            " ON template_versions"
            " BEGIN SELECT RAISE(ABORT, 'template versions are immutable'); END",
        ),
        (
            "template_versions_undeletable",
            "CREATE TRIGGER IF NOT EXISTS template_versions_undeletable BEFORE DELETE"
            " ON template_versions"
            " BEGIN SELECT RAISE(ABORT, 'template versions are immutable: never deleted'); END",
        ),
    ],
    "postgresql": [
        (
            None,  # the function every trigger runs; replaced whenever a trigger is missing
            "CREATE OR REPLACE FUNCTION template_versions_immutable() RETURNS trigger AS $$"
            " BEGIN RAISE EXCEPTION 'template versions are immutable (% refused)', TG_OP; END"
            " $$ LANGUAGE plpgsql",
        ),
        (
            "template_versions_immutable",
            "CREATE TRIGGER template_versions_immutable BEFORE UPDATE ON template_versions"
            " FOR EACH ROW EXECUTE FUNCTION template_versions_immutable()",
        ),
        (
            "template_versions_undeletable",
            "CREATE TRIGGER template_versions_undeletable BEFORE DELETE ON template_versions"
            " FOR EACH ROW EXECUTE FUNCTION template_versions_immutable()",
        ),
        (
            "template_versions_untruncatable",
            "CREATE TRIGGER template_versions_untruncatable BEFORE TRUNCATE ON template_versions"
            " FOR EACH STATEMENT EXECUTE FUNCTION template_versions_immutable()",
        ),
    ],
}
_EXISTING_TRIGGERS = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    " AND tbl_name = 'template_versions'",
    "postgresql": "SELECT tgname FROM pg_trigger"
    " WHERE tgrelid = to_regclass('template_versions') AND NOT tgisinternal",
}


def install_guards(conn: sa.Connection) -> list[str]:
    """Create the triggers refusing UPDATE/DELETE of versions that `conn`'s database lacks
    (a new table, or one made by an older mailcore); the names of those created."""
    dialect = conn.dialect.name
    guards = _GUARDS.get(dialect)
    if not guards:
        return []  # another database: immutability rests on this module alone
    if dialect == "postgresql":
        # Two processes upgrading at once must not both create the same trigger.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('template_versions_guards'))"))
    existing = {row[0] for row in conn.execute(sa.text(_EXISTING_TRIGGERS[dialect]))}
    missing = [name for name, _ in guards if name is not None and name not in existing]
    if missing:
        for name, ddl in guards:
            if name is None or name in missing:
                conn.execute(sa.text(ddl))
        log.info("template versions guarded against %s", ", ".join(missing))
    return missing


@sa.event.listens_for(template_versions, "after_create")
def _guard_new_table(target: sa.Table, connection: sa.Connection, **_: Any) -> None:
    install_guards(connection)


class UnknownTemplate(MailcoreError, KeyError):
    """No such template, or no such version of it."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown template"


@dataclass(frozen=True)
class Problem:
    """One reason a template cannot be saved; `line` is 1-based in `source` when known."""

    line: int | None
    message: str
    kind: str  # "syntax" | "undefined" | "unsafe" | "refused" | "data"
    name: str | None = None  # the placeholder, for "undefined"
    source: str = "body"  # "subject" | "body" | "sample data" | "name"


class TemplateHasErrors(TemplateError):
    """Saving was refused: `problems` says what to fix, each with its line when known."""

    def __init__(self, name: str, problems: Sequence[Problem]) -> None:
        first = problems[0]
        undefined = [p.name for p in problems if p.kind == "undefined" and p.name]
        where = f" (line {first.line})" if first.line else ""
        more = f", and {len(problems) - 1} more" if len(problems) > 1 else ""
        super().__init__(
            f"template {name!r} not saved: {first.message}{where}{more}",
            line=first.line,
            names=undefined,
        )
        self.problems = list(problems)


class TemplateConflict(TemplateError):
    """Someone saved a newer version since the editor loaded `base`; reload and merge."""


@dataclass(frozen=True)
class Version:
    """One saved, immutable state of a template."""

    name: str
    number: int
    subject: str
    body: str
    sample_data: dict[str, Any]
    note: str
    by: str
    at: datetime
    handler: str | None = None
    restored_from: int | None = None

    def as_text(self) -> str:
        """The text the diff compares: subject, body, then the sample data as sorted JSON."""
        data = json.dumps(self.sample_data, indent=2, sort_keys=True, ensure_ascii=False)
        handler = f"Handler: {self.handler}\n" if self.handler else ""
        return (
            f"Subject: {self.subject}\n{handler}\n{self.body.rstrip()}\n\n"
            f"--- sample data ---\n{data}\n"
        )


@dataclass(frozen=True)
class _Draft:
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


@dataclass(frozen=True)
class TemplateSummary:
    """A template as the list page shows it: its latest version and how many there are."""

    name: str
    latest: Version
    count: int


class _Recorder(Protocol):
    def record(self, kind: str, **fields: Any) -> None: ...


Checker = Callable[[str, str, str, Mapping[str, Any]], list[Problem]]


def check_template(name: str, subject: str, body: str, data: Mapping[str, Any]) -> list[Problem]:
    """Everything that would keep this template from rendering cleanly on `data`.

    Stricter than sending: markup the sanitizer would remove ("unsafe") is an error here, so
    what is stored is exactly what partners receive.
    """
    # Imported here: templating pulls in Markdown and bleach, which the store's readers
    # (history page, version list) never need.
    from mailcore.outbound.templating import Template, render_all

    result = render_all(Template(name=name, subject=subject, body=body), dict(data))
    return [as_problem(p) for p in result.problems]


def as_problem(found: Any) -> Problem:
    """A store Problem from a templating or compose problem (line, message, kind, source)."""
    kind = str(found.kind)
    name = placeholder_name(found.message) if kind == "undefined" else None
    return Problem(found.line, str(found.message), kind, name, getattr(found, "source", "body"))


def placeholder_name(message: str) -> str | None:
    """The name in a message such as "undefined placeholder {{ owner.name }}"."""
    found = re.search(r"\{\{\s*([^\s}]+)\s*\}\}|['\"`]([A-Za-z_][\w.]*)['\"`]", message)
    return (found.group(1) or found.group(2)) if found else None


def field_problems(name: str, subject: str, sample_data: Any) -> list[Problem]:
    """Problems of the name, subject and sample data themselves, before any rendering."""
    found: list[Problem] = []
    if not NAME_RE.match(name):
        found.append(
            Problem(
                None,
                "the name must be 1-64 lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit",
                "refused",
                source="name",
            )
        )
    if not subject.strip():
        found.append(Problem(None, "the subject is empty", "refused", source="subject"))
    if not isinstance(sample_data, Mapping):
        found.append(
            Problem(None, "sample data must be a JSON object", "data", source="sample data")
        )
    return found


class TemplateStore:
    """Templates and their versions in the history database (SQLAlchemy Core)."""

    def __init__(
        self,
        db: sa.Engine,
        history: _Recorder | None = None,
        checker: Checker = check_template,
    ) -> None:
        self.db = db
        self.history = history
        self.checker = checker
        template_versions.create(db, checkfirst=True)
        with db.begin() as conn:
            install_guards(conn)  # a table from before the DELETE guard gets it now

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
        return [TemplateSummary(r["name"], _version(r), r["version"]) for r in rows]

    def latest(self, name: str) -> Version | None:
        """The newest version of `name`, or None when there is no such template."""
        t = template_versions
        query = sa.select(t).where(t.c.name == name).order_by(t.c.version.desc()).limit(1)
        with self.db.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _version(row) if row else None

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
        return _version(row)

    def versions(self, name: str) -> list[Version]:
        """All versions of `name`, newest first (empty when there is no such template)."""
        t = template_versions
        query = sa.select(t).where(t.c.name == name).order_by(t.c.version.desc())
        with self.db.connect() as conn:
            return [_version(r) for r in conn.execute(query).mappings()]

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
        self, name: str, subject: str, body: str, sample_data: Mapping[str, Any]
    ) -> list[Problem]:
        """What would keep `save` from accepting this template (empty when it is fine)."""
        found = field_problems(name, subject, sample_data)
        for source, text in (("subject", subject), ("body", body)):
            if "\x00" in text:  # PostgreSQL cannot store it; nobody means to type it
                line = text.count("\n", 0, text.index("\x00")) + 1
                found.append(Problem(line, "contains a NUL character", "refused", source=source))
        if not isinstance(sample_data, Mapping):
            return found
        return found + self.checker(name, subject, body, sample_data)

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
    ) -> Version:
        """Append a new version; TemplateHasErrors if it does not render cleanly.

        `base` is the version the editor started from: if someone saved since, TemplateConflict
        instead of overwriting their work. Saving content identical to the latest version
        returns that version and records nothing.
        """
        problems = self.problems(name, subject, body, sample_data)
        if problems:
            raise TemplateHasErrors(name, problems)
        note = note.replace("\x00", "")  # free text PostgreSQL would refuse; not worth an error
        return self._append(
            _Draft(name, subject, body, dict(sample_data), note, by, handler, base=base)
        )

    def restore(self, name: str, version: int, by: str, note: str = "") -> Version:
        """Make version `version` current again, as a new version that says where it came from."""
        old = self.get(name, version)
        problems = self.problems(name, old.subject, old.body, old.sample_data)
        if problems:
            # Rendering rules may have tightened since that version was saved.
            raise TemplateHasErrors(name, problems)
        note = note or f"restored version {version}"
        return self._append(
            _Draft(
                name,
                old.subject,
                old.body,
                old.sample_data,
                note,
                by,
                old.handler,
                restored_from=version,
            )
        )

    def _append(self, draft: _Draft) -> Version:
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
                name, latest = draft.name, self.latest(draft.name)
                raise TemplateConflict(
                    f"template {name!r} was saved as version {latest.number if latest else '?'} "
                    f"by {latest.by if latest else '?'} at the same time; "
                    "reload it and apply your change again"
                ) from e
        raise AssertionError("not reached")

    def _append_once(self, d: _Draft) -> Version:
        t = template_versions
        now = datetime.now(UTC)
        with self.db.begin() as conn:
            row = (
                conn.execute(
                    sa.select(t).where(t.c.name == d.name).order_by(t.c.version.desc()).limit(1)
                )
                .mappings()
                .first()
            )
            latest = _version(row) if row else None
            current = latest.number if latest else 0
            if d.base is not None and d.base != current:
                raise TemplateConflict(
                    f"template {d.name!r} was saved as version {current} by "
                    f"{latest.by if latest else '?'} after you opened version {d.base}; "
                    "reload it and apply your change again"
                )
            if (
                latest is not None
                and d.restored_from is None
                and (latest.subject, latest.body, latest.sample_data, latest.handler)
                == (d.subject, d.body, d.sample_data, d.handler)
            ):
                return latest
            number = current + 1
            # The unique (name, version) constraint makes a concurrent save of the same number
            # fail here (IntegrityError, see _append) rather than produce two versions 3.
            conn.execute(
                t.insert().values(
                    name=d.name,
                    version=number,
                    handler=d.handler,
                    subject=d.subject,
                    body=d.body,
                    sample_data=json.dumps(d.sample_data, ensure_ascii=False, sort_keys=True),
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
                "template",
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
        )


def _version(row: sa.RowMapping) -> Version:
    at = row["created_at"]
    if at.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        at = at.replace(tzinfo=UTC)
    return Version(
        name=row["name"],
        number=row["version"],
        subject=row["subject"],
        body=row["body"],
        sample_data=json.loads(row["sample_data"]),
        note=row["note"],
        by=row["created_by"],
        at=at,
        handler=row["handler"],
        restored_from=row["restored_from"],
    )


# -- sample data from a JSON Schema ------------------------------------------------------

_FORMAT_EXAMPLES = {
    "date": "2024-05-14",
    "date-time": "2024-05-14T09:30:00+02:00",
    "time": "09:30:00",
    "email": "partner@example.com",
    "uri": "https://example.com/",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
}


def sample_from_schema(schema: Mapping[str, Any], _depth: int = 0, _key: str = "") -> Any:
    """A plausible example value for `schema`: its examples, default, enum or a typed stand-in.

    Good enough to pre-fill an editor's sample data: every property of an object is present,
    so every placeholder a template author can use has a value to show in the preview.
    """
    if _depth > 8:  # recursive schemas
        return None
    for key in ("examples",):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema[key][0]
    for key in ("example", "default", "const"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("oneOf", "anyOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            if key == "allOf":
                merged: dict[str, Any] = {}
                for part in schema[key]:
                    value = sample_from_schema(part, _depth + 1)
                    if isinstance(value, dict):
                        merged.update(value)
                if merged:
                    return merged
            return sample_from_schema(schema[key][0], _depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind == "object":
        props = schema.get("properties") or {}
        return {
            key: sample_from_schema(sub if isinstance(sub, Mapping) else {}, _depth + 1, key)
            for key, sub in props.items()
        }
    if kind == "array":
        items = schema.get("items")
        item = sample_from_schema(items, _depth + 1, _key) if isinstance(items, Mapping) else "item"
        return [item] * max(1, int(schema.get("minItems", 1)))
    if kind == "string":
        fmt = schema.get("format")
        if fmt in _FORMAT_EXAMPLES:
            return _FORMAT_EXAMPLES[fmt]
        hinted = _described_example(schema)
        if hinted is not None:
            return hinted
        text = str(schema.get("title") or _key.replace("_", " ").capitalize() or "text")
        minimum, maximum = int(schema.get("minLength", 0)), schema.get("maxLength")
        text = text.ljust(minimum, "x")
        return text[: int(maximum)] if maximum is not None else text
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.5))
    if kind == "boolean":
        return True
    return None


_EG = re.compile(r"\b(?:e\.g\.|for example|example:|ex\.)\s*[:,]?\s*([^\s,;()]+)", re.I)


def _described_example(schema: Mapping[str, Any]) -> str | None:
    """An example written in the description ("French format, e.g. AB-123-CD"), if it fits
    the schema's pattern."""
    found = _EG.search(str(schema.get("description") or ""))
    if not found:
        return None
    value = found.group(1).rstrip(".")
    pattern = schema.get("pattern")
    if pattern:
        try:
            if not re.search(str(pattern), value):
                return None
        except re.error:
            return None
    return value
