"""Several mailboxes: a nullable `mailbox` column on mc_events, mc_messages and mc_claims
(NULL: the default mailbox, so rows written before keep their meaning).

Until migrations existed, mailcore.store.mailbox_columns added it by hand at start-up: a
database may have it already.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("mc_events", "mc_messages", "mc_claims")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table in TABLES:
        if not any(c["name"] == "mailbox" for c in inspector.get_columns(table)):
            op.add_column(table, sa.Column("mailbox", sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("mailbox")
