"""Baseline: the schema of mailcore at commit 457116b (2026-12-02), the last without
migrations.

Databases made by that code, or before it, carry no revision: this one creates each table
that is missing, and gives a template_versions table from before language variants its
`variants` column (what mailcore.store.template_table did by hand at every start), so that
every such database reaches the same schema and is stamped 0001.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _missing(table: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _missing("console_login_throttle"):
        op.create_table(
            "console_login_throttle",
            sa.Column("key", sa.String(length=320), nullable=False),
            sa.Column("failures", sa.Integer(), nullable=False),
            sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
            sa.Column("lockouts", sa.Integer(), nullable=False),
            sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("key"),
        )

    if _missing("console_user_languages"):
        op.create_table(
            "console_user_languages",
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("language", sa.String(length=8), nullable=False),
            sa.PrimaryKeyConstraint("user_id"),
        )

    if _missing("console_users"):
        op.create_table(
            "console_users",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("username", sa.String(length=64), nullable=False),
            sa.Column("password_hash", sa.String(length=255), nullable=False),
            sa.Column("role", sa.String(length=16), nullable=False),
            sa.Column("email", sa.String(length=255), nullable=True),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("username"),
        )

    if _missing("mc_claims"):
        op.create_table(
            "mc_claims",
            sa.Column("message_key", sa.String(length=64), nullable=False),
            sa.Column("owner", sa.String(length=128), nullable=False),
            sa.Column("expires", sa.Float(), nullable=False),
            sa.Column("folder", sa.String(length=255), nullable=True),
            sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
            sa.Column("uid", sa.BigInteger(), nullable=True),
            sa.PrimaryKeyConstraint("message_key"),
        )
        op.create_index("ix_mc_claims_slot", "mc_claims", ["folder", "uidvalidity"], unique=False)

    if _missing("mc_events"):
        op.create_table(
            "mc_events",
            sa.Column(
                "id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                autoincrement=True,
                nullable=False,
            ),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("message_key", sa.String(length=64), nullable=True),
            sa.Column("message_id", sa.String(length=998), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=True),
            sa.Column("handler", sa.String(length=128), nullable=True),
            sa.Column("sender", sa.String(length=512), nullable=True),
            sa.Column("subject", sa.Text(), nullable=True),
            sa.Column("identifier", sa.String(length=128), nullable=True),
            sa.Column("folder", sa.String(length=255), nullable=True),
            sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
            sa.Column("uid", sa.BigInteger(), nullable=True),
            sa.Column("reason", sa.Text(), nullable=True),
            sa.Column("actor", sa.String(length=128), nullable=False),
            sa.Column("before", sa.JSON(), nullable=True),
            sa.Column("after", sa.JSON(), nullable=True),
            sa.Column("errors", sa.JSON(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_mc_events_at", "mc_events", ["at"], unique=False)
        op.create_index(
            "ix_mc_events_handler",
            "mc_events",
            ["handler", "at"],
            unique=False,
            sqlite_where=sa.text("handler IS NOT NULL"),
            postgresql_where=sa.text("handler IS NOT NULL"),
        )
        op.create_index(
            "ix_mc_events_identifier",
            "mc_events",
            ["identifier", "at"],
            unique=False,
            sqlite_where=sa.text("identifier IS NOT NULL"),
            postgresql_where=sa.text("identifier IS NOT NULL"),
        )
        op.create_index("ix_mc_events_key", "mc_events", ["message_key", "id"], unique=False)
        op.create_index(
            "ix_mc_events_status",
            "mc_events",
            ["status", "at"],
            unique=False,
            sqlite_where=sa.text("status IS NOT NULL"),
            postgresql_where=sa.text("status IS NOT NULL"),
        )

    if _missing("mc_handled"):
        op.create_table(
            "mc_handled",
            sa.Column("message_key", sa.String(length=64), nullable=False),
            sa.Column("message_id", sa.String(length=998), nullable=True),
            sa.Column("handler", sa.String(length=128), nullable=True),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("message_key"),
            sqlite_with_rowid=False,
        )

    if _missing("mc_messages"):
        op.create_table(
            "mc_messages",
            sa.Column("message_key", sa.String(length=64), nullable=False),
            sa.Column("message_id", sa.String(length=998), nullable=True),
            sa.Column("sender", sa.String(length=512), nullable=True),
            sa.Column("subject", sa.Text(), nullable=True),
            sa.Column("identifier", sa.String(length=128), nullable=True),
            sa.Column("handler", sa.String(length=128), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=True),
            sa.Column("reason", sa.Text(), nullable=True),
            sa.Column("errors", sa.JSON(), nullable=True),
            sa.Column("payload", sa.JSON(), nullable=True),
            sa.Column("handled", sa.Boolean(), nullable=False),
            sa.Column("folder", sa.String(length=255), nullable=True),
            sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
            sa.Column("uid", sa.BigInteger(), nullable=True),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("message_key"),
        )
        op.create_index("ix_mc_messages_handler", "mc_messages", ["handler"], unique=False)
        op.create_index("ix_mc_messages_identifier", "mc_messages", ["identifier"], unique=False)
        op.create_index(
            "ix_mc_messages_location", "mc_messages", ["folder", "uidvalidity", "uid"], unique=False
        )
        op.create_index("ix_mc_messages_message_id", "mc_messages", ["message_id"], unique=False)
        op.create_index(
            "ix_mc_messages_status", "mc_messages", ["status", "updated_at"], unique=False
        )

    if _missing("security_keys"):
        op.create_table(
            "security_keys",
            sa.Column("fingerprint", sa.String(length=80), nullable=False),
            sa.Column("scheme", sa.String(length=16), nullable=False),
            sa.Column("label", sa.Text(), nullable=False),
            sa.Column("emails", sa.Text(), nullable=False),
            sa.Column("expires", sa.DateTime(timezone=True), nullable=True),
            sa.Column("trusted", sa.Boolean(), nullable=False),
            sa.Column("public", sa.Text(), nullable=False),
            sa.Column("secret", sa.LargeBinary(), nullable=True),
            sa.Column("created_by", sa.String(length=128), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("fingerprint"),
        )

    if _missing("template_versions"):
        op.create_table(
            "template_versions",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("name", sa.String(length=64), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("handler", sa.String(length=128), nullable=True),
            sa.Column("subject", sa.Text(), nullable=False),
            sa.Column("body", sa.Text(), nullable=False),
            sa.Column("sample_data", sa.Text(), nullable=False),
            sa.Column("note", sa.Text(), nullable=False),
            sa.Column("created_by", sa.String(length=128), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("restored_from", sa.Integer(), nullable=True),
            sa.Column("variants", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("name", "version", name="uq_template_versions_name_version"),
        )
        op.create_index(
            op.f("ix_template_versions_name"), "template_versions", ["name"], unique=False
        )

    if _missing("console_sessions"):
        op.create_table(
            "console_sessions",
            sa.Column("token_hash", sa.String(length=64), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("idle_seconds", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                ["user_id"],
                ["console_users.id"],
            ),
            sa.PrimaryKeyConstraint("token_hash"),
        )
        op.create_index(
            "ix_console_sessions_user_id", "console_sessions", ["user_id"], unique=False
        )

    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("template_versions")}
    if "variants" not in columns:  # a table from before language variants
        op.add_column("template_versions", sa.Column("variants", sa.Text(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("the baseline is not undone: restore a backup instead")
