"""Alembic environment: runs on the connection (and inside the transaction) the store hands over."""
from __future__ import annotations

from alembic import context

from geomatch.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
