"""Raw asyncpg on a unit of work's connection, for hot paths where SQLAlchemy's per-statement
work (compiling, rendering the schema translate map, result processing) costs more than the query.

The SQL runs on the asyncpg connection under SQLAlchemy's, inside the same transaction, where
schema_translate_map does not reach: templates name the tenant schema as `{s}`, filled with the
schema from the connection's own translate map (set by the unit of work from the tenant registry)
and quoted by quote_schema. Every value is a bind parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.db.migrate import quote_schema


class RawSql:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._quoted: str | None = None

    def schema_name(self) -> str:
        """The tenant schema, unquoted (checked by quote_schema): for APIs that quote it themselves."""
        sync = self._conn.sync_connection
        translate = sync.get_execution_options().get("schema_translate_map") if sync is not None else None
        schema = (translate or {}).get(None)
        if not schema:
            raise RuntimeError("raw SQL needs a connection bound to a tenant schema")
        quote_schema(str(schema))  # refuses anything that is not a plain schema name
        return str(schema)

    def schema(self) -> str:
        """The tenant schema, quoted."""
        if self._quoted is None:
            self._quoted = quote_schema(self.schema_name())
        return self._quoted

    async def _in_transaction(self) -> asyncpg.Connection | None:
        """The asyncpg connection when the unit of work's transaction is open, or when it has none
        to open (a read-only unit of work runs in AUTOCOMMIT); None before its first statement
        otherwise (SQLAlchemy sends BEGIN lazily, with it, and raw SQL must not run first)."""
        raw = await self._conn.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
        if raw.dbapi_connection.autocommit or driver.is_in_transaction():  # type: ignore[union-attr]
            return driver
        return None

    async def driver(self) -> asyncpg.Connection:
        """The asyncpg connection, inside the unit of work's transaction."""
        driver = await self._in_transaction()
        if driver is None:
            await self._conn.exec_driver_sql("SELECT 1")
            driver = await self._in_transaction()
            assert driver is not None
        return driver

    async def fetch(self, template: str, *args: Any) -> Sequence[Mapping[str, Any]]:
        """Rows (by column name). A first statement goes through SQLAlchemy, which opens the
        transaction with it: one round trip less than opening it with a `SELECT 1` first."""
        sql = template.format(s=self.schema())
        driver = await self._in_transaction()
        if driver is None:
            return [row._mapping for row in await self._conn.exec_driver_sql(sql, args)]
        return await driver.fetch(sql, *args)  # type: ignore[no-any-return]

    async def fetchrow(self, template: str, *args: Any) -> Mapping[str, Any] | None:
        rows = await self.fetch(template, *args)
        return rows[0] if rows else None

    async def execute(self, template: str, *args: Any) -> None:
        sql = template.format(s=self.schema())
        driver = await self._in_transaction()
        if driver is None:
            await self._conn.exec_driver_sql(sql, args)
        else:
            await driver.execute(sql, *args)
