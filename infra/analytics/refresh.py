"""The per-order refresh of one customer's metrics row (domain.analytics.ports.MetricsRefreshSession).

It runs once per order placed or refunded, so it is raw asyncpg on one pooled connection, with
its own transaction, instead of a unit of work: SQLAlchemy's per-statement work (compiling,
result processing) and the unit of work's set-up cost more CPU than the queries, and four round
trips do the whole refresh — BEGIN with the lock, the read, the write, COMMIT.

Refreshes of one customer are serialised by a transaction-level advisory lock taken before the
read: two jobs for two quick orders of one customer could otherwise each read, and the one that
read first (missing the second order) could write last. The same round trip turns off waiting for
the WAL flush at commit, for this transaction only: the row is derived from orders, which are
durable, so a crash can only lose the last moments' refreshes, which the nightly recompute
redoes; the flush was a fifth of the refresh's time and most of its tail under write load.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from types import TracebackType
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.analytics.model import CustomerMetrics, RefreshInputs, RfmEdges
from domain.analytics.settings import AnalyticsSettings, settings_from_dict
from infra.analytics import sql
from infra.db.repositories.analytics import aggregate_of, clv_model_of
from infra.db.tables.analytics import customer_metrics

_COLUMNS = [c.name for c in customer_metrics.columns if c.name != "customer_id"]
_PARAMS = {"customer_id": "$1", "now": "$2", "tz": "$3"}
_NAMED_PARAM = re.compile(r"(?<![:\w]):(customer_id|now|tz)\b")


def lock_key(schema: str, customer_id: UUID) -> int:
    """The advisory lock of one customer's refresh: 64 bits of a hash of (schema, customer)."""
    digest = hashlib.blake2b(f"customer_metrics:{schema}:{customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@lru_cache(maxsize=1024)
def _statements(schema: str) -> tuple[str, str, str]:
    """(read, upsert, delete) for a tenant schema, with asyncpg's positional parameters."""
    s = sql.quoted(schema)
    read = _NAMED_PARAM.sub(lambda m: _PARAMS[m.group(1)], sql.refresh_inputs(schema))
    upsert = (f"INSERT INTO {s}.customer_metrics (customer_id, {', '.join(_COLUMNS)})"  # noqa: S608
              f" VALUES ({', '.join(f'${i}' for i in range(1, len(_COLUMNS) + 2))})"
              " ON CONFLICT (customer_id) DO UPDATE SET "
              + ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS))
    delete = f"DELETE FROM {s}.customer_metrics WHERE customer_id = $1"  # noqa: S608
    return read, upsert, delete


def _inputs(row: Mapping[str, Any]) -> RefreshInputs:
    edges = None if row["e_recency"] is None else RfmEdges(
        recency=tuple(row["e_recency"]), frequency=tuple(row["e_frequency"]),
        monetary=tuple(row["e_monetary"]))
    model = None if row["m_id"] is None else clv_model_of(row, prefix="m_")
    stored = row["settings"]
    if isinstance(stored, str | bytes):  # json columns arrive as text on the bare driver
        stored = orjson.loads(stored)
    return RefreshInputs(purchases=aggregate_of(row) if row["customer_id"] is not None else None,
                         settings=settings_from_dict(stored) if stored is not None else AnalyticsSettings(),
                         edges=edges, model=model)


def _values(metrics: CustomerMetrics) -> list[Any]:
    p, rfm, pred = metrics.purchases, metrics.rfm, metrics.predictions
    values = {"first_order_at": p.first_order_at, "last_order_at": p.last_order_at, "first_day": p.first_day,
              "last_day": p.last_day, "second_day": p.second_day, "orders": p.orders,
              "occasions": p.occasions,
              "revenue": p.revenue, "gross_profit": p.gross_profit, "first_day_revenue": p.first_day_revenue,
              "r": rfm.r if rfm else None, "f": rfm.f if rfm else None, "m": rfm.m if rfm else None,
              "segment": rfm.segment if rfm else None, "formula_ltv": metrics.formula_ltv,
              "p_alive": pred.p_alive, "expected_purchases": pred.expected_purchases,
              "expected_aov": pred.expected_average_order_value, "predicted_clv": pred.predicted_clv,
              "as_of": metrics.as_of, "computed_at": metrics.computed_at}
    return [p.customer_id, *(values[c] for c in _COLUMNS)]


class SqlMetricsRefresh:
    """`async with SqlMetricsRefresh(engine, schema) as session:` one refresh transaction."""

    def __init__(self, engine: AsyncEngine, schema: str) -> None:
        self._engine = engine
        self._schema = schema
        self._conn: AsyncConnection | None = None
        self._driver: asyncpg.Connection | None = None
        self._open = False

    async def __aenter__(self) -> SqlMetricsRefresh:
        # AUTOCOMMIT: SQLAlchemy must not open a transaction of its own; this one is ours.
        conn = await self._engine.connect()
        try:
            self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            raw = await self._conn.get_raw_connection()
        except BaseException:
            await conn.close()
            raise
        self._driver = raw.driver_connection  # type: ignore[assignment]
        self._open = False
        return self

    def _connection(self) -> asyncpg.Connection:
        assert self._driver is not None, "use the refresh session inside `async with`"
        return self._driver

    async def refresh_inputs(self, customer_id: UUID, *, now: datetime, timezone: str) -> RefreshInputs:
        driver = self._connection()
        # One simple-protocol round trip; the lock key is an integer computed here, not caller text.
        await driver.execute(f"BEGIN; SELECT pg_advisory_xact_lock({lock_key(self._schema, customer_id)});"
                             " SET LOCAL synchronous_commit TO off")
        self._open = True
        row = await driver.fetchrow(_statements(self._schema)[0], customer_id, now, timezone)
        assert row is not None  # the statement always returns its one row
        return _inputs(row)

    async def save(self, metrics: CustomerMetrics) -> None:
        await self._connection().execute(_statements(self._schema)[1], *_values(metrics))

    async def delete(self, customer_id: UUID) -> None:
        await self._connection().execute(_statements(self._schema)[2], customer_id)

    async def commit(self) -> None:
        await self._connection().execute("COMMIT")
        self._open = False

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        conn, driver = self._conn, self._driver
        self._conn = self._driver = None
        assert conn is not None and driver is not None
        try:
            if self._open or driver.is_in_transaction():
                await driver.execute("ROLLBACK")
        except BaseException:
            await conn.invalidate()  # a connection that cannot roll back never returns to the pool
            raise
        finally:
            self._open = False
            await conn.close()
