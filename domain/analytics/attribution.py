"""Attribution of orders to touchpoints, and CPO / ROMI per channel or campaign over a period.

Definitions (docs/metrics.md, "Attribution, CPO and ROMI"):
- an order is attributed to one touch of its customer: the latest (last touch) or the earliest
  (first touch) touch within `attribution_window_days` before the order;
- CPO = cost / attributed orders; ROMI = (attributed gross profit - cost) / cost;
- a cost spanning days outside the period counts pro rata to its days inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from domain.analytics.reports import Period, Ratio, Scope, load_settings, period, ratio
from domain.shared.errors import InvalidInput
from domain.shared.ports import UnitOfWork

GROUP_BY = ("channel", "campaign")
MODELS = ("last_touch", "first_touch")


@dataclass(frozen=True)
class AttributedGroup:
    """Orders of the period attributed to touches with this key (None: the touch names no channel,
    or no campaign). `key` is not set for the orders no touch reached."""

    key: str | None
    orders: int
    revenue: int
    gross_profit: int
    attributed: bool = True


@dataclass(frozen=True)
class CostGroup:
    key: str | None
    cost: Decimal  # pro rata to the days inside the period, not yet rounded


@dataclass(frozen=True)
class RomiRow:
    key: str | None
    cost: int
    orders: int
    revenue: int
    gross_profit: int
    cpo: Ratio
    romi: Ratio


@dataclass(frozen=True)
class RomiReport:
    period: Period
    group_by: str
    model: str
    window_days: int
    rows: tuple[RomiRow, ...]
    total: RomiRow
    unattributed_orders: int
    unattributed_revenue: int


def to_minor_units(value: Decimal) -> int:
    """Pro-rated costs are rounded once, per group, to the nearest minor unit (half to even)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def romi_row(key: str | None, cost: int, orders: int, revenue: int, gross_profit: int) -> RomiRow:
    no_cost = "no marketing cost recorded for this group in the period"
    return RomiRow(
        key=key, cost=cost, orders=orders, revenue=revenue, gross_profit=gross_profit,
        cpo=ratio(cost, orders, when_zero="no attributed orders") if cost else Ratio(None, no_cost),
        romi=ratio(gross_profit - cost, cost, when_zero=no_cost))


def romi_report(p: Period, *, group_by: str, model: str, window_days: int,
                attributed: list[AttributedGroup], costs: list[CostGroup]) -> RomiReport:
    """One row per key found in either costs or attributed orders (sorted, None last)."""
    touched = [g for g in attributed if g.attributed]
    untouched = [g for g in attributed if not g.attributed]
    by_key = {g.key: g for g in touched}
    cost_by_key = {c.key: to_minor_units(c.cost) for c in costs}
    keys = sorted(set(by_key) | set(cost_by_key), key=lambda k: (k is None, k or ""))
    rows = []
    for k in keys:
        g = by_key.get(k)
        rows.append(romi_row(k, cost_by_key.get(k, 0), g.orders if g else 0, g.revenue if g else 0,
                             g.gross_profit if g else 0))
    total = romi_row(None, to_minor_units(sum((c.cost for c in costs), Decimal(0))),
                     sum(r.orders for r in rows), sum(r.revenue for r in rows),
                     sum(r.gross_profit for r in rows))
    return RomiReport(period=p, group_by=group_by, model=model, window_days=window_days, rows=tuple(rows),
                      total=total, unattributed_orders=sum(g.orders for g in untouched),
                      unattributed_revenue=sum(g.revenue for g in untouched))


def check_choice(value: str, allowed: tuple[str, ...], *, field: str) -> str:
    if value not in allowed:
        raise InvalidInput(f"{value!r} is not one of {', '.join(allowed)}", field=field)
    return value


async def get_romi(*, uow: UnitOfWork, scope: Scope, group_by: str, start: date | None, end: date | None,
                   model: str | None = None) -> RomiReport:
    """CPO and ROMI per channel or campaign over [start, end] (default: the last 30 days), with the
    tenant's attribution model and window unless `model` is given."""
    check_choice(group_by, GROUP_BY, field="group_by")
    if model is not None:
        check_choice(model, MODELS, field="model")
    p = period(start, end, today=scope.today)
    async with uow:
        settings = await load_settings(uow)
        chosen = model or settings.attribution_model
        window = settings.attribution_window_days
        attributed = await uow.reports.attributed_orders(scope, p, group_by=group_by, model=chosen,
                                                         window_days=window)
        costs = await uow.reports.costs(p, group_by=group_by)
    return romi_report(p, group_by=group_by, model=chosen, window_days=window, attributed=attributed,
                       costs=costs)
