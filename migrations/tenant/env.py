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
    raw = context.config.attributes["connection"]
    # Autogenerate reflects the connection's default schema: point it at the tenant schema for this
    # transaction only (SET LOCAL ends with it, so nothing leaks through the pool).
    raw.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
    connection = raw.execution_options(schema_translate_map={None: schema})
    context.configure(
        connection=connection,
        target_metadata=tenant_metadata,
        version_table_schema=schema,
        include_name=lambda name, type_, parent: not (type_ == "table" and name == "alembic_version"),
    )
    with context.begin_transaction():
        context.run_migrations()
