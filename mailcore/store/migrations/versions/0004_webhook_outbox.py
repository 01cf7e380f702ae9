"""Events out: the outbox of webhook events and its delivery log (mailcore.store.outbox).

OutboxStore's create_all may have made them already.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("mc_outbox"):
        op.create_table(
            "mc_outbox",
            sa.Column("id", _ID, primary_key=True, autoincrement=True),
            sa.Column("webhook_id", sa.String(length=64), nullable=False),
            sa.Column("subscription", sa.String(length=64), nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("message_key", sa.String(length=64), nullable=True),
            sa.Column("body", sa.Text(), nullable=False),
            sa.Column("created", sa.Float(), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("next_at", sa.Float(), nullable=False),
            sa.Column("lease_until", sa.Float(), nullable=True),
            sa.Column("last_status", sa.Integer(), nullable=True),
            sa.Column("last_detail", sa.Text(), nullable=True),
            sa.UniqueConstraint("webhook_id"),
        )
        op.create_index("ix_mc_outbox_due", "mc_outbox", ["state", "next_at"])
    if not inspector.has_table("mc_outbox_attempts"):
        op.create_table(
            "mc_outbox_attempts",
            sa.Column("id", _ID, primary_key=True, autoincrement=True),
            sa.Column("outbox_id", sa.BigInteger(), nullable=False),
            sa.Column("at", sa.Float(), nullable=False),
            sa.Column("outcome", sa.String(length=16), nullable=False),
            sa.Column("status", sa.Integer(), nullable=True),
            sa.Column("detail", sa.Text(), nullable=False),
            sa.Column("elapsed", sa.Float(), nullable=False),
        )
        op.create_index("ix_mc_outbox_attempts_event", "mc_outbox_attempts", ["outbox_id", "id"])


def downgrade() -> None:
    op.drop_table("mc_outbox_attempts")
    op.drop_table("mc_outbox")
