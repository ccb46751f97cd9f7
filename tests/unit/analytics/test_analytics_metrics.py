"""Per-customer metrics: formula LTV, the summary of an aggregate, predictions, settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import uuid4

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.analytics import bgnbd
from domain.analytics.bgnbd import BgNbdParams
from domain.analytics.gamma_gamma import GammaGammaParams
from domain.analytics.metrics import annuity_factor, customer_metrics, formula_ltv, predict, summary_of
from domain.analytics.model import ClvModel, PurchaseAggregate, RfmEdges
from domain.analytics.rfm import SegmentRule
from domain.analytics.settings import (
    AnalyticsSettings,
    settings_from_dict,
    settings_to_dict,
    validate_settings,
)
from domain.analytics.summary import TimeUnit
from domain.shared.errors import InvalidInput

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
CDNOW_BGNBD = BgNbdParams(r=0.242595, alpha=4.413602, a=0.792922, b=2.425907)
CDNOW_GG = GammaGammaParams(p=6.24957, q=3.74422, gamma=15.44352)


def _model(**changes) -> ClvModel:
    model = ClvModel(id=uuid4(), bgnbd=CDNOW_BGNBD, gamma_gamma=CDNOW_GG, bgnbd_log_likelihood=-9582.43,
                     gamma_gamma_log_likelihood=-4000.0, n_customers=2357, n_repeat_customers=946,
                     n_spend_customers=946, frequency_spend_correlation=0.11, time_unit=TimeUnit.WEEK,
                     observation_end=date(1997, 9, 30), converged=True, iterations=30, fitted_at=NOW)
    return replace(model, **changes)


def _aggregate(**changes) -> PurchaseAggregate:
    a = PurchaseAggregate(customer_id=uuid4(), first_order_at=NOW, last_order_at=NOW, first_day=date(2026, 1, 1),
                          last_day=date(2026, 6, 1), second_day=date(2026, 2, 1), orders=4, occasions=3,
                          revenue=9000, gross_profit=3000, first_day_revenue=3000)
    return replace(a, **changes)


def test_annuity_factor_by_hand():
    assert annuity_factor(AnalyticsSettings()) == pytest.approx(1 / 1.1 + 1 / 1.1**2 + 1 / 1.1**3)
    monthly = AnalyticsSettings(ltv_period="month", ltv_lifetime_periods=2, annual_discount_rate=0.0)
    assert annuity_factor(monthly) == pytest.approx(2.0)
    one_month = 1.1 ** (1 / 12) - 1
    assert annuity_factor(replace(monthly, annual_discount_rate=0.1)) == pytest.approx(
        1 / (1 + one_month) + 1 / (1 + one_month) ** 2)


def test_formula_ltv_by_hand():
    s = AnalyticsSettings(annual_discount_rate=0.0)
    # under a year of tenure counts as one year: 3000 a year for 3 years
    assert formula_ltv(3000, date(2026, 1, 1), TODAY, s) == pytest.approx(9000)
    # two years of tenure: 1500 a year
    assert formula_ltv(3000, date(2024, 11, 23), TODAY, s) == pytest.approx(3000 * 365.25 / 730 * 3)
    assert formula_ltv(-600, date(2026, 11, 1), TODAY, s) == pytest.approx(-1800)


def test_summary_of_an_aggregate():
    x, t_x, big_t, m = summary_of([_aggregate(), _aggregate(occasions=1, revenue=500, first_day_revenue=500)], TODAY)
    assert x.tolist() == [2, 0]
    assert t_x.tolist() == [151, 151] and big_t.tolist() == [326, 326]
    assert m.tolist() == [3000.0, 0.0]  # (9000 - 3000) / 2 repeat occasions; 0 without repeats


def test_predictions_match_the_models():
    model, s = _model(), AnalyticsSettings(clv_horizon_months=9, annual_discount_rate=0.0, clv_margin=1.0)
    p, e, spend, clv = predict(model, s, frequency=[2], recency_days=[30.43 * 7], age_days=[38.86 * 7],
                               monetary_value=[20.0])
    horizon = 9 * 365.25 / 12 / 7
    assert e[0] == pytest.approx(float(bgnbd.expected_purchases(CDNOW_BGNBD, horizon, frequency=[2],
                                                                recency=[30.43], age=[38.86])[0]))
    assert 0 < p[0] < 1 and clv[0] == pytest.approx(spend[0] * e[0])


@given(st.integers(0, 5000), st.floats(0, 1), st.floats(0, 1))
def test_predictions_are_finite_or_nan_never_infinite(x, recency_share, margin):
    age = 400.0
    model = _model(gamma_gamma=GammaGammaParams(p=6.0, q=0.5, gamma=15.0))  # q < 1: no mean for x = 0
    out = predict(model, AnalyticsSettings(clv_margin=margin), frequency=[x], recency_days=[age * recency_share],
                  age_days=[age], monetary_value=[25.0 if x else 0.0])
    for values in out:
        assert not np.isinf(values).any()
    assert np.isnan(out[2][0]) == (6.0 * x + 0.5 <= 1.0)


def test_customer_metrics_scores_against_edges_and_uses_the_rules():
    edges = RfmEdges(recency=(0, 20000, 20300, 20700, 20800), frequency=(1, 2, 3, 5, 8),
                     monetary=(0, 1000, 5000, 8000, 20000))
    m = customer_metrics(_aggregate(), as_of=TODAY, now=NOW, settings=AnalyticsSettings(), edges=edges,
                         model=_model())
    assert m.rfm is not None and (m.rfm.r, m.rfm.f, m.rfm.m) == (3, 3, 4)
    assert m.rfm.segment == "loyal"  # R 3, FM ceil(3.5) = 4
    assert m.predictions.p_alive is not None and m.predictions.predicted_clv is not None
    everyone = AnalyticsSettings(rfm_segments=(SegmentRule("all", (1, 5), (1, 5)),))
    assert customer_metrics(_aggregate(), as_of=TODAY, now=NOW, settings=everyone, edges=edges,
                            model=None).rfm.segment == "all"
    unscored = customer_metrics(_aggregate(), as_of=TODAY, now=NOW, settings=everyone, edges=None, model=None)
    assert unscored.rfm is None and unscored.predictions.p_alive is None


def test_settings_round_trip_and_validation():
    s = AnalyticsSettings(dormant_after_days=60, rfm_segments=(SegmentRule("all", (1, 5), (1, 5)),))
    assert settings_from_dict(settings_to_dict(s)) == s
    assert settings_from_dict({"unknown": 1, "clv_margin": 0.5}) == AnalyticsSettings(clv_margin=0.5)
    with pytest.raises(InvalidInput) as caught:
        validate_settings(AnalyticsSettings(dormant_after_days=0, annual_discount_rate=float("nan"),
                                            ltv_period="week", attribution_model="linear"))
    assert {p.field for p in caught.value.problems} == {"dormant_after_days", "annual_discount_rate", "ltv_period",
                                                        "attribution_model"}
    assert validate_settings(AnalyticsSettings()) == AnalyticsSettings()
