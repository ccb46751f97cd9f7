"""Discounted CLV: the formula by other routes (no discount, a fine discrete sum, lifetimes' monthly
scheme) and its monotonicity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.analytics import bgnbd, clv, gamma_gamma
from domain.analytics.bgnbd import BgNbdParams
from domain.analytics.gamma_gamma import GammaGammaParams
from domain.analytics.summary import PurchaseSummary, TimeUnit
from domain.shared.errors import InvalidInput

BG = BgNbdParams(r=0.24259452243015694, alpha=4.4136020190134975, a=0.7929220172255932, b=2.425906776826313)
GG = GammaGammaParams(p=6.249572271324144, q=3.7442246671319594, gamma=15.443520962587913)


def summary_arrays(s: PurchaseSummary) -> dict[str, np.ndarray]:
    assert s.monetary_value is not None
    return {"frequency": s.frequency, "recency": s.recency, "age": s.age, "monetary_value": s.monetary_value}


def test_annual_rate_per_time_unit() -> None:
    weekly = clv.rate_per_unit(0.10, TimeUnit.WEEK)
    assert math.exp(-weekly * 365.25 / 7) == pytest.approx(1 / 1.10)
    assert clv.rate_per_unit(0.10, TimeUnit.DAY) == pytest.approx(weekly / 7)
    assert clv.rate_per_unit(0.0, TimeUnit.DAY) == 0.0


def test_without_discount_clv_is_margin_times_spend_times_purchases(cdnow: PurchaseSummary) -> None:
    a = summary_arrays(cdnow)
    value = clv.customer_lifetime_value(BG, GG, **a, horizon=52.0, time_unit=TimeUnit.WEEK, margin=0.3,
                                        annual_discount_rate=0.0)
    purchases = bgnbd.expected_purchases(BG, 52.0, frequency=a["frequency"], recency=a["recency"], age=a["age"])
    spend = gamma_gamma.expected_average_spend(GG, frequency=a["frequency"], monetary_value=a["monetary_value"])
    np.testing.assert_allclose(value, 0.3 * spend * purchases, rtol=1e-12)


def test_discounting_equals_a_fine_discrete_sum(cdnow: PurchaseSummary) -> None:
    a = summary_arrays(cdnow)
    rows = slice(0, 2357, 50)
    x, t_x, big_t = a["frequency"][rows], a["recency"][rows], a["age"][rows]
    horizon, delta = 104.0, clv.rate_per_unit(0.15, TimeUnit.WEEK)
    det = clv.discounted_expected_purchases(BG, horizon=horizon, delta=delta, frequency=x, recency=t_x, age=big_t)
    # purchases of each small interval, discounted at its midpoint
    grid = np.linspace(0, horizon, 4001)[:, None]
    cumulative = bgnbd.expected_purchases(BG, grid, frequency=x, recency=t_x, age=big_t)
    midpoints = (grid[1:] + grid[:-1]) / 2
    brute = (np.diff(cumulative, axis=0) * np.exp(-delta * midpoints)).sum(axis=0)
    np.testing.assert_allclose(det, brute, rtol=1e-7)


def test_quadrature_has_converged(cdnow: PurchaseSummary) -> None:
    a = summary_arrays(cdnow)
    kwargs = {"frequency": a["frequency"], "recency": a["recency"], "age": a["age"],
              "delta": clv.rate_per_unit(0.3, TimeUnit.WEEK)}
    for horizon in (1.0, 52.0, 520.0):
        default = clv.discounted_expected_purchases(BG, horizon=horizon, **kwargs)
        finer = clv.discounted_expected_purchases(BG, horizon=horizon, nodes=200, **kwargs)
        np.testing.assert_allclose(default, finer, rtol=1e-10)


def test_lifetimes_monthly_scheme_and_ours(cdnow: PurchaseSummary) -> None:
    """lifetimes 0.11.3 `customer_lifetime_value(bgf, ..., time=12, discount_rate=0.01, freq="W")`
    sums, for months i = 1..12, spend x (E[Y(4.345 i)] - E[Y(4.345 (i - 1))]) / 1.01^i over the
    CDNOW customers to 71,507.95 (run on this summary and these parameters). Its steps, redone
    here with our E[Y(t)], give the same; our continuous discounting at the equivalent annual rate
    is ~0.5% higher, because lifetimes discounts each month's purchases as if all made at its end
    (1.01^0.5 = 1.005)."""
    a = summary_arrays(cdnow)
    spend = gamma_gamma.expected_average_spend(GG, frequency=a["frequency"], monetary_value=a["monetary_value"])
    months = np.arange(0, 13)[:, None] * 4.345
    cumulative = bgnbd.expected_purchases(BG, months, frequency=a["frequency"], recency=a["recency"],
                                          age=a["age"])
    monthly = (np.diff(cumulative, axis=0) / 1.01 ** np.arange(1, 13)[:, None]).sum(axis=0) * spend
    assert monthly.sum() == pytest.approx(71507.95331613603, rel=1e-6)
    assert monthly[0] == pytest.approx(36.2739774511593, rel=1e-6)  # customer 1, also from lifetimes

    ours = clv.customer_lifetime_value(BG, GG, **a, horizon=12 * 4.345, time_unit=TimeUnit.WEEK, margin=1.0,
                                       annual_discount_rate=1.01**12 - 1)
    assert ours.sum() / monthly.sum() == pytest.approx(1.005, abs=0.001)


@given(st.integers(0, 500), st.floats(0, 1), st.floats(0.1, 200), st.floats(0, 5000),
       st.floats(0, 0.5), st.floats(1, 1000))
@settings(max_examples=100, deadline=None)
def test_clv_monotonicity(x, recency_share, big_t, m, rate, horizon) -> None:
    t_x = recency_share * big_t if x > 0 else 0.0
    m = m if x > 0 else 0.0

    def value(h: float = horizon, d: float = rate, margin: float = 0.4) -> float:
        return float(clv.customer_lifetime_value(BG, GG, frequency=[x], recency=[t_x], age=[big_t],
                                                 monetary_value=[m], horizon=h, time_unit=TimeUnit.WEEK,
                                                 margin=margin, annual_discount_rate=d)[0])

    base = value()
    assert np.isfinite(base) and base >= 0
    assert value(h=horizon * 1.5) >= base * (1 - 1e-9)  # a longer horizon adds value
    assert value(d=rate + 0.1) <= base * (1 + 1e-9)  # a higher discount rate removes it
    assert value(margin=0.8) == pytest.approx(2 * base, rel=1e-12)
    assert value(h=0.0) == 0.0


@pytest.mark.parametrize(("change", "field"), [
    ({"margin": 1.5}, "margin"),
    ({"margin": -0.1}, "margin"),
    ({"annual_discount_rate": -0.05}, "annual_discount_rate"),
    ({"annual_discount_rate": float("nan")}, "annual_discount_rate"),
    ({"horizon": -1.0}, "horizon"),
    ({"horizon": float("inf")}, "horizon"),
])
def test_bad_settings_are_invalid_input(change, field) -> None:
    settings_ = {"horizon": 52.0, "time_unit": TimeUnit.WEEK, "margin": 0.3, "annual_discount_rate": 0.1} | change
    with pytest.raises(InvalidInput) as raised:
        clv.customer_lifetime_value(BG, GG, frequency=[1], recency=[1.0], age=[2.0], monetary_value=[10.0],
                                    **settings_)
    assert raised.value.problems[0].field == field
