"""Acquisition to LTV: what the customers won through each first touchpoint became.

Definitions (docs/metrics.md, "Acquisition to LTV"): a customer's first touchpoint is their
recorded `acquisition` (channel, stage, campaign); without one, the channel of their first counted
order, the stage `purchase` and no campaign. Customers count from their first purchase occasion
(a customer with no counted order was not acquired yet).

Predicted n-month LTV: a customer whose window [first day, first day + n months) is over counts
with their historical value; the others with what they bought so far plus the stored CLV model's
expectation for the rest of their window (E[M] x E[Y(rest)], undiscounted; gross profit with the
tenant's `clv_margin`). The group's value is the mean over all its customers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from domain.analytics import bgnbd, gamma_gamma
from domain.analytics.inputs import FloatArray
from domain.analytics.model import ClvModel
from domain.analytics.reports import Period, Ratio, Scope, load_settings, period, ratio
from domain.shared.errors import InvalidInput
from domain.shared.ports import UnitOfWork

GROUP_BY = ("channel", "stage", "campaign")
LTV_MONTHS = (6, 12)
DEFAULT_DAYS = 365
NO_MODEL = "no CLV model fitted yet: POST /v1/analytics/clv/fit"
NO_SPEND_MEAN = ("the fitted spend model has no mean for one-time buyers (Gamma-Gamma q <= 1), and this "
                 "group has one whose window is still open")


def _empty() -> FloatArray:
    return np.zeros(0)


@dataclass(frozen=True, eq=False)
class OpenWindows:
    """The customers of a group whose 12-month window is still open today, one array entry each:
    their summary as of today (x, t_x and T in days, m_x: docs/metrics.md section 1), their net
    revenue and gross profit so far (all inside the window, since it is still open), and the days
    from today to the end of their 6- and 12-month windows (<= 0: that window is over)."""

    frequency: FloatArray = field(default_factory=_empty)
    recency_days: FloatArray = field(default_factory=_empty)
    age_days: FloatArray = field(default_factory=_empty)
    monetary_value: FloatArray = field(default_factory=_empty)
    revenue: FloatArray = field(default_factory=_empty)
    gross_profit: FloatArray = field(default_factory=_empty)
    days_left_6: FloatArray = field(default_factory=_empty)
    days_left_12: FloatArray = field(default_factory=_empty)

    def days_left(self, months: int) -> FloatArray:
        return self.days_left_6 if months == 6 else self.days_left_12


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
    open_windows: OpenWindows = field(default_factory=OpenWindows)

    def historical(self, months: int) -> tuple[int, int, int]:
        """(customers whose window is over, their revenue, their gross profit) within `months`."""
        if months == 6:
            return self.closed_6, self.revenue_6, self.gross_profit_6
        return self.closed_12, self.revenue_12, self.gross_profit_12


@dataclass(frozen=True)
class HistoricalLtv:
    months: int
    customers: int  # whose window has closed: only they are averaged
    revenue: Ratio  # average per customer
    gross_profit: Ratio


@dataclass(frozen=True)
class PredictedLtv:
    months: int
    customers: int  # every customer of the group: all are averaged
    predicted: int  # of them, those whose window is still open (the model fills in the rest of it)
    revenue: Ratio  # average per customer
    gross_profit: Ratio


@dataclass(frozen=True)
class AcquisitionRow:
    counts: AcquisitionCounts
    f2_rate: Ratio
    retention: Ratio
    ltv: tuple[HistoricalLtv, ...]
    predicted_ltv: tuple[PredictedLtv, ...] = ()


@dataclass(frozen=True)
class AcquisitionReport:
    group_by: str
    period: Period
    f2_window_days: int
    dormant_after_days: int
    rows: tuple[AcquisitionRow, ...]
    clv_model: ClvModel | None = None


def expected_rest_of_window(model: ClvModel, *, margin: float, frequency: FloatArray,
                            recency_days: FloatArray, age_days: FloatArray, monetary_value: FloatArray,
                            days_left: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(revenue, gross profit) each customer is expected to add between today and the end of their
    window: E[M | x, m_x] x E[Y(days left) | x, t_x, T], and that x `margin`, undiscounted (a cohort's
    6- or 12-month value is read beside its undiscounted historical one). 0 where the window is over;
    NaN where Gamma-Gamma has no E[M] (x = 0 with q <= 1)."""
    unit = float(model.time_unit.days)
    rest = np.maximum(days_left, 0.0) / unit
    purchases = bgnbd.expected_purchases(model.bgnbd, rest, frequency=frequency, recency=recency_days / unit,
                                         age=age_days / unit)
    gg = model.gamma_gamma
    spend = np.full(len(frequency), np.nan)
    valued = gg.p * frequency + gg.q > 1.0  # as metrics.predict: E[M] exists
    if valued.any():
        spend[valued] = gamma_gamma.expected_average_spend(gg, frequency=frequency[valued],
                                                           monetary_value=monetary_value[valued])
    # a closed window adds nothing, whatever the spend model says
    revenue = np.where(rest > 0, spend * purchases, 0.0)
    return revenue, margin * revenue


def predicted_ltv(c: AcquisitionCounts, months: int, *, model: ClvModel | None,
                  margin: float) -> PredictedLtv:
    """Closed windows at their historical value, open ones at realised + expected; mean over all."""
    w = c.open_windows
    still_open = w.days_left(months) > 0
    n_open = int(still_open.sum())
    if model is None:
        no_model = Ratio(None, NO_MODEL)
        return PredictedLtv(months, c.customers, n_open, no_model, no_model)
    _, revenue, profit = c.historical(months)
    expected_revenue, expected_profit = expected_rest_of_window(
        model, margin=margin, frequency=w.frequency[still_open], recency_days=w.recency_days[still_open],
        age_days=w.age_days[still_open], monetary_value=w.monetary_value[still_open],
        days_left=w.days_left(months)[still_open])
    if not (np.isfinite(expected_revenue).all() and np.isfinite(expected_profit).all()):
        unknown = Ratio(None, NO_SPEND_MEAN)
        return PredictedLtv(months, c.customers, n_open, unknown, unknown)
    total_revenue = revenue + float(w.revenue[still_open].sum() + expected_revenue.sum())
    total_profit = profit + float(w.gross_profit[still_open].sum() + expected_profit.sum())
    return PredictedLtv(months, c.customers, n_open,
                        ratio(total_revenue, c.customers, when_zero="no customers"),
                        ratio(total_profit, c.customers, when_zero="no customers"))


def acquisition_row(c: AcquisitionCounts, *, model: ClvModel | None = None,
                    margin: float = 0.0) -> AcquisitionRow:
    def ltv(months: int, closed: int, revenue: int, profit: int) -> HistoricalLtv:
        why = f"no customer of this group is {months} months past their first purchase yet"
        return HistoricalLtv(months, closed, ratio(revenue, closed, when_zero=why),
                             ratio(profit, closed, when_zero=why))

    return AcquisitionRow(
        counts=c,
        f2_rate=ratio(c.converted, c.converted + c.not_converted,
                      when_zero="every customer's F2 window is still open"),
        retention=ratio(c.retained, c.customers, when_zero="no customers"),
        ltv=tuple(ltv(n, *c.historical(n)) for n in LTV_MONTHS),
        predicted_ltv=tuple(predicted_ltv(c, n, model=model, margin=margin) for n in LTV_MONTHS))


async def get_acquisition(*, uow: UnitOfWork, scope: Scope, group_by: str, start: date | None,
                          end: date | None) -> AcquisitionReport:
    """Customers whose first purchase occasion is in [start, end] (default: the last 365 days),
    grouped by first touchpoint; sorted by customers, most first. Predicted LTV uses the latest
    stored CLV model (null with a reason without one)."""
    if group_by not in GROUP_BY:
        raise InvalidInput(f"{group_by!r} is not one of {', '.join(GROUP_BY)}", field="group_by")
    p = period(start, end, today=scope.today, default_days=DEFAULT_DAYS)
    async with uow:
        settings = await load_settings(uow)
        counts = await uow.reports.acquisition_counts(
            scope, p, group_by=group_by, f2_window_days=settings.f2_window_days,
            dormant_after_days=settings.dormant_after_days)
        model = await uow.clv_models.latest()
    rows = sorted(counts, key=lambda c: (-c.customers, c.key is None, c.key or ""))
    return AcquisitionReport(group_by=group_by, period=p, f2_window_days=settings.f2_window_days,
                             dormant_after_days=settings.dormant_after_days,
                             rows=tuple(acquisition_row(c, model=model, margin=settings.clv_margin)
                                        for c in rows),
                             clv_model=model)
