"""The `template_versions` table, the database triggers that keep its rows immutable, and
`Version`, the immutable state of a template one row holds.

Every save appends a row; nothing is ever updated in place or deleted -- the database refuses
both too, with triggers (`install_guards`, run whenever the table is created and when a store
opens it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mailcore.store.db import METADATA

if TYPE_CHECKING:
    from mailcore.outbound.templating import Template

log = logging.getLogger(__name__)

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
    # The same message in other languages: JSON {"fr": {"subject": ..., "body": ...}}; NULL
    # (rows from before variants, and templates in one language) is the default only.
    sa.Column("variants", sa.Text, nullable=True),
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
    variants: dict[str, tuple[str, str]] = field(default_factory=dict)  # tag -> subject, body

    def as_text(self) -> str:
        """The text the diff compares: subject, body, each language's, then the sample data
        as sorted JSON."""
        data = json.dumps(self.sample_data, indent=2, sort_keys=True, ensure_ascii=False)
        handler = f"Handler: {self.handler}\n" if self.handler else ""
        languages = "".join(
            f"--- language {tag} ---\nSubject: {subject}\n\n{body.rstrip()}\n\n"
            for tag, (subject, body) in sorted(self.variants.items())
        )
        return (
            f"Subject: {self.subject}\n{handler}\n{self.body.rstrip()}\n\n{languages}"
            f"--- sample data ---\n{data}\n"
        )

    def template(self) -> Template:
        """This version as the outbound Template that composes mail from it (every language)."""
        from mailcore.outbound.templating import Template

        return Template(self.name, self.subject, self.body, variants=dict(self.variants))


def variants_json(variants: dict[str, tuple[str, str]]) -> str | None:
    """The `variants` column's value (None when there is none)."""
    if not variants:
        return None
    as_dict = {tag: {"subject": s, "body": b} for tag, (s, b) in sorted(variants.items())}
    return json.dumps(as_dict, ensure_ascii=False)


def _variants(text: str | None) -> dict[str, tuple[str, str]]:
    stored = json.loads(text) if text else {}
    return {tag: (v["subject"], v["body"]) for tag, v in stored.items()}


def version_from_row(row: sa.RowMapping) -> Version:
    """The Version a row of `template_versions` holds."""
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
        variants=_variants(row.get("variants")),
    )


def newest_first(name: str) -> sa.Select[Any]:
    """The versions of `name`, newest first."""
    t = template_versions
    return sa.select(t).where(t.c.name == name).order_by(t.c.version.desc())
