"""Bulk writes of customer rows: COPY for new rows, COPY into a temporary table and one UPDATE for
changed rows, one unnest() statement each for identity claims and releases. A chunk of 5,000
rows is a handful of round trips whatever its size.

These run on the asyncpg connection under the unit of work's SQLAlchemy connection, inside its
transaction; the tenant schema comes from the connection's schema_translate_map (set from the
tenant registry, never from input) and is quoted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from domain.customers.model import Customer
from domain.imports.model import ChunkRace
from infra.db.repositories.customers import to_row
from infra.db.tables.tenant import customers

CUSTOMER_COLUMNS = [column.name for column in customers.columns]
_JSON = ("attributes", "acquisition")
_UPDATED = [name for name in CUSTOMER_COLUMNS if name not in ("id", "created_at")]
TEMP_TABLE = "kizuna_import_customers"


def tenant_schema(conn: AsyncConnection) -> str:
    sync = conn.sync_connection
    translate = sync.get_execution_options().get("schema_translate_map") if sync is not None else None
    schema = (translate or {}).get(None)
    if not schema:
        raise RuntimeError("bulk import writes need a unit of work bound to a tenant")
    return str(schema)


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection, with the SQLAlchemy transaction begun on it (asyncpg would
    otherwise run these statements in autocommit)."""
    await conn.exec_driver_sql("SELECT 1")
    raw = await conn.get_raw_connection()
    if not raw.driver_connection.is_in_transaction():  # a read-only (autocommit) unit of work
        raise RuntimeError("bulk import writes need a unit of work with a transaction")
    return raw.driver_connection


def _record(customer: Customer) -> tuple[Any, ...]:
    row = to_row(customer)
    for name in _JSON:
        if row[name] is not None:
            row[name] = json.dumps(row[name], ensure_ascii=False, separators=(",", ":"))
    return tuple(row[name] for name in CUSTOMER_COLUMNS)


async def identity_owners(conn: AsyncConnection,
                          pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], UUID]:
    if not pairs:
        return {}
    pg = await driver(conn)
    table = f"{quoted(tenant_schema(conn))}.customer_identities"
    rows = await pg.fetch(
        f"SELECT i.type, i.value, i.customer_id FROM {table} i"  # noqa: S608 - quoted registry schema
        " JOIN unnest($1::text[], $2::text[]) AS x(type, value) ON i.type = x.type AND i.value = x.value",
        [p[0] for p in pairs], [p[1] for p in pairs])
    return {(r["type"], r["value"]): r["customer_id"] for r in rows}


async def write_customers(conn: AsyncConnection, created: Sequence[Customer], updated: Sequence[Customer],
                          claims: Sequence[tuple[str, str, UUID]],
                          releases: Sequence[tuple[str, str, UUID]]) -> None:
    schema = quoted(tenant_schema(conn))
    pg = await driver(conn)
    identities = f"{schema}.customer_identities"
    if releases:
        await pg.execute(
            f"DELETE FROM {identities} i USING unnest($1::text[], $2::text[], $3::uuid[])"  # noqa: S608
            " AS x(type, value, customer_id)"
            " WHERE i.type = x.type AND i.value = x.value AND i.customer_id = x.customer_id",
            [r[0] for r in releases], [r[1] for r in releases], [r[2] for r in releases])
    if claims:
        status = await pg.execute(
            f"INSERT INTO {identities} (type, value, customer_id, created_at)"  # noqa: S608
            " SELECT x.type, x.value, x.customer_id, now()"
            " FROM unnest($1::text[], $2::text[], $3::uuid[]) AS x(type, value, customer_id)"
            " ON CONFLICT DO NOTHING",
            [c[0] for c in claims], [c[1] for c in claims], [c[2] for c in claims])
        if int(status.split()[-1]) != len(claims):
            raise ChunkRace("an identity this chunk claims was taken by another transaction meanwhile")
    if created:
        # fresh UUIDv7 ids: nothing to conflict with, so straight into the table
        await pg.copy_records_to_table("customers", schema_name=tenant_schema(conn),
                                       columns=CUSTOMER_COLUMNS, records=[_record(c) for c in created])
    if updated:
        await pg.execute(f"CREATE TEMP TABLE IF NOT EXISTS {TEMP_TABLE}"
                         f" (LIKE {schema}.customers) ON COMMIT DROP")
        await pg.execute(f"TRUNCATE {TEMP_TABLE}")
        await pg.copy_records_to_table(TEMP_TABLE, columns=CUSTOMER_COLUMNS,
                                       records=[_record(c) for c in updated])
        assignments = ", ".join(f"{quoted(n)} = s.{quoted(n)}" for n in _UPDATED)
        await pg.execute(f"UPDATE {schema}.customers c SET {assignments}"  # noqa: S608
                         f" FROM {TEMP_TABLE} s WHERE c.id = s.id")
