"""Alembic's environment: migrations run on the connection kickoff.db.migrate hands over."""

from __future__ import annotations

from alembic import context

from kickoff.db.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with `kickoff-admin migrate` (kickoff.db.migrate), not the alembic CLI"
    )

# render_as_batch: SQLite can alter a table only by copying it; Alembic's batch mode does
# that, and is a no-op wrapper on PostgreSQL.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
