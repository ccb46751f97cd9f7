"""Alembic environment of one tenant schema.

Online (stairway tests, autogenerate): the connection is bound with
`schema_translate_map={None: schema}` and the version table lives in that schema.
Offline (`--sql`): tables render unqualified; `infra.db.tenant_migrations` runs the rendered
script under `SET LOCAL search_path` so one rendering serves every tenant.
"""

from alembic import context

import infra.db.tables.tenant  # noqa: F401  (registers the tables on the metadata)
from infra.db.tables.base import tenant_metadata

if context.is_offline_mode():
    context.configure(
        dialect_name="postgresql",
        literal_binds=True,
        transactional_ddl=False,
        target_metadata=tenant_metadata,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    schema = context.config.attributes["schema"]
    connection = context.config.attributes["connection"].execution_options(
        schema_translate_map={None: schema})
    context.configure(
        connection=connection,
        target_metadata=tenant_metadata,
        version_table_schema=schema,
    )
    with context.begin_transaction():
        context.run_migrations()
