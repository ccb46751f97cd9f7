"""Per-customer metrics from a purchase aggregate (docs/metrics.md, "Customer metrics").

The full recompute does the same arithmetic in SQL for every customer at once (infra/analytics/);
the functions here are the definition, used for one customer when an order arrives and, in tests,
to check the SQL against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime

import numpy as np
import numpy.typing as npt

from domain.analytics import bgnbd, gamma_gamma
from domain.analytics.clv import expected_and_discounted, rate_per_unit
from domain.analytics.inputs import FloatArray
from domain.analytics.model import (
    NO_PREDICTIONS,
    ClvModel,
    CustomerMetrics,
    Predictions,
    PurchaseAggregate,
    Rfm,
    RfmEdges,
)
from domain.analytics.rfm import score_from_edges, segment_of
from domain.analytics.settings import LTV_PERIODS, AnalyticsSettings

EPOCH = date(1970, 1, 1)
DAYS_PER_MONTH = 365.25 / 12


def annuity_factor(settings: AnalyticsSettings) -> float:
    """Expected lifetime x discount factor: sum over k = 1..L of (1 + d_p)^-k, with d_p the rate per
    period equivalent to the annual rate (profit of each period counted at the period's end)."""
    period_years = LTV_PERIODS[settings.ltv_period] / 365.25
    per_period = (1.0 + settings.annual_discount_rate) ** period_years - 1.0
    return float(sum((1.0 + per_period) ** -k for k in range(1, settings.ltv_lifetime_periods + 1)))


def formula_ltv(gross_profit: int, first_day: date, as_of: date, settings: AnalyticsSettings) -> float:
    """Average gross profit per period (at least one period of tenure) x lifetime x discount factor."""
    periods = max(1.0, (as_of - first_day).days / LTV_PERIODS[settings.ltv_period])
    return gross_profit / periods * annuity_factor(settings)


def horizon_in(model: ClvModel, settings: AnalyticsSettings) -> float:
    return settings.clv_horizon_months * DAYS_PER_MONTH / model.time_unit.days


def predict(model: ClvModel, settings: AnalyticsSettings, *, frequency: npt.ArrayLike,
            recency_days: npt.ArrayLike, age_days: npt.ArrayLike, monetary_value: npt.ArrayLike
            ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(P(alive), expected purchases, expected order value, discounted CLV) per customer over the
    settings' horizon. NaN marks a value the model cannot give (spend with q <= 1 for x = 0, or a
    non-finite result); callers store it as null."""
    unit = float(model.time_unit.days)
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency_days, dtype=np.float64) / unit
    big_t = np.asarray(age_days, dtype=np.float64) / unit
    m = np.asarray(monetary_value, dtype=np.float64)
    if len(x) == 0:
        empty = np.zeros(0)
        return empty, empty, empty, empty
    horizon = horizon_in(model, settings)
    p_alive = bgnbd.probability_alive(model.bgnbd, frequency=x, recency=t_x, age=big_t)
    delta = rate_per_unit(settings.annual_discount_rate, model.time_unit)
    expected, det = expected_and_discounted(model.bgnbd, horizon=horizon, delta=delta,
                                            frequency=x, recency=t_x, age=big_t)
    gg = model.gamma_gamma
    valued = gg.p * x + gg.q > 1.0  # E[M] exists (for x = 0 only when q > 1)
    spend = np.full(len(x), np.nan)
    if valued.any():
        spend[valued] = gamma_gamma.expected_average_spend(gg, frequency=x[valued], monetary_value=m[valued])
    clv = settings.clv_margin * spend * det
    return tuple(np.where(np.isfinite(a), a, np.nan) for a in (p_alive, expected, spend,
                                                               clv))  # type: ignore[return-value]


def summary_of(aggregates: Sequence[PurchaseAggregate], as_of: date
               ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(x, t_x in days, T in days, m_x) of each aggregate as of a day (docs/metrics.md, section 1)."""
    x = np.array([a.occasions - 1 for a in aggregates], dtype=np.float64)
    t_x = np.array([(a.last_day - a.first_day).days for a in aggregates], dtype=np.float64)
    big_t = np.array([(as_of - a.first_day).days for a in aggregates], dtype=np.float64)
    repeat = np.array([a.revenue - a.first_day_revenue for a in aggregates], dtype=np.float64)
    m = np.divide(repeat, x, out=np.zeros(len(x)), where=x > 0)
    return x, t_x, big_t, m


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def customer_metrics(purchases: PurchaseAggregate, *, as_of: date, now: datetime, settings: AnalyticsSettings,
                     edges: RfmEdges | None, model: ClvModel | None) -> CustomerMetrics:
    """One customer's metrics, as the full recompute would give them (RFM scored against the last
    recompute's quintile edges: `edges`; None before the first recompute gives no RFM)."""
    rfm = None
    if edges is not None:
        r = score_from_edges((purchases.last_day - EPOCH).days, edges.recency)
        f = score_from_edges(purchases.occasions, edges.frequency)
        m = score_from_edges(purchases.revenue, edges.monetary)
        rfm = Rfm(r=r, f=f, m=m, segment=segment_of(r, f, m, settings.rfm_segments))
    predictions = NO_PREDICTIONS
    if model is not None:
        x, t_x, big_t, m_x = summary_of([purchases], as_of)
        p, e, s, c = predict(model, settings, frequency=x, recency_days=t_x, age_days=big_t,
                             monetary_value=m_x)
        predictions = Predictions(_finite(p[0]), _finite(e[0]), _finite(s[0]), _finite(c[0]))
    return CustomerMetrics(purchases=purchases, rfm=rfm,
                           formula_ltv=formula_ltv(purchases.gross_profit, purchases.first_day, as_of,
                                                   settings),
                           predictions=predictions, as_of=as_of, computed_at=now)
