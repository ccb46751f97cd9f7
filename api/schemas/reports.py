"""Report bodies: F2 and repeat, CPO / ROMI, cohorts, acquisition to LTV, KPIs.

Ratios that cannot be computed (a division by zero) are null with a `..._reason` beside them;
JSON never carries NaN or infinity.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from domain.analytics.acquisition import AcquisitionReport, AcquisitionRow, HistoricalLtv, PredictedLtv
from domain.analytics.attribution import RomiReport, RomiRow
from domain.analytics.cohorts import CohortMatrix
from domain.analytics.f2 import F2Report
from domain.analytics.kpis import Kpis, Series


class PeriodRead(BaseModel):
    from_: date = Field(alias="from", description="First tenant-local day (included)")
    to: date = Field(description="Last tenant-local day (included)")

    model_config = {"populate_by_name": True}


def _period(start: date, end: date) -> PeriodRead:
    return PeriodRead(**{"from": start, "to": end})


class BucketRead(BaseModel):
    min_days: int
    max_days: int | None = Field(description="Included; null: no upper bound")
    customers: int


class F2Read(BaseModel):
    period: PeriodRead
    window_days: int = Field(description="N: the second occasion must come within N days of the first")
    first_time_buyers: int = Field(description="Customers whose first purchase occasion is in the period")
    converted: int = Field(description="Second occasion within N days")
    not_converted: int = Field(description="Window closed without a second occasion in it")
    pending: int = Field(description="Window still open and no second occasion yet: not counted either way")
    f2_rate: float | None = Field(description="converted / (converted + not_converted)")
    f2_rate_reason: str | None = Field(description="Why f2_rate is null")
    with_second_purchase: int = Field(
        description="First-time buyers of the period with a second occasion at any time")
    median_days_to_second_purchase: float | None
    mean_days_to_second_purchase: float | None
    days_to_second_purchase: list[BucketRead] = Field(description=(
        "Histogram of days from first to second occasion over `with_second_purchase`"))
    active_buyers: int = Field(description="Customers with a purchase occasion in the period")
    repeat_buyers: int = Field(description="Active buyers with at least two occasions up to the period's end")
    repeat_rate: float | None = Field(description="repeat_buyers / active_buyers")
    repeat_rate_reason: str | None

    @classmethod
    def from_domain(cls, r: F2Report) -> F2Read:
        c = r.counts
        return cls(period=_period(r.period.start, r.period.end), window_days=r.window_days,
                   first_time_buyers=c.first_time_buyers, converted=c.converted,
                   not_converted=c.not_converted,
                   pending=c.pending, f2_rate=r.f2_rate.value, f2_rate_reason=r.f2_rate.reason,
                   with_second_purchase=c.with_second_purchase, median_days_to_second_purchase=c.median_days,
                   mean_days_to_second_purchase=c.mean_days,
                   days_to_second_purchase=[
                       BucketRead(min_days=b.min_days, max_days=b.max_days, customers=b.customers)
                       for b in r.buckets],
                   active_buyers=c.active_buyers, repeat_buyers=c.repeat_buyers,
                   repeat_rate=r.repeat_rate.value, repeat_rate_reason=r.repeat_rate.reason)


class RomiRowRead(BaseModel):
    key: str | None = Field(description="The channel or campaign; null: costs or touches that name none")
    cost: int = Field(description="Marketing cost in the period (pro rata to its days), minor units")
    orders: int = Field(description="Attributed orders")
    revenue: int = Field(description="Attributed net revenue, minor units")
    gross_profit: int = Field(description="Attributed net gross profit, minor units")
    cpo: float | None = Field(description="cost / orders, minor units per order")
    cpo_reason: str | None
    romi: float | None = Field(description="(gross_profit - cost) / cost; 0.25 is 25%")
    romi_reason: str | None

    @classmethod
    def from_domain(cls, r: RomiRow) -> RomiRowRead:
        return cls(key=r.key, cost=r.cost, orders=r.orders, revenue=r.revenue, gross_profit=r.gross_profit,
                   cpo=r.cpo.value, cpo_reason=r.cpo.reason, romi=r.romi.value, romi_reason=r.romi.reason)


class RomiRead(BaseModel):
    period: PeriodRead
    group_by: str
    attribution_model: str
    attribution_window_days: int
    groups: list[RomiRowRead]
    total: RomiRowRead = Field(description="All costs and all attributed orders (`key` null)")
    unattributed_orders: int = Field(description="Orders of the period with no touch in the window")
    unattributed_revenue: int

    @classmethod
    def from_domain(cls, r: RomiReport) -> RomiRead:
        return cls(period=_period(r.period.start, r.period.end), group_by=r.group_by,
                   attribution_model=r.model,
                   attribution_window_days=r.window_days, groups=[RomiRowRead.from_domain(x) for x in r.rows],
                   total=RomiRowRead.from_domain(r.total), unattributed_orders=r.unattributed_orders,
                   unattributed_revenue=r.unattributed_revenue)


class CohortRowRead(BaseModel):
    cohort: date = Field(description="First day of the cohort's month or ISO week (tenant-local)")
    size: int = Field(description="Customers whose first purchase occasion is in that month or week")
    values: list[float] = Field(description=(
        "Index k: the k-th month or week after the cohort's own (0: its own); runs to the current, "
        "partial, period"))


class CohortsRead(BaseModel):
    by: str
    metric: str = Field(description=(
        "retention: share of the cohort buying in period k; revenue: the cohort's net revenue in period k; "
        "ltv: cumulative net revenue per cohort customer up to period k"))
    period: PeriodRead = Field(description="The cohorts shown: whole months or weeks")
    cohorts: list[CohortRowRead]

    @classmethod
    def from_domain(cls, m: CohortMatrix) -> CohortsRead:
        return cls(by=m.by, metric=m.metric, period=_period(m.start, m.end),
                   cohorts=[CohortRowRead(cohort=r.cohort, size=r.size, values=list(r.values))
                            for r in m.rows])


class HistoricalLtvRead(BaseModel):
    months: int
    customers: int = Field(description="Customers at least this many months past their first purchase: "
                                       "only they are averaged")
    revenue: float | None = Field(description="Average net revenue within the months, per customer")
    gross_profit: float | None = Field(description="Average net gross profit within the months, per customer")
    reason: str | None = Field(description="Why the averages are null")

    @classmethod
    def from_domain(cls, h: HistoricalLtv) -> HistoricalLtvRead:
        return cls(months=h.months, customers=h.customers, revenue=h.revenue.value,
                   gross_profit=h.gross_profit.value, reason=h.revenue.reason)


class PredictedLtvRead(BaseModel):
    months: int
    customers: int = Field(description="Every customer of the group: all are averaged")
    predicted: int = Field(description=(
        "Of them, those whose window is still open: what they bought so far plus the CLV model's "
        "expectation for the rest of the window (the others count with their historical value)"))
    revenue: float | None = Field(description=(
        "Average net revenue within the months, per customer (undiscounted)"))
    gross_profit: float | None = Field(description=(
        "Average gross profit within the months, per customer: realised, plus clv_margin x expected revenue"))
    reason: str | None = Field(description="Why the averages are null (no CLV model fitted, ...)")

    @classmethod
    def from_domain(cls, p: PredictedLtv) -> PredictedLtvRead:
        return cls(months=p.months, customers=p.customers, predicted=p.predicted, revenue=p.revenue.value,
                   gross_profit=p.gross_profit.value, reason=p.revenue.reason)


class AcquisitionGroupRead(BaseModel):
    key: str | None = Field(
        description="The first touchpoint's channel, stage or campaign (null: none recorded)")
    customers: int = Field(description="Customers acquired (first purchase occasion in the period)")
    f2_converted: int
    f2_not_converted: int
    f2_rate: float | None
    f2_rate_reason: str | None
    retained: int = Field(description="Customers not dormant today (an occasion within dormant_after_days)")
    retention_rate: float | None
    retention_rate_reason: str | None
    ltv_6m: HistoricalLtvRead
    ltv_12m: HistoricalLtvRead
    predicted_ltv_6m: PredictedLtvRead
    predicted_ltv_12m: PredictedLtvRead

    @classmethod
    def from_domain(cls, r: AcquisitionRow) -> AcquisitionGroupRead:
        c = r.counts
        return cls(key=c.key, customers=c.customers, f2_converted=c.converted,
                   f2_not_converted=c.not_converted,
                   f2_rate=r.f2_rate.value, f2_rate_reason=r.f2_rate.reason, retained=c.retained,
                   retention_rate=r.retention.value, retention_rate_reason=r.retention.reason,
                   ltv_6m=HistoricalLtvRead.from_domain(r.ltv[0]),
                   ltv_12m=HistoricalLtvRead.from_domain(r.ltv[1]),
                   predicted_ltv_6m=PredictedLtvRead.from_domain(r.predicted_ltv[0]),
                   predicted_ltv_12m=PredictedLtvRead.from_domain(r.predicted_ltv[1]))


class AcquisitionReportRead(BaseModel):
    group_by: str
    period: PeriodRead = Field(description="Customers whose first purchase occasion is in these days")
    f2_window_days: int
    dormant_after_days: int
    clv_model_fitted_at: datetime | None = Field(description=(
        "The CLV model behind the predicted LTV (GET /v1/analytics/clv/model); null: none fitted yet"))
    groups: list[AcquisitionGroupRead]

    @classmethod
    def from_domain(cls, a: AcquisitionReport) -> AcquisitionReportRead:
        return cls(group_by=a.group_by, period=_period(a.period.start, a.period.end),
                   f2_window_days=a.f2_window_days, dormant_after_days=a.dormant_after_days,
                   clv_model_fitted_at=a.clv_model.fitted_at if a.clv_model else None,
                   groups=[AcquisitionGroupRead.from_domain(r) for r in a.rows])


class KpisRead(BaseModel):
    period: PeriodRead
    dormant_after_days: int
    customers_total: int = Field(description="Customers with a purchase occasion on or before `to`")
    new_customers: int = Field(description="First purchase occasion in the period")
    active_customers: int = Field(description="A purchase occasion in the period")
    returning_customers: int = Field(description="active - new")
    repeat_customers: int = Field(description="Active, with at least two occasions up to `to`")
    dormant_customers: int = Field(description="Last occasion up to `to` dormant_after_days+ days before it")
    reactivated_customers: int = Field(description="Active, buying more than dormant_after_days after "
                                                   "their previous occasion")
    orders: int = Field(description="Counted orders in the period")
    revenue: int = Field(description="Net revenue in the period, minor units")
    gross_profit: int = Field(description="Net gross profit in the period, minor units")
    top_20_revenue_share: float | None = Field(description="Revenue share of the top 20% of active customers")
    top_20_revenue_share_reason: str | None
    f2_rate: float | None = Field(description="As GET /v1/analytics/f2 for the same period")
    f2_rate_reason: str | None
    f2_pending: int = Field(description="First-time buyers whose F2 window is still open")
    marketing_cost: int = Field(description="Marketing cost in the period (pro rata), minor units")
    attributed_orders: int
    cpo: float | None = Field(description="marketing_cost / attributed_orders")
    cpo_reason: str | None
    romi: float | None = Field(description="(attributed gross profit - marketing_cost) / marketing_cost")
    romi_reason: str | None
    average_ltv_revenue: float | None = Field(description=(
        "Historical LTV: net revenue of customers_total up to `to`, per customer"))
    average_ltv_gross_profit: float | None
    average_ltv_reason: str | None
    loyal_customers: int | None = Field(description=(
        "RFM champions or loyal at the last metrics recompute (a snapshot, not of the period)"))
    loyal_customers_as_of: date | None
    loyal_customers_reason: str | None

    @classmethod
    def from_domain(cls, k: Kpis) -> KpisRead:
        c = k.counts
        return cls(period=_period(k.period.start, k.period.end), dormant_after_days=k.dormant_after_days,
                   customers_total=c.customers_total, new_customers=c.new_customers,
                   active_customers=c.active_customers, returning_customers=k.returning_customers,
                   repeat_customers=c.repeat_customers, dormant_customers=c.dormant_customers,
                   reactivated_customers=c.reactivated_customers, orders=c.orders, revenue=c.revenue,
                   gross_profit=c.gross_profit, top_20_revenue_share=k.top_20_revenue_share.value,
                   top_20_revenue_share_reason=k.top_20_revenue_share.reason, f2_rate=k.f2.f2_rate.value,
                   f2_rate_reason=k.f2.f2_rate.reason, f2_pending=k.f2.counts.pending,
                   marketing_cost=k.marketing_cost, attributed_orders=k.attributed_orders, cpo=k.cpo.value,
                   cpo_reason=k.cpo.reason, romi=k.romi.value, romi_reason=k.romi.reason,
                   average_ltv_revenue=k.average_ltv_revenue.value,
                   average_ltv_gross_profit=k.average_ltv_gross_profit.value,
                   average_ltv_reason=k.average_ltv_revenue.reason,
                   loyal_customers=k.loyal.loyal if k.loyal.scored else None,
                   loyal_customers_as_of=k.loyal.as_of,
                   loyal_customers_reason=None if k.loyal.scored else (
                       "no RFM scores yet: run a metrics recompute (POST /v1/analytics/recompute)"))


class SeriesPointRead(BaseModel):
    start: date = Field(description="First day of the day, ISO week (Monday) or month")
    value: int | float | None = Field(description=(
        "A whole number for the counts and money metrics; cpo (minor units per attributed order) and "
        "romi (0.25 is 25%) are fractions, null where the interval has no cost (or, for cpo, no "
        "attributed order)"))
    reason: str | None = Field(default=None, description="Why `value` is null")


class SeriesRead(BaseModel):
    metric: str
    interval: str
    period: PeriodRead
    points: list[SeriesPointRead] = Field(description=(
        "Every bucket from the one holding `from` to the one holding `to`; the first and last may be "
        "partial (only days in the period count)"))

    @classmethod
    def from_domain(cls, s: Series) -> SeriesRead:
        return cls(metric=s.metric, interval=s.interval, period=_period(s.period.start, s.period.end),
                   points=[SeriesPointRead(start=b, value=v, reason=why)
                           for (b, v), why in zip(s.points, s.reasons, strict=True)])
