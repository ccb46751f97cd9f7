"""The SQL of customer metrics (docs/metrics.md, "Customer metrics"), shared by the full recompute,
the per-customer refresh and the CLV fit's summary, so all three count the same orders the same way.

Raw SQL (window functions and temporary tables are clearer here than in Core), so every tenant
table is qualified with the quoted schema the unit of work is bound to; the schema name comes from
the tenant registry (validated slug), never from a caller.
"""

from __future__ import annotations

import re

_SCHEMA = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


def quoted(schema: str) -> str:
    if not _SCHEMA.match(schema):  # pragma: no cover - the registry only holds validated names
        raise ValueError(f"not a tenant schema name: {schema!r}")
    return f'"{schema}"'


def per_customer(schema: str, *, one_customer: bool = False, until_day: bool = False) -> str:
    """One row per customer with a counted order: not cancelled, not fully refunded, placed at or
    before :now (and on or before :until when `until_day`), days in time zone :tz, money net of
    refunds (docs/orders.md): revenue = subtotal - refunded merchandise; gross profit = net gross
    profit. Columns: customer_id, first_order_at, last_order_at, first_day, last_day, second_day,
    orders, occasions, revenue, gross_profit, first_day_revenue."""
    s = quoted(schema)
    who = " AND o.customer_id = :customer_id" if one_customer else ""
    until = " AND (o.ordered_at AT TIME ZONE :tz)::date <= :until" if until_day else ""
    # Cost of returned units only exists on partially refunded orders (fully refunded ones do
    # not count), a small share: joined from their lines only.
    return f"""
    WITH returned AS (
        SELECT l.order_id, sum(l.refunded_quantity::bigint * COALESCE(l.unit_cost, 0)) AS cost
        FROM {s}.order_lines l JOIN {s}.orders o ON o.id = l.order_id
        WHERE o.status = 'partially_refunded' AND l.refunded_quantity > 0{who}
        GROUP BY l.order_id
    ), counted AS (
        SELECT o.customer_id, o.ordered_at, (o.ordered_at AT TIME ZONE :tz)::date AS day,
               o.subtotal - LEAST(o.refunded_total, GREATEST(o.subtotal - o.discount_total, 0)) AS revenue,
               o.subtotal - o.cost_total - o.discount_total
                 - LEAST(o.refunded_total, GREATEST(o.subtotal - o.discount_total, 0))
                 + COALESCE(ret.cost, 0) AS gross_profit
        FROM {s}.orders o LEFT JOIN returned ret ON ret.order_id = o.id
        WHERE o.status IN ('placed', 'partially_refunded') AND o.ordered_at <= :now{who}{until}
    ), days AS (
        SELECT customer_id, day, min(ordered_at) AS first_at, max(ordered_at) AS last_at, count(*) AS n,
               sum(revenue) AS revenue, sum(gross_profit) AS gross_profit,
               row_number() OVER (PARTITION BY customer_id ORDER BY day) AS k
        FROM counted GROUP BY customer_id, day
    ), per_customer AS (
        SELECT customer_id, min(first_at) AS first_order_at, max(last_at) AS last_order_at,
               min(day) AS first_day, max(day) AS last_day, min(day) FILTER (WHERE k = 2) AS second_day,
               sum(n)::int AS orders, count(*)::int AS occasions, sum(revenue)::bigint AS revenue,
               sum(gross_profit)::bigint AS gross_profit,
               sum(revenue) FILTER (WHERE k = 1)::bigint AS first_day_revenue
        FROM days GROUP BY customer_id
    )"""  # noqa: S608 - the schema is quoted from the registry; the rest are constants


def stage(schema: str) -> str:
    """The full recompute into the temporary table analytics_stage: aggregates, RFM by mid-rank
    quintiles (rfm.py: score = 1 + floor(5 (lo - 1 + hi) / 2n), hi recovered from cume_dist), the
    segment from the (R, FM) grid given as arrays, and formula LTV."""
    return per_customer(schema) + """, ranked AS (
        SELECT p.*, count(*) OVER () AS n,
               rank() OVER (ORDER BY last_day) AS r_lo, round(cume_dist() OVER (ORDER BY last_day)
                   * count(*) OVER ())::bigint AS r_hi,
               rank() OVER (ORDER BY occasions) AS f_lo, round(cume_dist() OVER (ORDER BY occasions)
                   * count(*) OVER ())::bigint AS f_hi,
               rank() OVER (ORDER BY revenue) AS m_lo, round(cume_dist() OVER (ORDER BY revenue)
                   * count(*) OVER ())::bigint AS m_hi
        FROM per_customer p
    ), scored AS (
        SELECT ranked.*, (1 + 5 * (r_lo - 1 + r_hi) / (2 * n))::smallint AS r,
               (1 + 5 * (f_lo - 1 + f_hi) / (2 * n))::smallint AS f,
               (1 + 5 * (m_lo - 1 + m_hi) / (2 * n))::smallint AS m
        FROM ranked
    )
    SELECT s.customer_id, s.first_order_at, s.last_order_at, s.first_day, s.last_day, s.second_day,
           s.orders, s.occasions, s.revenue, s.gross_profit, s.first_day_revenue, s.r, s.f, s.m,
           g.segment::varchar(40) AS segment,
           s.gross_profit / GREATEST(1.0, (CAST(:as_of AS date) - s.first_day) / CAST(:period_days AS float8))
             * CAST(:annuity AS float8) AS formula_ltv
    FROM scored s
    LEFT JOIN unnest(CAST(:grid_r AS int[]), CAST(:grid_fm AS int[]), CAST(:grid_segment AS text[]))
        AS g(r, fm, segment) ON g.r = s.r AND g.fm = (s.f + s.m + 1) / 2
    """  # noqa: S608 - constants


CLV_MODEL_COLUMNS = ("id", "r", "alpha", "a", "b", "p", "q", "gamma", "bgnbd_log_likelihood",
                     "gamma_gamma_log_likelihood", "n_customers", "n_repeat_customers", "n_spend_customers",
                     "frequency_spend_correlation", "time_unit", "observation_end", "converged", "iterations",
                     "fitted_at")
_MODEL_AS_M = ", ".join(f"m.{c} AS m_{c}" for c in CLV_MODEL_COLUMNS)


def refresh_inputs(schema: str) -> str:
    """One customer's aggregate with the settings, the RFM edges and the latest model, in one
    statement: the per-order refresh reads everything in a single round trip. The model's columns
    come prefixed `m_` (the aggregate has an `r` and an `m` of its own)."""
    s = quoted(schema)
    return per_customer(schema, one_customer=True) + f"""
    SELECT p.*, st.settings, e.recency AS e_recency, e.frequency AS e_frequency, e.monetary AS e_monetary,
           {_MODEL_AS_M}
    FROM (SELECT 1) AS one
    LEFT JOIN per_customer p ON true
    LEFT JOIN {s}.analytics_settings st ON st.id = 1
    LEFT JOIN {s}.rfm_edges e ON e.id = 1
    LEFT JOIN LATERAL (SELECT * FROM {s}.clv_models ORDER BY fitted_at DESC, id DESC LIMIT 1) m ON true
    """  # noqa: S608 - the schema is quoted from the registry; the rest are constants
