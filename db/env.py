"""Alembic environment. The application always passes an open connection in
`config.attributes["connection"]` (see classhub_desktop/store/migrations.py)."""

from __future__ import annotations

from alembic import context

from classhub_desktop.store.schema import include_in_comparison, metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `classhub-desktop db upgrade`, which supplies the connection.")

# All migrations of one upgrade run in the caller's transaction (PostgreSQL has transactional DDL):
# an upgrade applies completely or not at all.
context.configure(
    connection=connection,
    target_metadata=metadata,
    compare_type=True,
    include_object=include_in_comparison,
)
with context.begin_transaction():
    context.run_migrations()
