"""Analytics reports (issue 5, part B): F2, CPO/ROMI, cohorts, acquisition to LTV and the KPI board
over 1,000,000 customers and 10,000,000 orders (`--quick`: 100,000 and 1,000,000), against the bare
SQL aggregate on the same table in the same run.

Set-up (not measured): the orders of bench/analytics_recompute.py (three years, 2% cancelled, 1%
fully and 2% partially refunded with returned lines); one touchpoint event for every third order,
on one of four channels, up to two days before it; one marketing cost per channel and month;
VACUUM ANALYZE.

Measured: each report's use case, exactly as the endpoint calls it (its unit of work, its SQL, the
domain maths), best of three after a warm-up; the bare aggregate (orders grouped by customer:
tenant-local days, last day, sums) likewise. No target is set in the issue; the ratio says what a
report costs next to one pass over the orders.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from sqlalchemy import text

from bench.analytics_recompute import _bare, _generate_sql, _tenant
from bench.common import Figure, kizuna, throwaway_database
from domain.analytics.acquisition import get_acquisition
from domain.analytics.attribution import get_romi
from domain.analytics.cohorts import get_cohorts
from domain.analytics.f2 import get_f2
from domain.analytics.kpis import get_kpis, get_series
from domain.analytics.reports import Scope
from domain.auth.model import TenantRef
from domain.shared.clock import SystemClock
from infra.runtime import runtime
from infra.settings import Settings

CLOCK = SystemClock()


def _touch_sql(schema: str) -> list[str]:
    s = f'"{schema}"'
    return [
        f"""INSERT INTO {s}.events (id, type, customer_id, occurred_at, received_at, properties,
                touchpoint_channel, touchpoint_stage, campaign_id)
            SELECT gen_random_uuid(), 'ad_clicked', customer_id,
                   ordered_at - make_interval(mins => (random() * 2880)::int),
                   now(), '{{}}', (ARRAY['instagram_ad', 'line', 'search', 'email'])[1 + (random() * 3)::int],
                   'pre_purchase', 'camp-' || (random() * 9)::int
            FROM {s}.orders WHERE random() < 0.34""",
        f"""INSERT INTO {s}.marketing_costs (id, channel, period_from, period_to, amount, currency, version,
                created_at, updated_at)
            SELECT gen_random_uuid(), c, m::date, (m + interval '1 month' - interval '1 day')::date,
                   1000000, 'JPY', 1, now(), now()
            FROM unnest(ARRAY['instagram_ad', 'line', 'search', 'email']) c,
                 generate_series(date_trunc('month', now() - interval '3 years'), now(),
                                 interval '1 month') m""",
        f"VACUUM ANALYZE {s}.events",
        f"VACUUM ANALYZE {s}.marketing_costs",
    ]


async def _best(fn: Callable[[], Awaitable[Any]], rounds: int = 3) -> float:
    await fn()  # warm-up: plans, caches
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - started)
    return min(times)


async def _run(url: str, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    customers, orders = (100_000, 1_000_000) if quick else (1_000_000, 10_000_000)
    async with runtime(Settings(), url, pool_size=4) as rt:
        tenant: TenantRef = await _tenant(rt, "bench_reports")
        async with rt.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for statement in [*_generate_sql(tenant.schema, customers, orders), *_touch_sql(tenant.schema)]:
                await conn.execute(text(statement))
        scope = Scope(timezone=tenant.timezone, now=CLOCK.now())
        today = scope.today

        def uow() -> Any:
            return rt.uow_factory(tenant, read_only=True)

        month_ago = date.fromordinal(today.toordinal() - 29)
        year_ago = date.fromordinal(today.toordinal() - 364)
        reports: dict[str, Callable[[], Awaitable[Any]]] = {
            "F2, last 30 days": lambda: get_f2(uow=uow(), scope=scope, start=month_ago, end=today),
            "CPO/ROMI by channel, last 30 days": lambda: get_romi(uow=uow(), scope=scope, group_by="channel",
                                                                  start=month_ago, end=today),
            "cohorts by month, 12 x 12, ltv": lambda: get_cohorts(
                uow=uow(), scope=scope, by="month", metric="ltv", start=None, end=None),
            "acquisition by channel, last 365 days": lambda: get_acquisition(
                uow=uow(), scope=scope, group_by="channel", start=year_ago, end=today),
            "KPI board, last 30 days": lambda: get_kpis(uow=uow(), scope=scope, start=month_ago, end=today),
            "KPI series, revenue by day, 30 days": lambda: get_series(
                uow=uow(), scope=scope, metric="revenue", interval="day", start=None, end=None),
        }
        await _bare(rt, tenant.schema)  # warm-up, as the reports get
        bare = min([await _bare(rt, tenant.schema) for _ in range(3)])
        measured = {name: await _best(fn) for name, fn in reports.items()}
    label = f"bare aggregate ({customers:,} customers, {orders:,} orders) s"
    figures = [Figure(f"{name} ({customers:,} customers / {orders:,} orders)", seconds, "s", bare, label)
               for name, seconds in measured.items()]
    return figures, {"customers": customers, "orders": orders, "bare_seconds": bare,
                     "reports_seconds": measured}


def run(server: str, *, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    with throwaway_database(server) as url:
        kizuna(url, "migrate")
        return asyncio.run(_run(url, quick))
