"""Predicted 6- and 12-month LTV per acquisition group, and CPO / ROMI per series interval, without a
database. The expectations are recomputed here from the published formulas (Fader, Hardie and Lee
2005a eq. 10 in its original form, P(alive) of FHL 2008, Gamma-Gamma eq. 5), not from the domain."""

from __future__ import annotations

import calendar
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pytest
from scipy.special import hyp2f1

from domain.analytics.acquisition import (
    NO_MODEL,
    NO_SPEND_MEAN,
    AcquisitionCounts,
    OpenWindows,
    acquisition_row,
    expected_rest_of_window,
)
from domain.analytics.bgnbd import BgNbdParams
from domain.analytics.gamma_gamma import GammaGammaParams
from domain.analytics.kpis import RomiPoint, interval_ratio, ratio_series_points
from domain.analytics.model import ClvModel
from domain.analytics.reports import Period
from domain.analytics.summary import TimeUnit
from tests.unit.analytics.oracles import expected_if_alive_by_integration

BGNBD = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
GG = GammaGammaParams(p=6.25, q=3.74, gamma=1544.0)
MARGIN = 0.3


def clv_model(unit: TimeUnit = TimeUnit.WEEK, bgnbd: BgNbdParams = BGNBD, gg: GammaGammaParams = GG) -> ClvModel:
    return ClvModel(id=uuid.uuid4(), bgnbd=bgnbd, gamma_gamma=gg, bgnbd_log_likelihood=-1.0,
                    gamma_gamma_log_likelihood=-1.0, n_customers=100, n_repeat_customers=40,
                    n_spend_customers=40, frequency_spend_correlation=0.0, time_unit=unit,
                    observation_end=date(2026, 1, 1), converged=True, iterations=10,
                    fitted_at=datetime(2026, 1, 1, tzinfo=UTC))


# -- the published formulas, written out again ------------------------------------------------------

def published_p_alive(p: BgNbdParams, x: float, t_x: float, big_t: float) -> float:
    if x == 0:
        return 1.0
    return 1.0 / (1.0 + p.a / (p.b + x - 1) * ((p.alpha + big_t) / (p.alpha + t_x)) ** (p.r + x))


def published_expected_purchases(p: BgNbdParams, t: float, x: float, t_x: float, big_t: float) -> float:
    """FHL 2005a eq. 10, as printed (no Euler transformation)."""
    z = t / (p.alpha + big_t + t)
    bracket = 1.0 - ((p.alpha + big_t) / (p.alpha + big_t + t)) ** (p.r + x) * hyp2f1(
        p.r + x, p.b + x, p.a + p.b + x - 1.0, z)
    return published_p_alive(p, x, t_x, big_t) * (p.a + p.b + x - 1.0) / (p.a - 1.0) * bracket


def published_spend(g: GammaGammaParams, x: float, m_x: float) -> float:
    return g.p * (g.gamma + x * m_x) / (g.p * x + g.q - 1.0)


def published_rest_of_window(model: ClvModel, *, x: float, t_x_days: float, age_days: float, m_x: float,
                             days_left: float) -> float:
    """Expected revenue in the rest of the window (undiscounted), in the model's time unit."""
    unit = model.time_unit.days
    return published_spend(model.gamma_gamma, x, m_x) * published_expected_purchases(
        model.bgnbd, days_left / unit, x, t_x_days / unit, age_days / unit)


def add_months(day: date, months: int) -> date:
    """PostgreSQL's date + interval 'n months': the same day of the month, clamped to its end."""
    k = day.year * 12 + day.month - 1 + months
    year, month = divmod(k, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def test_the_published_form_agrees_with_direct_integration():
    """The oracle itself: eq. 10 against the integral of its definition (oracles.py)."""
    for x, t_x, big_t, t in ((0, 0, 10, 20), (3, 8, 12, 26)):
        integrated = published_p_alive(BGNBD, x, t_x, big_t) * expected_if_alive_by_integration(
            BGNBD, t, x, big_t)
        assert published_expected_purchases(BGNBD, t, x, t_x, big_t) == pytest.approx(integrated, rel=1e-8)


# -- counts for one group ----------------------------------------------------------------------------

def counts(*, customers: int, closed_6: int = 0, revenue_6: int = 0, gross_profit_6: int = 0, closed_12: int = 0,
           revenue_12: int = 0, gross_profit_12: int = 0, open_windows: OpenWindows | None = None
           ) -> AcquisitionCounts:
    return AcquisitionCounts(key="ig", customers=customers, converted=0, not_converted=0, retained=0,
                             closed_6=closed_6, revenue_6=revenue_6, gross_profit_6=gross_profit_6,
                             closed_12=closed_12, revenue_12=revenue_12, gross_profit_12=gross_profit_12,
                             open_windows=open_windows or OpenWindows())


def windows(rows: list[tuple[float, ...]]) -> OpenWindows:
    """rows of (x, t_x days, T days, m_x, revenue so far, gross profit so far, days left 6, days left 12)."""
    cols = [np.array(c, dtype=np.float64) for c in zip(*rows, strict=True)]
    return OpenWindows(*cols)


def test_a_group_past_both_windows_predicts_its_history():
    c = counts(customers=3, closed_6=3, revenue_6=30000, gross_profit_6=12000, closed_12=3, revenue_12=45000,
               gross_profit_12=18000)
    row = acquisition_row(c, model=clv_model(), margin=MARGIN)
    for historical, predicted in zip(row.ltv, row.predicted_ltv, strict=True):
        assert predicted.customers == 3 and predicted.predicted == 0
        assert predicted.revenue == historical.revenue and predicted.gross_profit == historical.gross_profit
        assert predicted.revenue.value is not None and predicted.revenue.reason is None
    assert row.predicted_ltv[1].revenue.value == 15000


def test_recent_customers_are_realised_plus_the_models_expectation():
    # r1: two occasions (60 days apart), 100 days old; r2: one occasion, 30 days old
    r1 = (1, 60, 100, 6000, 16000, 6000, 81, 265)
    r2 = (0, 0, 30, 0, 8000, 5000, 151, 335)
    c = counts(customers=2, open_windows=windows([r1, r2]))
    model = clv_model()
    row = acquisition_row(c, model=model, margin=MARGIN)
    for k, months in enumerate((6, 12)):
        expected = [published_rest_of_window(model, x=r[0], t_x_days=r[1], age_days=r[2], m_x=r[3],
                                             days_left=r[6 + k]) for r in (r1, r2)]
        p = row.predicted_ltv[k]
        assert (p.months, p.customers, p.predicted) == (months, 2, 2)
        assert p.revenue.value == pytest.approx((16000 + 8000 + sum(expected)) / 2, rel=1e-9)
        assert p.gross_profit.value == pytest.approx((6000 + 5000 + MARGIN * sum(expected)) / 2, rel=1e-9)
        assert p.revenue.value > (16000 + 8000) / 2  # the rest of the window adds something
        assert row.ltv[k].revenue.value is None  # no customer is old enough for the historical one
    # a longer rest of the window is worth more
    assert row.predicted_ltv[1].revenue.value > row.predicted_ltv[0].revenue.value


def test_half_closed_customers_count_historically_for_6_months_and_predicted_for_12():
    # one customer 200 days old: the 6-month window is over (its value is in revenue_6), 12 is open
    old = (0, 0, 200, 0, 10000, 6000, -18, 165)
    c = counts(customers=2, closed_6=2, revenue_6=10000 + 7000, gross_profit_6=6000 + 3000, closed_12=1,
               revenue_12=7000, gross_profit_12=3000, open_windows=windows([old]))
    model = clv_model(TimeUnit.DAY)
    row = acquisition_row(c, model=model, margin=MARGIN)
    six, twelve = row.predicted_ltv
    assert six.predicted == 0 and six.revenue.value == 17000 / 2
    rest = published_rest_of_window(model, x=0, t_x_days=0, age_days=200, m_x=0, days_left=165)
    assert twelve.predicted == 1
    assert twelve.revenue.value == pytest.approx((7000 + 10000 + rest) / 2, rel=1e-9)
    assert twelve.gross_profit.value == pytest.approx((3000 + 6000 + MARGIN * rest) / 2, rel=1e-9)


def test_the_time_unit_only_rescales():
    """The same customers under a daily and a weekly model with alpha scaled by 7 predict the same."""
    daily = clv_model(TimeUnit.DAY, BgNbdParams(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426))
    args = {"frequency": np.array([2.0, 0.0]), "recency_days": np.array([50.0, 0.0]),
            "age_days": np.array([90.0, 12.0]), "monetary_value": np.array([3000.0, 0.0]),
            "days_left": np.array([92.0, 170.0])}
    weekly_revenue, weekly_profit = expected_rest_of_window(clv_model(), margin=MARGIN, **args)
    daily_revenue, _ = expected_rest_of_window(daily, margin=MARGIN, **args)
    np.testing.assert_allclose(daily_revenue, weekly_revenue, rtol=1e-10)
    np.testing.assert_allclose(weekly_profit, MARGIN * weekly_revenue)


def test_a_closed_window_adds_nothing():
    revenue, profit = expected_rest_of_window(
        clv_model(), margin=MARGIN, frequency=np.array([3.0]), recency_days=np.array([10.0]),
        age_days=np.array([20.0]), monetary_value=np.array([5000.0]), days_left=np.array([0.0]))
    assert revenue[0] == 0 and profit[0] == 0


def test_without_a_model_predicted_is_null_with_a_reason():
    c = counts(customers=1, open_windows=windows([(0, 0, 10, 0, 5000, 2000, 170, 355)]))
    row = acquisition_row(c, model=None, margin=MARGIN)
    for p in row.predicted_ltv:
        assert p.revenue.value is None and p.gross_profit.value is None
        assert p.revenue.reason == NO_MODEL == "no CLV model fitted yet: POST /v1/analytics/clv/fit"
        assert (p.customers, p.predicted) == (1, 1)


def test_a_spend_model_without_a_mean_leaves_one_time_buyers_unvalued():
    """q <= 1: E[M] does not exist for x = 0; the group's value is null, never NaN."""
    model = clv_model(gg=GammaGammaParams(p=6.25, q=0.8, gamma=1544.0))
    c = counts(customers=1, open_windows=windows([(0, 0, 10, 0, 5000, 2000, 170, 355)]))
    row = acquisition_row(c, model=model, margin=MARGIN)
    assert all(p.revenue.value is None and p.revenue.reason == NO_SPEND_MEAN for p in row.predicted_ltv)
    repeat = counts(customers=1, open_windows=windows([(2, 5, 10, 4000, 12000, 5000, 170, 355)]))
    assert acquisition_row(repeat, model=model, margin=MARGIN).predicted_ltv[0].revenue.value is not None


def test_add_months_clamps_like_postgresql():
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2026, 1, 15), 12) == date(2027, 1, 15)


# -- CPO and ROMI per interval -----------------------------------------------------------------------

def test_interval_ratios():
    point = RomiPoint(date(2026, 3, 1), orders=2, revenue=30000, gross_profit=21000, cost=Decimal("426000.4"))
    assert interval_ratio(point, "cpo").value == 213000
    assert interval_ratio(point, "romi").value == pytest.approx((21000 - 426000) / 426000)
    no_orders = RomiPoint(date(2026, 2, 1), orders=0, revenue=0, gross_profit=0, cost=Decimal(14000))
    assert interval_ratio(no_orders, "cpo").reason == "no attributed orders in this interval"
    assert interval_ratio(no_orders, "romi").value == -1
    free = RomiPoint(date(2026, 4, 1), orders=3, revenue=1, gross_profit=1, cost=Decimal("0.4"))  # rounds to 0
    for metric in ("cpo", "romi"):
        assert interval_ratio(free, metric).reason == "no marketing cost recorded in this interval"
        assert interval_ratio(None, metric).value is None


def test_ratio_series_has_every_bucket():
    p = Period(date(2026, 2, 15), date(2026, 4, 10))
    found = [RomiPoint(date(2026, 3, 1), 4, 0, 1000, Decimal(2000))]
    s = ratio_series_points(found, metric="cpo", interval="month", p=p)
    assert s.points == ((date(2026, 2, 1), None), (date(2026, 3, 1), 500), (date(2026, 4, 1), None))
    assert s.reasons[0] == s.reasons[2] == "no marketing cost recorded in this interval" and s.reasons[1] is None
    s = ratio_series_points(found, metric="romi", interval="week", p=p)
    assert len(s.points) == len(s.reasons) == 9 and dict(s.points)[date(2026, 3, 2)] is None
