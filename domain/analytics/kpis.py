"""The KPI board of a period, and KPI time series.

Definitions (docs/metrics.md, "KPIs"), all on counted orders and tenant-local days, D being the
tenant's `dormant_after_days`:
- customers_total: customers with a purchase occasion on or before the period's end;
- new: first occasion in the period; active: an occasion in the period; returning: active - new;
- repeat: active customers with at least two occasions up to the period's end;
- dormant: customers whose last occasion up to the period's end is D or more days before it;
- reactivated: active customers with an occasion in the period more than D days after their
  previous one (they had been dormant and came back);
- top_20_revenue_share: net revenue of the top 20% of active customers (ceil(0.2 n), by period
  revenue, ties broken by id) / net revenue of all active customers;
- F2 rate as /v1/analytics/f2; CPO and ROMI over all channels as /v1/analytics/romi (totals);
- average LTV: net revenue (and gross profit) of customers_total up to the period's end / customers_total;
- loyal customers: customers in LOYAL_SEGMENTS at the last full metrics recompute (a snapshot, not
  of the period; null until one has run).

Series: the counts per day, ISO week or month; CPO and ROMI per interval as the board's (all
channels, the tenant's attribution model), each interval a period of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from domain.analytics.attribution import romi_report, to_minor_units
from domain.analytics.cohorts import index, shift, unit_start
from domain.analytics.f2 import BUCKET_STARTS, F2Report, f2_report
from domain.analytics.reports import Period, Ratio, Scope, load_settings, period, ratio
from domain.shared.errors import InvalidInput
from domain.shared.ports import UnitOfWork

COUNT_METRICS = ("revenue", "gross_profit", "orders", "active_customers", "new_customers",
                 "returning_customers")
RATIO_METRICS = ("cpo", "romi")
SERIES_METRICS = COUNT_METRICS + RATIO_METRICS
INTERVALS = ("day", "week", "month")
MAX_POINTS = 1000
# The tenant's loyalty definition, by default (issue 5): RFM champions or loyal. A loyalty tier
# condition may be added once the loyalty area exists.
LOYAL_SEGMENTS = ("champions", "loyal")
# Default series length per interval when `from` is omitted.
DEFAULT_POINTS = {"day": 30, "week": 12, "month": 12}


@dataclass(frozen=True)
class KpiCounts:
    customers_total: int
    new_customers: int
    active_customers: int
    repeat_customers: int
    dormant_customers: int
    reactivated_customers: int
    orders: int
    revenue: int
    gross_profit: int
    top_revenue: int  # net revenue of the top 20% of active customers
    active_revenue: int  # net revenue of all active customers (= revenue)
    lifetime_revenue: int  # net revenue of all customers_total up to the period's end
    lifetime_gross_profit: int


@dataclass(frozen=True)
class LoyalCount:
    """From the per-customer metrics of the last full recompute (RFM segments)."""

    scored: int  # customers with an RFM segment
    loyal: int
    as_of: date | None


@dataclass(frozen=True)
class Kpis:
    period: Period
    dormant_after_days: int
    counts: KpiCounts
    returning_customers: int
    top_20_revenue_share: Ratio
    f2: F2Report
    marketing_cost: int
    attributed_orders: int
    cpo: Ratio
    romi: Ratio
    average_ltv_revenue: Ratio
    average_ltv_gross_profit: Ratio
    loyal: LoyalCount


def kpis(counts: KpiCounts, *, p: Period, dormant_after_days: int, f2: F2Report, marketing_cost: int,
         attributed_orders: int, cpo: Ratio, romi: Ratio, loyal: LoyalCount) -> Kpis:
    return Kpis(period=p, dormant_after_days=dormant_after_days, counts=counts,
                returning_customers=counts.active_customers - counts.new_customers,
                top_20_revenue_share=ratio(counts.top_revenue, counts.active_revenue,
                                           when_zero="no revenue in the period"),
                f2=f2, marketing_cost=marketing_cost, attributed_orders=attributed_orders, cpo=cpo, romi=romi,
                average_ltv_revenue=ratio(counts.lifetime_revenue, counts.customers_total,
                                          when_zero="no customers"),
                average_ltv_gross_profit=ratio(counts.lifetime_gross_profit, counts.customers_total,
                                               when_zero="no customers"),
                loyal=loyal)


async def get_kpis(*, uow: UnitOfWork, scope: Scope, start: date | None, end: date | None) -> Kpis:
    """The KPI board of [start, end] (default: the last 30 days)."""
    p = period(start, end, today=scope.today)
    async with uow:
        settings = await load_settings(uow)
        counts = await uow.reports.kpi_counts(scope, p, dormant_after_days=settings.dormant_after_days)
        f2_counts = await uow.reports.f2_counts(scope, p, window_days=settings.f2_window_days,
                                                bucket_starts=BUCKET_STARTS)
        attributed = await uow.reports.attributed_orders(
            scope, p, group_by="channel", model=settings.attribution_model,
            window_days=settings.attribution_window_days)
        costs = await uow.reports.costs(p, group_by="channel")
        loyal = await uow.reports.loyal_customers(LOYAL_SEGMENTS)
    total = romi_report(p, group_by="channel", model=settings.attribution_model,
                        window_days=settings.attribution_window_days, attributed=attributed,
                        costs=costs).total
    return kpis(counts, p=p, dormant_after_days=settings.dormant_after_days,
                f2=f2_report(f2_counts, p, settings.f2_window_days), marketing_cost=total.cost,
                attributed_orders=total.orders, cpo=total.cpo, romi=total.romi, loyal=loyal)


@dataclass(frozen=True)
class SeriesPoint:
    """One bucket as the query returns it (buckets without orders are absent)."""

    bucket: date  # first day of the day, ISO week or month
    orders: int
    revenue: int
    gross_profit: int
    active_customers: int
    new_customers: int


@dataclass(frozen=True)
class RomiPoint:
    """One interval's attributed orders (all channels, the given model) and marketing cost (pro rata
    to the interval's days inside the period, not yet rounded). Intervals with neither are absent."""

    bucket: date
    orders: int
    revenue: int
    gross_profit: int
    cost: Decimal


@dataclass(frozen=True)
class Series:
    metric: str
    interval: str
    period: Period
    points: tuple[tuple[date, float | None], ...]
    reasons: tuple[str | None, ...] = ()  # per point, why its value is null (cpo, romi)


def _value(point: SeriesPoint, metric: str) -> int:
    if metric == "returning_customers":
        return point.active_customers - point.new_customers
    value: int = getattr(point, metric)
    return value


def _buckets(p: Period, interval: str) -> Iterator[date]:
    """Every bucket from the one holding `p.start` to the one holding `p.end`."""
    first = _bucket(p.start, interval)
    for k in range(_index(first, _bucket(p.end, interval), interval) + 1):
        yield _shift(first, interval, k)


def series_points(found: list[SeriesPoint], *, metric: str, interval: str, p: Period) -> Series:
    """Every bucket from the one holding `p.start` to the one holding `p.end`, zeros where nothing
    was bought. The first and last buckets may be partial (cut at `from` and `to`)."""
    by_bucket = {x.bucket: x for x in found}
    points = tuple((b, _value(x, metric) if (x := by_bucket.get(b)) else 0) for b in _buckets(p, interval))
    return Series(metric=metric, interval=interval, period=p, points=points, reasons=(None,) * len(points))


def interval_ratio(point: RomiPoint | None, metric: str) -> Ratio:
    """CPO = cost / attributed orders, ROMI = (attributed gross profit - cost) / cost, of one
    interval; null with a reason without cost (or, for CPO, without attributed orders)."""
    point = point or RomiPoint(date.min, orders=0, revenue=0, gross_profit=0, cost=Decimal(0))
    orders, gross_profit, cost = point.orders, point.gross_profit, to_minor_units(point.cost)
    if cost == 0:  # rounded as the board rounds: a cost that rounds to nothing is none
        return Ratio(None, "no marketing cost recorded in this interval")
    if metric == "cpo":
        return ratio(cost, orders, when_zero="no attributed orders in this interval")
    return Ratio((gross_profit - cost) / cost)


def ratio_series_points(found: list[RomiPoint], *, metric: str, interval: str, p: Period) -> Series:
    """CPO or ROMI per bucket; each bucket is cut at `from` and `to` like the counts."""
    by_bucket = {x.bucket: x for x in found}
    values = [(b, interval_ratio(by_bucket.get(b), metric)) for b in _buckets(p, interval)]
    return Series(metric=metric, interval=interval, period=p, points=tuple((b, r.value) for b, r in values),
                  reasons=tuple(r.reason for _, r in values))


def _bucket(day: date, interval: str) -> date:
    return day if interval == "day" else unit_start(day, interval)


def _index(first: date, last: date, interval: str) -> int:
    return (last - first).days if interval == "day" else index(first, last, interval)


def _shift(first: date, interval: str, k: int) -> date:
    return first + timedelta(days=k) if interval == "day" else shift(first, interval, k)


async def get_series(*, uow: UnitOfWork, scope: Scope, metric: str, interval: str, start: date | None,
                     end: date | None) -> Series:
    if metric not in SERIES_METRICS:
        raise InvalidInput(f"{metric!r} is not one of {', '.join(SERIES_METRICS)}", field="metric")
    if interval not in INTERVALS:
        raise InvalidInput(f"{interval!r} is not one of {', '.join(INTERVALS)}", field="interval")
    today = scope.today
    last = end or (max(today, start) if start else today)
    first = start or _shift(_bucket(last, interval), interval, -(DEFAULT_POINTS[interval] - 1))
    if first > last:
        raise InvalidInput("`from` must not be after `to`", field="from")
    if _index(_bucket(first, interval), _bucket(last, interval), interval) + 1 > MAX_POINTS:
        raise InvalidInput(f"a series has at most {MAX_POINTS} points; widen `interval` or narrow "
                           "`from`/`to`", field="from")
    p = period(first, last, today=today)
    if metric in RATIO_METRICS:
        found_romi = await _romi_points(uow, scope, p, interval)
        return ratio_series_points(found_romi, metric=metric, interval=interval, p=p)
    async with uow:
        found = await uow.reports.series(scope, p, interval=interval)
    return series_points(found, metric=metric, interval=interval, p=p)


async def _romi_points(uow: UnitOfWork, scope: Scope, p: Period, interval: str) -> list[RomiPoint]:
    async with uow:
        settings = await load_settings(uow)
        return await uow.reports.romi_series(scope, p, interval=interval, model=settings.attribution_model,
                                             window_days=settings.attribution_window_days)


