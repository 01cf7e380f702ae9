"""The kind of a failure beside its English reason: a nullable `failure` column on mc_events
and mc_messages (mailcore.processing.vocabulary.FailureKind; NULL on rows written before, and
on every row that is not a failure), so the console names it in the reader's language.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("mc_events", "mc_messages")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table in TABLES:  # a database stamped behind its tables (as 0002-0005 allow) has it
        if not any(c["name"] == "failure" for c in inspector.get_columns(table)):
            op.add_column(table, sa.Column("failure", sa.String(length=32), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("failure")
