"""Raw asyncpg on a unit of work's connection, for hot paths where SQLAlchemy's per-statement
work (compiling, rendering the schema translate map, result processing) costs more than the query.

The SQL runs on the asyncpg connection under SQLAlchemy's, inside the same transaction, where
schema_translate_map does not reach: templates name the tenant schema as `{s}`, filled with the
schema from the connection's own translate map (set by the unit of work from the tenant registry)
and quoted by quote_schema. Every value is a bind parameter.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.db.migrate import quote_schema


class RawSql:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._quoted: str | None = None

    def schema(self) -> str:
        """The tenant schema, quoted."""
        if self._quoted is None:
            sync = self._conn.sync_connection
            translate = sync.get_execution_options().get("schema_translate_map") if sync is not None else None
            schema = (translate or {}).get(None)
            if not schema:
                raise RuntimeError("raw SQL needs a connection bound to a tenant schema")
            self._quoted = quote_schema(str(schema))
        return self._quoted

    async def driver(self) -> asyncpg.Connection:
        """The asyncpg connection, inside the unit of work's transaction."""
        raw = await self._conn.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
        if not driver.is_in_transaction():
            # SQLAlchemy sends BEGIN lazily, with the first statement; raw SQL must not run before it.
            await self._conn.exec_driver_sql("SELECT 1")
        return driver

    async def fetch(self, template: str, *args: Any) -> list[asyncpg.Record]:
        return await (await self.driver()).fetch(template.format(s=self.schema()), *args)  # type: ignore[no-any-return]

    async def fetchrow(self, template: str, *args: Any) -> asyncpg.Record | None:
        return await (await self.driver()).fetchrow(template.format(s=self.schema()), *args)

    async def execute(self, template: str, *args: Any) -> str:
        return await (await self.driver()).execute(template.format(s=self.schema()), *args)  # type: ignore[no-any-return]
