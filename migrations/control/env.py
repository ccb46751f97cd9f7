"""Alembic environment of the control plane (schema `control`). Run through `kizuna migrate`."""

from alembic import context

import infra.db.tables.control  # noqa: F401  (registers the tables on the metadata)
from infra.db.tables.base import CONTROL_SCHEMA, control_metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=control_metadata,
    version_table_schema=CONTROL_SCHEMA,
    include_schemas=True,
    include_name=lambda name, type_, parent: type_ != "schema" or name == CONTROL_SCHEMA,
)
with context.begin_transaction():
    context.run_migrations()
