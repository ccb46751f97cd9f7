"""Report queries (F2, cohorts, attribution and costs, acquisition, KPIs): set-based SQL over the
tenant's orders, events and costs. The maths and definitions are in domain/analytics; these only
aggregate. Definitions of "counted order", net revenue and net gross profit: docs/metrics.md.

Raw SQL (window functions, LATERAL, FILTER) is clearer here than Core; schema_translate_map does not
reach text(), so `{s}` is the tenant schema from the connection's own map, validated and quoted.
Every other value is a bind parameter.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.analytics.acquisition import AcquisitionCounts, OpenWindows
from domain.analytics.attribution import AttributedGroup, CostGroup
from domain.analytics.cohorts import CohortCell
from domain.analytics.f2 import F2Counts
from domain.analytics.kpis import KpiCounts, LoyalCount, RomiPoint, SeriesPoint
from domain.analytics.reports import Period, Scope
from infra.analytics import sql as metrics_sql
from infra.db.raw import RawSql

# Counted orders with their tenant-local day and net figures: cancelled and fully refunded orders
# and orders after `now` (future-dated) are left out. Refunded merchandise (refunds up to what
# was paid for goods) comes off revenue; goods that came back give their cost back
# (docs/orders.md: net_gross_profit). An order's version grows with each refund and with nothing
# else, so only orders past version 1 can have returned units: the others skip the lines look-up
# (a primary-key probe), instead of every report scanning all order lines.
COUNTED = """
counted AS (
  SELECT o.id, o.customer_id, o.ordered_at, o.channel,
         (o.ordered_at AT TIME ZONE CAST(:tz AS text))::date AS day,
         o.subtotal - LEAST(o.refunded_total, GREATEST(o.subtotal - o.discount_total, 0)) AS revenue,
         o.subtotal - o.cost_total - o.discount_total
           - LEAST(o.refunded_total, GREATEST(o.subtotal - o.discount_total, 0))
           + CASE WHEN o.version > 1 THEN (
               SELECT coalesce(sum(l.refunded_quantity::bigint * l.unit_cost), 0) FROM {s}.order_lines l
               WHERE l.order_id = o.id AND l.refunded_quantity > 0 AND l.unit_cost IS NOT NULL)
             ELSE 0 END AS gross_profit
  FROM {s}.orders o
  WHERE o.status NOT IN ('cancelled', 'refunded') AND o.ordered_at <= CAST(:now AS timestamptz)
)"""

# First and second purchase occasion (distinct tenant-local days) of every buyer.
FIRSTS = """
days AS (SELECT DISTINCT customer_id, day FROM counted),
ranked AS (SELECT customer_id, day, row_number() OVER (PARTITION BY customer_id ORDER BY day) AS n FROM days),
firsts AS (
  SELECT customer_id, min(day) FILTER (WHERE n = 1) AS first_day, min(day) FILTER (WHERE n = 2) AS second_day
  FROM ranked WHERE n <= 2 GROUP BY customer_id
)"""

F2 = """
WITH {counted}, {firsts},
cohort AS (
  SELECT first_day, second_day - first_day AS gap FROM firsts
  WHERE first_day BETWEEN CAST(:start AS date) AND CAST(:end AS date)
),
active AS (
  SELECT DISTINCT customer_id FROM days WHERE day BETWEEN CAST(:start AS date) AND CAST(:end AS date)
)
SELECT
  (SELECT count(*) FROM cohort) AS buyers,
  (SELECT count(*) FROM cohort WHERE gap <= CAST(:n AS integer)) AS converted,
  (SELECT count(*) FROM cohort WHERE gap > CAST(:n AS integer)
      OR (gap IS NULL AND first_day + CAST(:n AS integer) < CAST(:today AS date))) AS not_converted,
  (SELECT count(*) FROM cohort WHERE gap IS NULL
      AND first_day + CAST(:n AS integer) >= CAST(:today AS date)) AS pending,
  (SELECT count(*) FROM cohort WHERE gap IS NOT NULL) AS seconds,
  (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) FROM cohort WHERE gap IS NOT NULL) AS median,
  (SELECT avg(gap)::float8 FROM cohort WHERE gap IS NOT NULL) AS mean,
  (SELECT json_object_agg(b, c) FROM (
      SELECT width_bucket(gap, CAST(:bounds AS integer[])) AS b, count(*) AS c
      FROM cohort WHERE gap IS NOT NULL GROUP BY 1) h) AS histogram,
  (SELECT count(*) FROM active) AS active,
  (SELECT count(*) FROM active a JOIN firsts f USING (customer_id)
      WHERE f.second_day <= CAST(:end AS date)) AS repeaters
"""

# One touch per order of the period, chosen by the LATERAL's ORDER BY (latest or earliest inside
# the window (ordered_at - window, ordered_at]). Touches: events carrying a touchpoint, and the
# customer's recorded acquisition when it has a time.
ATTRIBUTION = """
po AS (SELECT * FROM counted WHERE day BETWEEN CAST(:start AS date) AND CAST(:end AS date)),
att AS (
  SELECT po.day, po.revenue, po.gross_profit, t.at IS NOT NULL AS touched,
         t.channel AS t_channel, t.campaign AS t_campaign
  FROM po
  LEFT JOIN {s}.customers cu ON cu.id = po.customer_id
  LEFT JOIN LATERAL (
    SELECT x.at, x.channel, x.campaign FROM (
      SELECT e.occurred_at AS at, e.touchpoint_channel AS channel, e.campaign_id AS campaign, e.id AS tie
      FROM {s}.events e
      WHERE e.customer_id = po.customer_id
        AND e.occurred_at <= po.ordered_at
        AND e.occurred_at > po.ordered_at - make_interval(days => CAST(:w AS integer))
        AND (e.touchpoint_channel IS NOT NULL OR e.campaign_id IS NOT NULL)
      UNION ALL
      SELECT a.at, cu.acquisition->>'channel', cu.acquisition->>'campaign', NULL::uuid
      FROM (SELECT CAST(cu.acquisition->>'occurred_at' AS timestamptz) AS at) a
      WHERE (cu.acquisition->>'channel' IS NOT NULL OR cu.acquisition->>'campaign' IS NOT NULL)
        AND a.at <= po.ordered_at
        AND a.at > po.ordered_at - make_interval(days => CAST(:w AS integer))
    ) x ORDER BY x.at {direction}, x.tie {direction} NULLS LAST LIMIT 1
  ) t ON true
)"""

ATTRIBUTED = """
WITH {counted}, {attribution}
SELECT touched, CASE WHEN touched THEN {key} END AS key, count(*) AS orders,
       coalesce(sum(revenue), 0) AS revenue, coalesce(sum(gross_profit), 0) AS gross_profit
FROM att GROUP BY 1, 2
"""

# Attributed orders per bucket (day, ISO week or month) of the period, all keys together.
ATTRIBUTED_SERIES = """
WITH {counted}, {attribution}
SELECT date_trunc(CAST(:interval AS text), day::timestamp)::date AS bucket, count(*) AS orders,
       coalesce(sum(revenue), 0) AS revenue, coalesce(sum(gross_profit), 0) AS gross_profit
FROM att WHERE touched GROUP BY 1
"""

COSTS = """
SELECT {key} AS key,
       sum(amount::numeric
           * ((LEAST(period_to, CAST(:end AS date)) - GREATEST(period_from, CAST(:start AS date))) + 1)
           / ((period_to - period_from) + 1)) AS cost
FROM {s}.marketing_costs
WHERE period_to >= CAST(:start AS date) AND period_from <= CAST(:end AS date)
GROUP BY 1
"""

# COSTS per bucket: each bucket cut to the period, each cost pro rata to its days inside the cut.
COST_SERIES = """
WITH unit AS (SELECT CAST('1 ' || CAST(:interval AS text) AS interval) AS step),
b AS (
  SELECT g::date AS bucket, GREATEST(g::date, CAST(:start AS date)) AS lo,
         LEAST((g + unit.step)::date - 1, CAST(:end AS date)) AS hi
  FROM unit, generate_series(date_trunc(CAST(:interval AS text), CAST(:start AS date)::timestamp),
                             CAST(:end AS date)::timestamp, unit.step) g
)
SELECT b.bucket,
       sum(c.amount::numeric * ((LEAST(c.period_to, b.hi) - GREATEST(c.period_from, b.lo)) + 1)
           / ((c.period_to - c.period_from) + 1)) AS cost
FROM b JOIN {s}.marketing_costs c ON c.period_to >= b.lo AND c.period_from <= b.hi
GROUP BY b.bucket
"""

# Net figures per purchase occasion (customer, tenant-local day).
OCCASIONS = """
occ AS (SELECT customer_id, day, count(*) AS orders, sum(revenue) AS revenue,
               sum(gross_profit) AS gross_profit
        FROM counted GROUP BY 1, 2)"""

# date_trunc on a plain timestamp: on a date it would pick the timestamptz variant and depend on
# the session's TimeZone.
COHORTS = """
WITH {counted}, {occasions},
first AS (SELECT customer_id, min(day) AS first_day FROM occ GROUP BY 1),
c AS (
  SELECT o.customer_id, date_trunc(CAST(:unit AS text), f.first_day::timestamp)::date AS cohort,
         date_trunc(CAST(:unit AS text), o.day::timestamp)::date AS period, o.revenue, o.gross_profit
  FROM occ o JOIN first f USING (customer_id)
  WHERE f.first_day BETWEEN CAST(:start AS date) AND CAST(:end AS date)
)
SELECT cohort, period, count(DISTINCT customer_id) AS customers, sum(revenue) AS revenue,
       sum(gross_profit) AS gross_profit
FROM c GROUP BY 1, 2 ORDER BY 1, 2
"""

# Per buyer acquired in the period: first touchpoint key, F2 outcome, retention and net totals
# within 6 and 12 months of the first occasion ([first day, first day + n months)), all in one pass
# over the occasions. Joining the buyers back to their occasions instead is a trap: the planner
# estimates one buyer and loops over every occasion per buyer (tried: over 6 minutes for 20,000
# buyers among 1,000,000 orders).
ACQUISITION = """
WITH {counted}, {occasions},
ranked AS (
  SELECT customer_id, day, revenue, gross_profit, row_number() OVER w AS n,
         first_value(day) OVER w AS first_day
  FROM occ WINDOW w AS (PARTITION BY customer_id ORDER BY day)
),
firsts AS (
  SELECT customer_id, min(day) AS first_day, max(day) AS last_day,
         min(day) FILTER (WHERE n = 2) AS second_day,
         coalesce(sum(revenue) FILTER (WHERE day < first_day + interval '6 months'), 0) AS revenue_6,
         coalesce(sum(gross_profit) FILTER (WHERE day < first_day + interval '6 months'), 0) AS profit_6,
         coalesce(sum(revenue) FILTER (WHERE day < first_day + interval '12 months'), 0) AS revenue_12,
         coalesce(sum(gross_profit) FILTER (WHERE day < first_day + interval '12 months'), 0) AS profit_12
  FROM ranked GROUP BY 1
),
first_order AS (
  SELECT DISTINCT ON (customer_id) customer_id, channel FROM counted ORDER BY customer_id, ordered_at, id
),
buyers AS (
  SELECT f.*, f.second_day - f.first_day AS gap, {key} AS key,
         f.first_day + interval '6 months' <= CAST(:today AS date) AS closed_6,
         f.first_day + interval '12 months' <= CAST(:today AS date) AS closed_12
  FROM firsts f JOIN first_order fo USING (customer_id)
  LEFT JOIN {s}.customers cu ON cu.id = f.customer_id
  WHERE f.first_day BETWEEN CAST(:start AS date) AND CAST(:end AS date)
)
SELECT key, count(*) AS customers,
       count(*) FILTER (WHERE gap <= CAST(:n AS integer)) AS converted,
       count(*) FILTER (WHERE gap > CAST(:n AS integer)
           OR (gap IS NULL AND first_day + CAST(:n AS integer) < CAST(:today AS date))) AS not_converted,
       count(*) FILTER (WHERE last_day > CAST(:today AS date) - CAST(:dormant AS integer)) AS retained,
       count(*) FILTER (WHERE closed_6) AS closed_6,
       coalesce(sum(revenue_6) FILTER (WHERE closed_6), 0) AS revenue_6,
       coalesce(sum(profit_6) FILTER (WHERE closed_6), 0) AS gross_profit_6,
       count(*) FILTER (WHERE closed_12) AS closed_12,
       coalesce(sum(revenue_12) FILTER (WHERE closed_12), 0) AS revenue_12,
       coalesce(sum(profit_12) FILTER (WHERE closed_12), 0) AS gross_profit_12,
       array_agg(customer_id) FILTER (WHERE NOT closed_12) AS open_ids
FROM buyers GROUP BY key
"""

# The summary as of today of the customers whose 12-month window is still open (ACQUISITION's
# open_ids), from the same per-customer aggregate as the customer metrics and the CLV fit
# (infra/analytics/sql.py), so the model sees the (x, t_x, T, m_x) it was fitted on: one more pass
# over the tenant's orders. A hash join on the ids, not `customer_id = ANY(:ids)`: that filter is
# pushed into the aggregate's scan, where a bound (non-constant) array is searched linearly per
# order (tried: 92 s for 20,000 ids over 1,000,000 orders). The window ends use ACQUISITION's
# interval arithmetic.
OPEN_WINDOWS = """
SELECT p.customer_id, p.occasions - 1 AS x, p.last_day - p.first_day AS t_x,
       CAST(:today AS date) - p.first_day AS age, p.revenue - p.first_day_revenue AS repeat_revenue,
       p.revenue, p.gross_profit,
       (p.first_day + interval '6 months')::date - CAST(:today AS date) AS left_6,
       (p.first_day + interval '12 months')::date - CAST(:today AS date) AS left_12
FROM per_customer p JOIN unnest(CAST(:ids AS uuid[])) AS open(id) ON open.id = p.customer_id
"""

# D = dormant_after_days. Occasions after the period's end are left out: the board describes the
# period as it was at its end.
KPIS = """
WITH {counted}, {occasions},
ranked AS (
  SELECT customer_id, day, revenue, gross_profit, row_number() OVER w AS n, lag(day) OVER w AS prev_day
  FROM occ WHERE day <= CAST(:end AS date)
  WINDOW w AS (PARTITION BY customer_id ORDER BY day)
),
per AS (
  SELECT customer_id, min(day) AS first_day, max(day) AS last_day,
         min(day) FILTER (WHERE n = 2) AS second_day,
         bool_or(day >= CAST(:start AS date)) AS active,
         coalesce(sum(revenue) FILTER (WHERE day >= CAST(:start AS date)), 0) AS period_revenue,
         bool_or(day >= CAST(:start AS date) AND day - prev_day > CAST(:dormant AS integer)) AS reactivated
  FROM ranked GROUP BY customer_id
),
top AS (
  SELECT period_revenue, row_number() OVER (ORDER BY period_revenue DESC, customer_id) AS rank,
         count(*) OVER () AS n
  FROM per WHERE active
),
period_occ AS (SELECT * FROM occ WHERE day BETWEEN CAST(:start AS date) AND CAST(:end AS date))
SELECT
  count(*) AS customers_total,
  count(*) FILTER (WHERE first_day >= CAST(:start AS date)) AS new_customers,
  count(*) FILTER (WHERE active) AS active_customers,
  count(*) FILTER (WHERE active AND second_day IS NOT NULL) AS repeat_customers,
  count(*) FILTER (WHERE last_day <= CAST(:end AS date) - CAST(:dormant AS integer)) AS dormant_customers,
  count(*) FILTER (WHERE reactivated) AS reactivated_customers,
  (SELECT coalesce(sum(orders), 0) FROM period_occ) AS orders,
  (SELECT coalesce(sum(revenue), 0) FROM period_occ) AS revenue,
  (SELECT coalesce(sum(gross_profit), 0) FROM period_occ) AS gross_profit,
  (SELECT coalesce(sum(period_revenue) FILTER (WHERE rank <= ceil(0.2 * n)), 0) FROM top) AS top_revenue,
  (SELECT coalesce(sum(period_revenue), 0) FROM top) AS active_revenue,
  (SELECT coalesce(sum(revenue), 0) FROM ranked) AS lifetime_revenue,
  (SELECT coalesce(sum(gross_profit), 0) FROM ranked) AS lifetime_gross_profit
FROM per
"""

# One row per bucket (day, ISO week or month) with orders; `new`: customers whose first occasion
# is in the bucket and in the period.
SERIES = """
WITH {counted}, {occasions},
first AS (SELECT customer_id, min(day) AS first_day FROM occ GROUP BY 1),
b AS (
  SELECT date_trunc(CAST(:interval AS text), o.day::timestamp)::date AS bucket, o.customer_id, o.orders,
         o.revenue, o.gross_profit, f.first_day
  FROM occ o JOIN first f USING (customer_id)
  WHERE o.day BETWEEN CAST(:start AS date) AND CAST(:end AS date)
)
SELECT bucket, sum(orders) AS orders, sum(revenue) AS revenue, sum(gross_profit) AS gross_profit,
       count(DISTINCT customer_id) AS active,
       count(DISTINCT customer_id) FILTER (
         WHERE date_trunc(CAST(:interval AS text), first_day::timestamp)::date = bucket
           AND first_day >= CAST(:start AS date)) AS new
FROM b GROUP BY bucket ORDER BY bucket
"""

LOYAL = """
SELECT count(*) FILTER (WHERE segment IS NOT NULL) AS scored,
       count(*) FILTER (WHERE segment = ANY(CAST(:segments AS text[]))) AS loyal,
       max(as_of) FILTER (WHERE segment IS NOT NULL) AS as_of
FROM {s}.customer_metrics
"""

_ACQUISITION_KEYS = {
    "channel": "coalesce(nullif(cu.acquisition->>'channel', ''), fo.channel)",
    "stage": "coalesce(nullif(cu.acquisition->>'stage', ''), 'purchase')",
    "campaign": "nullif(cu.acquisition->>'campaign', '')",
}
_TOUCH_KEYS = {"channel": "t_channel", "campaign": "t_campaign"}
_COST_KEYS = {"channel": "channel", "campaign": "campaign_id"}
_DIRECTIONS = {"last_touch": "DESC", "first_touch": "ASC"}


def _open_windows(rows: list[Any]) -> OpenWindows:
    def column(name: str) -> Any:
        return np.array([getattr(r, name) for r in rows], dtype=np.float64)

    x = column("x")
    m_x = np.divide(column("repeat_revenue"), x, out=np.zeros(len(x)), where=x > 0)
    return OpenWindows(frequency=x, recency_days=column("t_x"), age_days=column("age"), monetary_value=m_x,
                       revenue=column("revenue"), gross_profit=column("gross_profit"),
                       days_left_6=column("left_6"), days_left_12=column("left_12"))


class SqlReportQueries:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._raw = RawSql(conn)

    def _bare_schema(self) -> str:
        return self._raw.schema_name()

    def _schema(self) -> str:
        return self._raw.schema()

    def _sql(self, template: str, **parts: str) -> Any:
        s = self._schema()
        attribution = ATTRIBUTION.format(s=s, direction=parts.get("direction", ""))
        return text(template.format(counted=COUNTED.format(s=s), firsts=FIRSTS, occasions=OCCASIONS,
                                    attribution=attribution, s=s, **parts))

    @staticmethod
    def _scope(scope: Scope) -> dict[str, Any]:
        return {"tz": scope.timezone, "now": scope.now, "today": scope.today}

    async def f2_counts(self, scope: Scope, p: Period, *, window_days: int,
                        bucket_starts: tuple[int, ...]) -> F2Counts:
        row = (await self._conn.execute(self._sql(F2), {
            **self._scope(scope), "start": p.start, "end": p.end, "n": window_days,
            "bounds": list(bucket_starts)})).one()
        raw = row.histogram if isinstance(row.histogram, dict) else json.loads(row.histogram or "{}")
        # width_bucket: 1..len(bounds) for days >= bounds[0]; days are >= 1 = bounds[0]
        histogram = tuple(int(raw.get(str(i), 0)) for i in range(1, len(bucket_starts) + 1))
        return F2Counts(first_time_buyers=row.buyers, converted=row.converted,
                        not_converted=row.not_converted,
                        pending=row.pending, with_second_purchase=row.seconds, histogram=histogram,
                        median_days=float(row.median) if row.median is not None else None,
                        mean_days=float(row.mean) if row.mean is not None else None,
                        active_buyers=row.active, repeat_buyers=row.repeaters)

    async def attributed_orders(self, scope: Scope, p: Period, *, group_by: str, model: str,
                                window_days: int) -> list[AttributedGroup]:
        sql = self._sql(ATTRIBUTED, key=_TOUCH_KEYS[group_by], direction=_DIRECTIONS[model])
        rows = await self._conn.execute(sql, {**self._scope(scope), "start": p.start, "end": p.end,
                                              "w": window_days})
        return [AttributedGroup(key=r.key, orders=r.orders, revenue=int(r.revenue),
                                gross_profit=int(r.gross_profit), attributed=r.touched) for r in rows]

    async def romi_series(self, scope: Scope, p: Period, *, interval: str, model: str,
                          window_days: int) -> list[RomiPoint]:
        """Attributed orders and pro-rated costs per bucket (domain/analytics/kpis.py)."""
        found = await self._conn.execute(self._sql(ATTRIBUTED_SERIES, direction=_DIRECTIONS[model]), {
            **self._scope(scope), "start": p.start, "end": p.end, "w": window_days, "interval": interval})
        attributed = {r.bucket: r for r in found}
        spent = await self._conn.execute(text(COST_SERIES.format(s=self._schema())), {
            "start": p.start, "end": p.end, "interval": interval})
        costs = {r.bucket: Decimal(r.cost) for r in spent}
        points = []
        for bucket in sorted(set(attributed) | set(costs)):
            a = attributed.get(bucket)
            points.append(RomiPoint(bucket=bucket, orders=a.orders if a else 0,
                                    revenue=int(a.revenue) if a else 0,
                                    gross_profit=int(a.gross_profit) if a else 0,
                                    cost=costs.get(bucket, Decimal(0))))
        return points

    async def costs(self, p: Period, *, group_by: str) -> list[CostGroup]:
        sql = text(COSTS.format(s=self._schema(), key=_COST_KEYS[group_by]))
        rows = await self._conn.execute(sql, {"start": p.start, "end": p.end})
        return [CostGroup(key=r.key, cost=Decimal(r.cost)) for r in rows]

    async def cohort_cells(self, scope: Scope, *, unit: str, cohorts_from: date,
                           cohorts_to: date) -> list[CohortCell]:
        rows = await self._conn.execute(self._sql(COHORTS), {
            **self._scope(scope), "unit": unit, "start": cohorts_from, "end": cohorts_to})
        return [CohortCell(cohort=r.cohort, period=r.period, customers=r.customers, revenue=int(r.revenue),
                           gross_profit=int(r.gross_profit)) for r in rows]

    async def acquisition_counts(self, scope: Scope, p: Period, *, group_by: str, f2_window_days: int,
                                 dormant_after_days: int) -> list[AcquisitionCounts]:
        rows = (await self._conn.execute(self._sql(ACQUISITION, key=_ACQUISITION_KEYS[group_by]), {
            **self._scope(scope), "start": p.start, "end": p.end, "n": f2_window_days,
            "dormant": dormant_after_days})).all()
        open_windows = await self._open_windows(scope, {r.key: r.open_ids or [] for r in rows})
        return [AcquisitionCounts(
            key=r.key, customers=r.customers, converted=r.converted, not_converted=r.not_converted,
            retained=r.retained, closed_6=r.closed_6, revenue_6=int(r.revenue_6),
            gross_profit_6=int(r.gross_profit_6), closed_12=r.closed_12, revenue_12=int(r.revenue_12),
            gross_profit_12=int(r.gross_profit_12), open_windows=open_windows[r.key]) for r in rows]

    async def _open_windows(self, scope: Scope, ids_by_key: dict[str | None, list[Any]]
                            ) -> dict[str | None, OpenWindows]:
        ids = [i for group in ids_by_key.values() for i in group]
        found: dict[Any, Any] = {}
        if ids:
            statement = text(metrics_sql.per_customer(self._bare_schema()) + OPEN_WINDOWS)
            rows = await self._conn.execute(statement, {**self._scope(scope), "ids": ids})
            found = {r.customer_id: r for r in rows}
        # a customer ACQUISITION saw but the aggregate did not (an order cancelled in between) is left out
        return {key: _open_windows([found[i] for i in group if i in found])
                for key, group in ids_by_key.items()}

    async def kpi_counts(self, scope: Scope, p: Period, *, dormant_after_days: int) -> KpiCounts:
        r = (await self._conn.execute(self._sql(KPIS), {
            **self._scope(scope), "start": p.start, "end": p.end, "dormant": dormant_after_days})).one()
        return KpiCounts(
            customers_total=r.customers_total, new_customers=r.new_customers,
            active_customers=r.active_customers, repeat_customers=r.repeat_customers,
            dormant_customers=r.dormant_customers, reactivated_customers=r.reactivated_customers,
            orders=int(r.orders), revenue=int(r.revenue), gross_profit=int(r.gross_profit),
            top_revenue=int(r.top_revenue), active_revenue=int(r.active_revenue),
            lifetime_revenue=int(r.lifetime_revenue), lifetime_gross_profit=int(r.lifetime_gross_profit))

    async def loyal_customers(self, segments: tuple[str, ...]) -> LoyalCount:
        # customer_metrics is the analytics area's table (RFM of the last full recompute)
        sql = text(LOYAL.format(s=self._schema()))
        r = (await self._conn.execute(sql, {"segments": list(segments)})).one()
        return LoyalCount(scored=r.scored, loyal=r.loyal, as_of=r.as_of)

    async def series(self, scope: Scope, p: Period, *, interval: str) -> list[SeriesPoint]:
        rows = await self._conn.execute(self._sql(SERIES), {
            **self._scope(scope), "start": p.start, "end": p.end, "interval": interval})
        return [SeriesPoint(bucket=r.bucket, orders=int(r.orders), revenue=int(r.revenue),
                            gross_profit=int(r.gross_profit), active_customers=r.active, new_customers=r.new)
                for r in rows]
