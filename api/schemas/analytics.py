"""Analytics as the API shows it: settings, customer metrics, RFM distribution, the CLV model."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, Strict

from api.schemas.common import Day, RequestBody, ResponseBody
from domain.analytics.model import ClvModel, RfmDistribution
from domain.analytics.rfm import DEFAULT_SEGMENT_RULES, SegmentRule
from domain.analytics.services import CustomerMetricsView
from domain.analytics.settings import AnalyticsSettings

# JSON numbers only: pydantic's lax mode would read true as 1 and "12" as 12
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]
Score = Annotated[int, Strict(), Field(ge=1, le=5)]


def _finite(value: float | None, digits: int = 6) -> float | None:
    # JSON has no NaN or infinity: a value the model cannot give is null, never NaN.
    return round(value, digits) if value is not None and math.isfinite(value) else None


class SegmentRuleBody(RequestBody):
    segment: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", examples=["champions"])
    r: list[Score] = Field(min_length=2, max_length=2, description="[min, max] R score", examples=[[5, 5]])
    fm: list[Score] = Field(min_length=2, max_length=2, description="[min, max] FM = ceil((F + M) / 2)",
                            examples=[[4, 5]])


_DEFAULTS = AnalyticsSettings()


class AnalyticsSettingsBody(RequestBody):
    """Every field is optional: an omitted field takes its default (PUT replaces the settings)."""

    dormant_after_days: Int = Field(_DEFAULTS.dormant_after_days, ge=1, le=3650,
                                    description="No order in this many days: dormant")
    f2_window_days: Int = Field(_DEFAULTS.f2_window_days, ge=1, le=3650,
                                description="A second purchase within this many days of the first"
                                            " converts (F2)")
    ltv_period: Literal["year", "month"] = Field(_DEFAULTS.ltv_period, description="Formula LTV's period")
    ltv_lifetime_periods: Int = Field(_DEFAULTS.ltv_lifetime_periods, ge=1, le=100,
                                      description="Formula LTV's expected lifetime, in periods")
    annual_discount_rate: Float = Field(_DEFAULTS.annual_discount_rate, ge=0, le=1, examples=[0.1])
    clv_horizon_months: Int = Field(_DEFAULTS.clv_horizon_months, ge=1, le=120,
                                    description="Horizon of expected purchases and predicted CLV")
    clv_margin: Float = Field(_DEFAULTS.clv_margin, ge=0, le=1,
                              description="Gross margin applied to predicted revenue (0-1)")
    attribution_model: Literal["last_touch", "first_touch"] = _DEFAULTS.attribution_model
    attribution_window_days: Int = Field(_DEFAULTS.attribution_window_days, ge=1, le=365)
    rfm_segments: list[SegmentRuleBody] | None = Field(
        None, max_length=25, description="Segment per (R, FM) cell; each of the 25 cells in exactly one rule."
                                         " Omitted: the default grid (docs/metrics.md)")

    def to_domain(self) -> AnalyticsSettings:
        rules = DEFAULT_SEGMENT_RULES if self.rfm_segments is None else tuple(
            SegmentRule(x.segment, (x.r[0], x.r[1]), (x.fm[0], x.fm[1])) for x in self.rfm_segments)
        return AnalyticsSettings(
            dormant_after_days=self.dormant_after_days, f2_window_days=self.f2_window_days,
            ltv_period=self.ltv_period, ltv_lifetime_periods=self.ltv_lifetime_periods,
            annual_discount_rate=self.annual_discount_rate, clv_horizon_months=self.clv_horizon_months,
            clv_margin=self.clv_margin, attribution_model=self.attribution_model,
            attribution_window_days=self.attribution_window_days, rfm_segments=rules)


class SegmentRuleRead(ResponseBody):
    segment: str
    r: list[int]
    fm: list[int]


class AnalyticsSettingsRead(ResponseBody):
    dormant_after_days: int
    f2_window_days: int
    ltv_period: str
    ltv_lifetime_periods: int
    annual_discount_rate: float
    clv_horizon_months: int
    clv_margin: float
    attribution_model: str
    attribution_window_days: int
    rfm_segments: list[SegmentRuleRead]

    @classmethod
    def from_domain(cls, s: AnalyticsSettings) -> AnalyticsSettingsRead:
        return cls(dormant_after_days=s.dormant_after_days, f2_window_days=s.f2_window_days,
                   ltv_period=s.ltv_period, ltv_lifetime_periods=s.ltv_lifetime_periods,
                   annual_discount_rate=s.annual_discount_rate, clv_horizon_months=s.clv_horizon_months,
                   clv_margin=s.clv_margin, attribution_model=s.attribution_model,
                   attribution_window_days=s.attribution_window_days,
                   rfm_segments=[SegmentRuleRead(segment=x.segment, r=list(x.r), fm=list(x.fm))
                                 for x in s.rfm_segments])


class RfmRead(ResponseBody):
    r: int = Field(examples=[5])
    f: int = Field(examples=[4])
    m: int = Field(examples=[5])
    segment: str = Field(examples=["champions"])


class CustomerHistoricalLtvRead(ResponseBody):
    revenue: int = Field(description="Net revenue to date, minor units", examples=[48000])
    gross_profit: int = Field(description="Net gross profit to date, minor units", examples=[19000])


class CustomerF2Read(ResponseBody):
    status: Literal["converted", "pending", "not_converted"] = Field(
        description="converted: second purchase occasion within the window; pending: none yet and the window"
                    " is still open; not_converted: none within the window (a later one is a repeat, not F2)")
    days_to_second_purchase: int | None = Field(description="Days from the first to the second purchase"
                                                            " occasion, whenever it came", examples=[23])
    window_days: int = Field(examples=[90])


class CustomerMetricsRead(ResponseBody):
    customer_id: UUID
    first_order_at: datetime | None
    last_order_at: datetime | None
    orders: int = Field(description="Counted orders (not cancelled, not fully refunded)")
    purchase_occasions: int = Field(description="Distinct tenant-local days with a counted order")
    revenue: int = Field(description="Net revenue, minor units")
    gross_profit: int = Field(description="Net gross profit, minor units")
    average_order_value: float | None = Field(description="revenue / orders; null without orders")
    days_since_last_order: int | None = Field(description="Tenant-local days from the last order to today")
    rfm: RfmRead | None = Field(description="null until a recompute has scored the tenant's customers")
    historical_ltv: CustomerHistoricalLtvRead
    formula_ltv: float | None = Field(description="Average gross profit per period x lifetime x discount"
                                                  " factor")
    p_alive: float | None = Field(description="BG/NBD probability the customer is still active; null"
                                              " without a"
                                              " fitted model")
    expected_purchases: float | None = Field(description="Expected purchase occasions over the horizon")
    expected_average_order_value: float | None = Field(description="Gamma-Gamma expected spend per occasion")
    predicted_clv: float | None = Field(description="Discounted expected gross profit over the horizon, minor"
                                                    " units")
    horizon_months: int
    dormant: bool = Field(description="No order in the tenant's dormant_after_days (false without orders)")
    f2: CustomerF2Read | None = Field(description="null without orders")
    as_of: date | None = Field(description="The day the stored values were computed for")
    computed_at: datetime | None

    @classmethod
    def from_view(cls, view: CustomerMetricsView) -> CustomerMetricsRead:
        s, m = view.settings, view.metrics
        if m is None:
            return cls(customer_id=view.customer_id, first_order_at=None, last_order_at=None, orders=0,
                       purchase_occasions=0, revenue=0, gross_profit=0, average_order_value=None,
                       days_since_last_order=None, rfm=None,
                       historical_ltv=CustomerHistoricalLtvRead(revenue=0,
                                                        gross_profit=0), formula_ltv=0.0, p_alive=None,
                       expected_purchases=None, expected_average_order_value=None, predicted_clv=None,
                       horizon_months=s.clv_horizon_months, dormant=False, f2=None, as_of=None,
                       computed_at=None)
        p, pred = m.purchases, m.predictions
        since = max(0, (view.today - p.last_day).days)
        to_second = (p.second_day - p.first_day).days if p.second_day else None
        if to_second is not None and to_second <= s.f2_window_days:
            f2 = "converted"
        elif (view.today - p.first_day).days <= s.f2_window_days:
            f2 = "pending"
        else:
            f2 = "not_converted"
        return cls(customer_id=view.customer_id, first_order_at=p.first_order_at,
                   last_order_at=p.last_order_at,
                   orders=p.orders, purchase_occasions=p.occasions, revenue=p.revenue,
                   gross_profit=p.gross_profit,
                   average_order_value=_finite(p.revenue / p.orders, 2) if p.orders else None,
                   days_since_last_order=since,
                   rfm=RfmRead(r=m.rfm.r, f=m.rfm.f, m=m.rfm.m, segment=m.rfm.segment) if m.rfm else None,
                   historical_ltv=CustomerHistoricalLtvRead(revenue=p.revenue, gross_profit=p.gross_profit),
                   formula_ltv=_finite(m.formula_ltv, 2), p_alive=_finite(pred.p_alive),
                   expected_purchases=_finite(pred.expected_purchases),
                   expected_average_order_value=_finite(pred.expected_average_order_value, 2),
                   predicted_clv=_finite(pred.predicted_clv, 2), horizon_months=s.clv_horizon_months,
                   dormant=since >= s.dormant_after_days,
                   f2=CustomerF2Read(status=f2, days_to_second_purchase=to_second,
                                     window_days=s.f2_window_days),
                   as_of=m.as_of, computed_at=m.computed_at)


class RfmSegmentRead(ResponseBody):
    segment: str = Field(examples=["champions"])
    customers: int
    revenue: int = Field(description="Net revenue to date of these customers, minor units")
    customer_share: float = Field(description="Share of scored customers, 0-1")
    revenue_share: float = Field(description="Share of scored customers' revenue, 0-1")


class RfmCellRead(ResponseBody):
    r: int
    f: int
    m: int
    customers: int
    revenue: int
    customer_share: float
    revenue_share: float


class RfmDistributionRead(ResponseBody):
    customers: int = Field(description="Customers with RFM scores")
    revenue: int
    unscored_customers: int = Field(description="Customers who first bought after the last recompute")
    segments: list[RfmSegmentRead] = Field(description="Every segment of the tenant's rules, largest first")
    cells: list[RfmCellRead] = Field(description="Non-empty (R, F, M) cells, largest first")
    as_of: date | None
    computed_at: datetime | None

    @classmethod
    def from_domain(cls, d: RfmDistribution, settings: AnalyticsSettings) -> RfmDistributionRead:
        scored = d.customers - d.unscored
        revenue = sum(s.revenue for s in d.segments)

        def share(part: int, whole: int) -> float:
            return round(part / whole, 6) if whole else 0.0

        found = {s.segment: s for s in d.segments}
        names = list(dict.fromkeys([r.segment for r in settings.rfm_segments] + list(found)))
        segments = [RfmSegmentRead(segment=n, customers=found[n].customers if n in found else 0,
                                   revenue=found[n].revenue if n in found else 0,
                                   customer_share=share(found[n].customers, scored) if n in found else 0.0,
                                   revenue_share=share(found[n].revenue, revenue) if n in found else 0.0)
                    for n in names]
        segments.sort(key=lambda s: (-s.customers, s.segment))
        cells = [RfmCellRead(r=c.r, f=c.f, m=c.m, customers=c.customers, revenue=c.revenue,
                             customer_share=share(c.customers, scored), revenue_share=share(c.revenue,
                                                                                            revenue))
                 for c in sorted(d.cells, key=lambda c: (-c.customers, -c.r, -c.f, -c.m))]
        return cls(customers=scored, revenue=revenue, unscored_customers=d.unscored, segments=segments,
                   cells=cells, as_of=d.as_of, computed_at=d.computed_at)


class ClvFitBody(RequestBody):
    observation_end: Day | None = Field(None, description="Last day of the calibration period (tenant-local);"
                                                          " default today", examples=["1997-09-30"])
    time_unit: Literal["day", "week"] = Field("week", description="The models' time unit (weeks: days / 7)")


class BgNbdRead(ResponseBody):
    r: float = Field(examples=[0.2426])
    alpha: float = Field(examples=[4.4136])
    a: float = Field(examples=[0.7929])
    b: float = Field(examples=[2.4259])
    log_likelihood: float = Field(examples=[-9582.43])


class GammaGammaRead(ResponseBody):
    p: float = Field(examples=[6.25])
    q: float = Field(examples=[3.74])
    gamma: float = Field(description="In the tenant currency's minor units (cents for USD)",
                         examples=[1544.35])
    log_likelihood: float
    n_customers: int = Field(description="Repeat customers with positive spend: those fitted")
    frequency_spend_correlation: float = Field(description="Pearson correlation of x and m_x; the model"
                                                           " assumes"
                                                           " none (|rho| > 0.3: be wary)")


class ClvModelRead(ResponseBody):
    id: UUID
    bgnbd: BgNbdRead
    gamma_gamma: GammaGammaRead
    n_customers: int = Field(examples=[2357])
    n_repeat_customers: int = Field(examples=[946])
    time_unit: Literal["day", "week"]
    observation_end: date
    converged: bool
    log_likelihood: float = Field(description="BG/NBD's log-likelihood (gamma_gamma has its own)")
    iterations: int
    fitted_at: datetime

    @classmethod
    def from_domain(cls, m: ClvModel) -> ClvModelRead:
        return cls(id=m.id, bgnbd=BgNbdRead(r=m.bgnbd.r, alpha=m.bgnbd.alpha, a=m.bgnbd.a, b=m.bgnbd.b,
                                            log_likelihood=m.bgnbd_log_likelihood),
                   gamma_gamma=GammaGammaRead(p=m.gamma_gamma.p, q=m.gamma_gamma.q, gamma=m.gamma_gamma.gamma,
                                              log_likelihood=m.gamma_gamma_log_likelihood,
                                              n_customers=m.n_spend_customers,
                                              frequency_spend_correlation=m.frequency_spend_correlation),
                   n_customers=m.n_customers, n_repeat_customers=m.n_repeat_customers,
                   time_unit=m.time_unit.value, observation_end=m.observation_end, converged=m.converged,
                   log_likelihood=m.bgnbd_log_likelihood, iterations=m.iterations, fitted_at=m.fitted_at)
