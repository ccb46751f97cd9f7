"""Analytics full recompute (issue 5): every customer's metrics, RFM and formula LTV, for 1,000,000
customers and 10,000,000 orders (`--quick`: 100,000 and 1,000,000), against the bare SQL aggregate
on the same table in the same run.

Set-up (not measured): a tenant provisioned by the use case; its orders generated with set-based
SQL (`generate_series`, no API): customers ~ uniform over the ids, times over three years, 2%
cancelled, 1% fully and 2% partially refunded (with returned lines), then VACUUM ANALYZE.

Measured, in one round: the bare aggregate, the recompute (the use case the job runs: staging,
scores, segments, formula LTV, replacing the stored rows), the bare aggregate again, the recompute
again (now replacing 1,000,000 stored rows, the steady state). The bare aggregate is orders
grouped by customer, with count of tenant-local days, max date and the sums, materialised into a
temporary table as the recompute's staging is. Target: recompute <= 2x the bare aggregate.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from sqlalchemy import text

from bench.common import Figure, kizuna, throwaway_database
from domain.analytics.services import recompute_metrics
from domain.auth.model import TenantRef
from domain.shared.clock import SystemClock
from domain.tenants.services import create_tenant
from infra.runtime import Runtime, runtime
from infra.settings import Settings

TARGET = 2.0
CLOCK = SystemClock()


async def _tenant(rt: Runtime, slug: str) -> TenantRef:
    made = await create_tenant(uow=rt.uow_factory(None), clock=CLOCK, slug=slug, name=slug)
    t = made.tenant
    return TenantRef(id=t.id, slug=t.slug, schema=t.schema, timezone=t.timezone, currency=t.currency)


def _generate_sql(schema: str, customers: int, orders: int) -> list[str]:
    s = f'"{schema}"'
    # customer k's id is a uuid made from k, so orders spread over exactly `customers` ids
    return [
        f"""INSERT INTO {s}.orders (id, order_number, customer_id, ordered_at, currency, subtotal,
                discount_total, shipping_total, total, cost_total, refunded_total, channel, status,
                created_at, updated_at)
            SELECT gen_random_uuid(), 'B' || g, md5((g % {customers})::text)::uuid,
                   now() - random() * interval '1095 days' - interval '1 hour', 'JPY',
                   p, d, 500, p - d + 500, p * 4 / 10,
                   CASE WHEN st = 'refunded' THEN p - d + 500 WHEN st = 'partially_refunded' THEN p / 4
                        ELSE 0 END,
                   'ec', st, now(), now()
            FROM (SELECT g, (1000 + (random() * 20000)::int) AS p, (random() * 3)::int * 100 AS d,
                         CASE WHEN random() < 0.02 THEN 'cancelled' WHEN random() < 0.0102 THEN 'refunded'
                              WHEN random() < 0.0206 THEN 'partially_refunded' ELSE 'placed' END AS st
                  FROM generate_series(1, {orders}) g) x""",
        f"""INSERT INTO {s}.order_lines (order_id, line_no, sku, quantity, unit_price, unit_cost,
                refunded_quantity)
            SELECT id, 1, 'SKU-1', 2, subtotal / 2, subtotal / 5, 1 FROM {s}.orders
            WHERE status = 'partially_refunded'""",
        f"VACUUM ANALYZE {s}.orders",
        f"VACUUM ANALYZE {s}.order_lines",
    ]


def _bare_sql(schema: str) -> str:
    return f"""CREATE TEMPORARY TABLE bare ON COMMIT DROP AS
        SELECT customer_id, count(DISTINCT (ordered_at AT TIME ZONE 'Asia/Tokyo')::date) AS days,
               max((ordered_at AT TIME ZONE 'Asia/Tokyo')::date) AS last_day, count(*) AS orders,
               sum(subtotal) AS revenue, sum(subtotal - cost_total - discount_total) AS gross_profit
        FROM "{schema}".orders WHERE status IN ('placed', 'partially_refunded') AND ordered_at <= now()
        GROUP BY customer_id"""


async def _bare(rt: Runtime, schema: str) -> float:
    async with rt.engine.connect() as conn:
        started = time.perf_counter()
        async with conn.begin():
            await conn.execute(text(_bare_sql(schema)))
        return time.perf_counter() - started


async def _recompute(rt: Runtime, tenant: TenantRef) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    result = await recompute_metrics(uow_factory=lambda: rt.uow_factory(tenant), clock=CLOCK,
                                     timezone=tenant.timezone)
    return time.perf_counter() - started, result


async def _run(url: str, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    customers, orders = (100_000, 1_000_000) if quick else (1_000_000, 10_000_000)
    async with runtime(Settings(), url, pool_size=4) as rt:
        tenant = await _tenant(rt, "bench_analytics")
        started = time.perf_counter()
        async with rt.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for statement in _generate_sql(tenant.schema, customers, orders):
                await conn.execute(text(statement))
        generate_seconds = time.perf_counter() - started
        bare = [await _bare(rt, tenant.schema)]
        first, result = await _recompute(rt, tenant)
        bare.append(await _bare(rt, tenant.schema))
        again, _ = await _recompute(rt, tenant)
    baseline = statistics.mean(bare)
    label = f"bare aggregate ({customers:,} customers, {orders:,} orders) s"
    judged = None if quick else again <= TARGET * baseline
    figures = [
        Figure(f"full recompute {customers:,} customers / {orders:,} orders, replacing stored rows", again,
               "s", baseline, label, f"<= {TARGET:.0f}x the bare aggregate", judged),
        Figure("full recompute, first (empty table)", first, "s", baseline, label),
    ]
    return figures, {"customers": customers, "orders": orders, "metrics_rows": result["customers"],
                     "generate_seconds": generate_seconds, "bare_seconds": bare,
                     "recompute_seconds": [first, again]}


def run(server: str, *, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    with throwaway_database(server) as url:
        kizuna(url, "migrate")
        return asyncio.run(_run(url, quick))
