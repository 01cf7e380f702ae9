"""Alembic's environment: migrations run on the connection `mailcore.store.migrations` hands
over (config.attributes["connection"]), inside the transaction it holds; autogenerate compares
with `mailcore.store.db.METADATA`."""

from __future__ import annotations

from alembic import context

from mailcore.store.db import METADATA

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=METADATA,
    render_as_batch=True,  # SQLite changes a column by copying its table: batch_alter_table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
