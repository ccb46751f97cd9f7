"""Acquisition cohorts: customers grouped by the month or week of their first purchase occasion
(tenant-local), followed period by period.

Definitions (docs/metrics.md, "Cohorts"): period k of a cohort is the k-th calendar month (or ISO
week, Monday to Sunday) after the cohort's own; k = 0 is the cohort's month or week.
- retention[k] = customers of the cohort with a purchase occasion in period k / cohort size
  (so retention[0] is 1);
- revenue[k] = the cohort's net revenue in period k;
- ltv[k] = the cohort's net revenue in periods 0..k / cohort size (cumulative revenue per customer).
Rows run to the period containing today, which is still partial.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from domain.analytics.reports import Scope, period
from domain.shared.errors import InvalidInput
from domain.shared.ports import UnitOfWork

UNITS = ("month", "week")
METRICS = ("retention", "revenue", "ltv")
DEFAULT_COHORTS = 12
MAX_COHORTS = 120


@dataclass(frozen=True)
class CohortCell:
    """What the query returns: one (cohort, period) pair with any purchase in it."""

    cohort: date  # first day of the cohort's month or week
    period: date  # first day of the month or week of the purchases
    customers: int
    revenue: int
    gross_profit: int


@dataclass(frozen=True)
class CohortRow:
    cohort: date
    size: int
    values: tuple[float, ...]


@dataclass(frozen=True)
class CohortMatrix:
    by: str
    metric: str
    start: date  # first day of the first cohort's unit
    end: date  # last day of the last cohort's unit
    rows: tuple[CohortRow, ...]


def unit_start(day: date, unit: str) -> date:
    if unit == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())  # ISO weeks start on Monday


def unit_end(day: date, unit: str) -> date:
    start = unit_start(day, unit)
    if unit == "week":
        return start + timedelta(days=6)
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return following - timedelta(days=1)


def shift(day: date, unit: str, n: int) -> date:
    """The first day of the unit n units after (negative: before) `day`'s unit."""
    start = unit_start(day, unit)
    if unit == "week":
        return start + timedelta(weeks=n)
    months = start.year * 12 + start.month - 1 + n
    return date(months // 12, months % 12 + 1, 1)


def index(cohort: date, when: date, unit: str) -> int:
    """Period index k of `when` (a unit start) in a cohort starting at `cohort` (a unit start)."""
    if unit == "week":
        return (when - cohort).days // 7
    return (when.year - cohort.year) * 12 + when.month - cohort.month


def cohort_matrix(cells: list[CohortCell], *, by: str, metric: str, start: date, end: date,
                  today: date) -> CohortMatrix:
    last_period = unit_start(today, by)
    grouped: dict[date, dict[int, CohortCell]] = {}
    for c in cells:
        grouped.setdefault(c.cohort, {})[index(c.cohort, c.period, by)] = c
    rows = []
    for cohort in sorted(grouped):
        by_k = grouped[cohort]
        size = by_k[0].customers if 0 in by_k else 0
        if size == 0:  # cannot happen: every customer buys in their own first period
            continue
        periods = max(index(cohort, last_period, by), max(by_k)) + 1
        values: list[float] = []
        cumulative = 0
        for k in range(periods):
            cell = by_k.get(k)
            customers, revenue = (cell.customers, cell.revenue) if cell else (0, 0)
            cumulative += revenue
            if metric == "retention":
                values.append(customers / size)
            elif metric == "revenue":
                values.append(revenue)
            else:
                values.append(cumulative / size)
        rows.append(CohortRow(cohort=cohort, size=size, values=tuple(values)))
    return CohortMatrix(by=by, metric=metric, start=start, end=end, rows=tuple(rows))


def cohort_range(start: date | None, end: date | None, *, by: str, today: date) -> tuple[date, date]:
    """Whole units covering [start, end]; by default the 12 units up to today's."""
    end = end or (max(today, start) if start else today)
    start = start or shift(end, by, -(DEFAULT_COHORTS - 1))
    p = period(start, end, today=today)  # `from` after `to` is 422
    first, last = unit_start(p.start, by), unit_end(p.end, by)
    if index(first, unit_start(last, by), by) + 1 > MAX_COHORTS:
        raise InvalidInput(f"at most {MAX_COHORTS} cohorts at once; narrow `from`/`to`", field="from")
    return first, last


def _choice(value: str, allowed: tuple[str, ...], field: str) -> None:
    if value not in allowed:
        raise InvalidInput(f"{value!r} is not one of {', '.join(allowed)}", field=field)


async def get_cohorts(*, uow: UnitOfWork, scope: Scope, by: str, metric: str, start: date | None,
                      end: date | None) -> CohortMatrix:
    _choice(by, UNITS, "by")
    _choice(metric, METRICS, "metric")
    first, last = cohort_range(start, end, by=by, today=scope.today)
    async with uow:
        cells = await uow.reports.cohort_cells(scope, unit=by, cohorts_from=first, cohorts_to=last)
    return cohort_matrix(cells, by=by, metric=metric, start=first, end=last, today=scope.today)
