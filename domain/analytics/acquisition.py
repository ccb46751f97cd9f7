"""Acquisition to LTV: what the customers won through each first touchpoint became.

Definitions (docs/metrics.md, "Acquisition to LTV"): a customer's first touchpoint is their
recorded `acquisition` (channel, stage, campaign); without one, the channel of their first counted
order, the stage `purchase` and no campaign. Customers count from their first purchase occasion
(a customer with no counted order was not acquired yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.analytics.reports import Period, Ratio, Scope, load_settings, period, ratio
from domain.shared.errors import InvalidInput
from domain.shared.ports import UnitOfWork

GROUP_BY = ("channel", "stage", "campaign")
LTV_MONTHS = (6, 12)
DEFAULT_DAYS = 365


@dataclass(frozen=True)
class AcquisitionCounts:
    """One group as the query counts it. `closed_n`: customers whose first n months are over;
    `revenue_n` / `gross_profit_n`: their net totals within those n months."""

    key: str | None
    customers: int
    converted: int
    not_converted: int
    retained: int
    closed_6: int
    revenue_6: int
    gross_profit_6: int
    closed_12: int
    revenue_12: int
    gross_profit_12: int


@dataclass(frozen=True)
class HistoricalLtv:
    months: int
    customers: int  # whose window has closed: only they are averaged
    revenue: Ratio  # average per customer
    gross_profit: Ratio


@dataclass(frozen=True)
class AcquisitionRow:
    counts: AcquisitionCounts
    f2_rate: Ratio
    retention: Ratio
    ltv: tuple[HistoricalLtv, ...]


@dataclass(frozen=True)
class AcquisitionReport:
    group_by: str
    period: Period
    f2_window_days: int
    dormant_after_days: int
    rows: tuple[AcquisitionRow, ...]


def acquisition_row(c: AcquisitionCounts) -> AcquisitionRow:
    def ltv(months: int, closed: int, revenue: int, profit: int) -> HistoricalLtv:
        why = f"no customer of this group is {months} months past their first purchase yet"
        return HistoricalLtv(months, closed, ratio(revenue, closed, when_zero=why),
                             ratio(profit, closed, when_zero=why))

    return AcquisitionRow(
        counts=c,
        f2_rate=ratio(c.converted, c.converted + c.not_converted,
                      when_zero="every customer's F2 window is still open"),
        retention=ratio(c.retained, c.customers, when_zero="no customers"),
        ltv=(ltv(6, c.closed_6, c.revenue_6, c.gross_profit_6),
             ltv(12, c.closed_12, c.revenue_12, c.gross_profit_12)))


async def get_acquisition(*, uow: UnitOfWork, scope: Scope, group_by: str, start: date | None,
                          end: date | None) -> AcquisitionReport:
    """Customers whose first purchase occasion is in [start, end] (default: the last 365 days),
    grouped by first touchpoint; sorted by customers, most first."""
    if group_by not in GROUP_BY:
        raise InvalidInput(f"{group_by!r} is not one of {', '.join(GROUP_BY)}", field="group_by")
    p = period(start, end, today=scope.today, default_days=DEFAULT_DAYS)
    async with uow:
        settings = await load_settings(uow)
        counts = await uow.reports.acquisition_counts(
            scope, p, group_by=group_by, f2_window_days=settings.f2_window_days,
            dormant_after_days=settings.dormant_after_days)
    rows = sorted(counts, key=lambda c: (-c.customers, c.key is None, c.key or ""))
    return AcquisitionReport(group_by=group_by, period=p, f2_window_days=settings.f2_window_days,
                             dormant_after_days=settings.dormant_after_days,
                             rows=tuple(acquisition_row(c) for c in rows))
