"""BG/NBD: the published CDNOW fit, the likelihood and predictions against independent computations,
robustness (x = 0, huge x, a near 1) and the not-enough-data / not-converged answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domain.analytics import bgnbd
from domain.analytics.bgnbd import BgNbdParams
from domain.analytics.errors import FitDidNotConverge, NotEnoughData
from domain.analytics.summary import PurchaseSummary
from domain.shared.errors import InvalidInput

from .oracles import expected_if_alive_by_integration, simulate_bgnbd

# Fader, Hardie and Lee (2005), "Counting Your Customers the Easy Way", CDNOW, 39-week calibration:
# r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4; the four-decimal values are those of
# Hardie's spreadsheet note and of lifetimes on the same summary.
PUBLISHED = BgNbdParams(r=0.2426, alpha=4.4136, a=0.7929, b=2.4259)
CDNOW_PARAMS = PUBLISHED


def fit_cdnow(s: PurchaseSummary) -> bgnbd.BgNbdFit:
    return bgnbd.fit(frequency=s.frequency, recency=s.recency, age=s.age)


def test_cdnow_fit_matches_the_published_parameters(cdnow: PurchaseSummary) -> None:
    result = fit_cdnow(cdnow)
    assert result.converged and result.reason == ""
    for name in ("r", "alpha", "a", "b"):
        assert getattr(result.params, name) == pytest.approx(getattr(PUBLISHED, name), rel=0.005), name
        # and in fact to the published four decimals
        assert getattr(result.params, name) == pytest.approx(getattr(PUBLISHED, name), abs=6e-5), name
    assert result.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert (result.n_customers, result.n_repeat_customers) == (2357, 946)
    assert 0 < result.iterations < 200


def test_cdnow_expected_purchases_of_the_published_example(cdnow: PurchaseSummary) -> None:
    params = fit_cdnow(cdnow).params
    value = bgnbd.expected_purchases(params, 39, frequency=[2], recency=[30.43], age=[38.86])
    assert value[0] == pytest.approx(1.226, abs=5e-4)
    # P(alive) for the same customer; 0.7266 is lifetimes 0.11.3's value on this fit
    alive = bgnbd.probability_alive(params, frequency=[2], recency=[30.43], age=[38.86])
    assert alive[0] == pytest.approx(0.72661, abs=1e-4)


def test_counting_orders_instead_of_occasions_misses_the_published_fit(cdnow_transactions) -> None:
    t = cdnow_transactions
    kept = t.dates <= np.datetime64("1997-09-30")
    ids, dates = t.sample_ids[kept], t.dates[kept].astype(np.int64)
    customers, first = np.unique(ids, return_index=True)  # ids are sorted by date within a customer
    order_counts = np.bincount(ids)[customers]
    first_day = np.minimum.reduceat(dates, first)
    last_day = np.maximum.reduceat(dates, first)
    end = np.datetime64("1997-09-30").astype(np.int64)
    x = order_counts - 1
    assert x.sum() == 2603  # instead of 2,457 repeat occasions
    result = bgnbd.fit(frequency=x, recency=(last_day - first_day) / 7, age=(end - first_day) / 7)
    assert result.params.r == pytest.approx(0.2177, abs=1e-3)
    assert result.params.alpha == pytest.approx(3.274, abs=1e-2)


def test_log_likelihood_sums_to_the_fitted_total(cdnow: PurchaseSummary) -> None:
    result = fit_cdnow(cdnow)
    per_customer = bgnbd.log_likelihood(result.params, frequency=cdnow.frequency, recency=cdnow.recency,
                                        age=cdnow.age)
    assert per_customer.shape == (2357,)
    assert per_customer.sum() == pytest.approx(result.log_likelihood, abs=1e-6)


def test_the_fit_is_a_maximum(cdnow: PurchaseSummary) -> None:
    result = fit_cdnow(cdnow)
    best = result.log_likelihood

    def total(**change: float) -> float:
        p = BgNbdParams(**{**result.params.__dict__, **change})
        return float(bgnbd.log_likelihood(p, frequency=cdnow.frequency, recency=cdnow.recency,
                                          age=cdnow.age).sum())

    for name in ("r", "alpha", "a", "b"):
        value = getattr(result.params, name)
        assert total(**{name: value * 1.001}) < best
        assert total(**{name: value * 0.999}) < best


def test_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 30, 200).astype(float)
    big_t = rng.uniform(0.5, 60, 200)
    t_x = np.where(x > 0, rng.uniform(0, 1, 200) * big_t, 0.0)
    for point in ([-1.4, 1.5, -0.2, 0.9], [0.3, -2.0, 1.1, -0.7], [2.0, 3.0, 0.0, 0.0]):
        log_params = np.array(point)
        rows = bgnbd._Rows.of(x, t_x, big_t)
        _, grad = bgnbd._log_likelihood_and_gradient(log_params, rows)
        analytic = grad.sum(axis=1)
        for k in range(4):
            step = np.zeros(4)
            step[k] = 1e-6
            up = bgnbd._log_likelihood_and_gradient(log_params + step, rows, gradient=False)[0].sum()
            down = bgnbd._log_likelihood_and_gradient(log_params - step, rows, gradient=False)[0].sum()
            assert analytic[k] == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-5)


def test_fit_recovers_simulated_parameters() -> None:
    truth = BgNbdParams(r=0.5, alpha=6.0, a=0.9, b=3.0)
    rng = np.random.default_rng(2005)
    ages = rng.uniform(20, 52, 20_000)
    x, t_x = simulate_bgnbd(rng, truth, ages)
    result = bgnbd.fit(frequency=x, recency=t_x, age=ages)
    assert result.converged
    for name in ("r", "alpha", "a", "b"):
        assert getattr(result.params, name) == pytest.approx(getattr(truth, name), rel=0.15), name
    # the likelihood prefers the fit to the truth, as a maximum must
    at_truth = bgnbd.log_likelihood(truth, frequency=x, recency=t_x, age=ages).sum()
    assert result.log_likelihood >= at_truth


def test_time_unit_changes_only_alpha(cdnow: PurchaseSummary) -> None:
    weeks = fit_cdnow(cdnow)
    days = bgnbd.fit(frequency=cdnow.frequency, recency=cdnow.recency * 7, age=cdnow.age * 7)
    assert days.params.alpha == pytest.approx(weeks.params.alpha * 7, rel=1e-6)
    for name in ("r", "a", "b"):
        assert getattr(days.params, name) == pytest.approx(getattr(weeks.params, name), rel=1e-6)
    # ln L of times in days = ln L in weeks - sum(x) ln 7 (the densities are per day instead of per week)
    assert days.log_likelihood == pytest.approx(weeks.log_likelihood - 2457 * math.log(7), abs=1e-5)


# -- predictions against direct integration ---------------------------------------------------------
params_strategy = st.builds(
    BgNbdParams,
    r=st.floats(0.05, 20), alpha=st.floats(0.05, 50), a=st.floats(0.05, 10), b=st.floats(0.05, 20),
)


@given(params_strategy, st.integers(0, 200), st.floats(0, 1), st.floats(0.01, 500), st.floats(0.01, 1000))
@settings(max_examples=120, deadline=None)
def test_expected_purchases_match_direct_integration(params, x, recency_share, big_t, t) -> None:
    closed = bgnbd._expected_if_alive(params, np.array([t]), np.array([float(x)]), np.array([big_t]))[0]
    integrated = expected_if_alive_by_integration(params, t, x, big_t)
    # 1e-5, not tighter: the oracle (QUADPACK) itself is off by up to ~1e-6 relative where Beta(a,
    # b + x) is narrow (b + x in the hundreds, T small, t large). Two random draws, each checked
    # against the integral to 30 digits with mpmath: a = 9.375, b = 1, x = 158, T = 0.25, t = 529
    # (closed form 19.985074626865672, mpmath 19.98507462686567164, QUADPACK 19.98507670563235);
    # alpha = 0.0625, a = 7.75, b = 2, x = 199, T = 0.0625, t = 507 (closed form and mpmath
    # 30.77777777777778, QUADPACK 30.777809607454802). Cases where QUADPACK is exact are checked at
    # 1e-8 and 1e-9 below.
    assert closed == pytest.approx(integrated, rel=1e-5, abs=1e-12)


@pytest.mark.parametrize("a", [1 - 1e-3, 1 - 1e-4, 1 - 3e-5, 1 - 1e-9, 1.0, 1 + 1e-9, 1 + 5e-5, 1 + 1e-4, 1 + 1e-3])
def test_expected_purchases_near_a_equal_one(a: float) -> None:
    params = BgNbdParams(r=0.7, alpha=3.0, a=a, b=2.5)
    for x, big_t, t in [(0, 10.0, 52.0), (3, 40.0, 39.0), (50, 5.0, 300.0)]:
        closed = bgnbd._expected_if_alive(params, np.array([t]), np.array([float(x)]), np.array([big_t]))[0]
        assert closed == pytest.approx(expected_if_alive_by_integration(params, t, x, big_t), rel=1e-8)


@given(params_strategy, st.integers(0, 10_000), st.floats(0, 1), st.floats(0, 2000))
@settings(max_examples=200, deadline=None)
def test_prediction_invariants(params, x, recency_share, big_t) -> None:
    t_x = recency_share * big_t if x > 0 else 0.0
    alive = bgnbd.probability_alive(params, frequency=[x], recency=[t_x], age=[big_t])[0]
    assert 0.0 <= alive <= 1.0
    if x == 0:
        assert alive == 1.0
    horizons = np.array([[0.0], [0.5], [1.0], [13.0], [52.0], [520.0]])
    expected = bgnbd.expected_purchases(params, horizons, frequency=[x], recency=[t_x], age=[big_t])[:, 0]
    assert np.isfinite(expected).all()
    assert expected[0] == 0.0
    assert (np.diff(expected) >= -1e-9 * np.maximum(expected[1:], 1.0)).all()  # non-decreasing in t
    assert (expected >= 0).all()


@given(params_strategy, st.integers(0, 50), st.floats(0, 1), st.floats(0.01, 100))
@settings(max_examples=100, deadline=None)
def test_p_alive_falls_with_silence(params, x, recency_share, big_t) -> None:
    # the longer since the last purchase (same x, t_x), the less likely the customer is still alive
    assume(x > 0)
    t_x = recency_share * big_t
    alive = bgnbd.probability_alive(params, frequency=[x, x], recency=[t_x, t_x], age=[big_t, big_t + 10])
    assert alive[1] <= alive[0] + 1e-12


def test_new_customer_expectation_is_the_conditional_one_at_birth() -> None:
    params = CDNOW_PARAMS
    new = bgnbd.expected_purchases_new_customer(params, [1.0, 39.0, 78.0])
    conditional = bgnbd.expected_purchases(params, np.array([[1.0], [39.0], [78.0]]),
                                           frequency=[0], recency=[0], age=[0])[:, 0]
    np.testing.assert_allclose(new, conditional, rtol=1e-12)
    # E[X(t)] of FHL 2005 eq. 9, by direct integration
    assert new[1] == pytest.approx(expected_if_alive_by_integration(params, 39.0, 0, 0.0), rel=1e-9)


# -- robustness ---------------------------------------------------------------------------------------
@given(
    st.floats(-12, 12), st.floats(-12, 12), st.floats(-12, 12), st.floats(-12, 12),
    st.integers(0, 10**7), st.floats(0, 1), st.floats(0, 1e5),
)
@settings(max_examples=300, deadline=None)
def test_log_likelihood_is_finite_for_extreme_inputs(lr, lalpha, la, lb, x, recency_share, big_t) -> None:
    t_x = recency_share * big_t if x > 0 else 0.0
    params = BgNbdParams(r=math.exp(lr), alpha=math.exp(lalpha), a=math.exp(la), b=math.exp(lb))
    value = bgnbd.log_likelihood(params, frequency=[x], recency=[t_x], age=[big_t])
    assert np.isfinite(value).all()
    assert value[0] <= 1e-9 or x > 0  # a likelihood of x = 0 is a probability


CDNOW_FITTED = BgNbdParams(r=0.24259452243015694, alpha=4.4136020190134975, a=0.7929220172255932,
                           b=2.425906776826313)


def test_no_nan_for_one_time_buyers_and_huge_x() -> None:
    params = CDNOW_FITTED
    x = np.array([0, 0, 1, 10**6, 10**7, 10**7])
    t_x = np.array([0.0, 0.0, 1.0, 38.0, 38.8, 38.86])
    big_t = np.array([0.0, 38.86, 38.86, 38.86, 38.86, 38.86])
    likelihood = bgnbd.log_likelihood(params, frequency=x, recency=t_x, age=big_t)
    alive = bgnbd.probability_alive(params, frequency=x, recency=t_x, age=big_t)
    expected = bgnbd.expected_purchases(params, 39, frequency=x, recency=t_x, age=big_t)
    for values in (likelihood, alive, expected):
        assert np.isfinite(values).all()
    # 10^6 or 10^7 purchases, then silence for 20,000 or 1,000,000 of their mean gaps: surely gone
    assert alive[3] < 1e-100 and alive[4] < 1e-100
    assert alive[5] == pytest.approx(1.0, abs=1e-6)  # ... unless the last purchase was just now
    # E[Y(39) | alive, x = 10^7, T = 38.86] by mpmath at 50 digits (the 2F1 of eq. 10 before Euler's
    # transformation would overflow a double here)
    assert expected[5] / alive[5] == pytest.approx(6872104.8234351624, rel=1e-10)


def test_fit_with_a_huge_x_customer(cdnow: PurchaseSummary) -> None:
    x = np.append(cdnow.frequency, 10**6)
    t_x = np.append(cdnow.recency, 38.0)
    big_t = np.append(cdnow.age, 38.86)
    result = bgnbd.fit(frequency=x, recency=t_x, age=big_t)
    assert result.converged and np.isfinite(result.log_likelihood)


def test_all_one_time_buyers_is_not_enough_data() -> None:
    with pytest.raises(NotEnoughData) as raised:
        bgnbd.fit(frequency=np.zeros(500), recency=np.zeros(500), age=np.linspace(1, 50, 500))
    assert "at least 5" in raised.value.detail and "0 repeat customers" in raised.value.detail
    assert raised.value.extra["code"] == "not_enough_data" and raised.value.extra["minimum"] == 5
    # the log-likelihood itself is fine for such data (it is just maximised at the boundary)
    params = CDNOW_PARAMS
    assert np.isfinite(bgnbd.log_likelihood(params, frequency=np.zeros(3), recency=np.zeros(3),
                                            age=[0.0, 1.0, 50.0])).all()


def test_a_single_customer_is_not_enough_data() -> None:
    with pytest.raises(NotEnoughData) as raised:
        bgnbd.fit(frequency=[3], recency=[5.0], age=[10.0])
    assert "at least 20" in raised.value.detail and raised.value.extra["actual"] == 1


def test_all_purchases_on_one_day_is_not_enough_data() -> None:
    with pytest.raises(NotEnoughData):
        bgnbd.fit(frequency=np.zeros(100), recency=np.zeros(100), age=np.full(100, 4.0))
    with pytest.raises(NotEnoughData):  # ... and on the observation end itself: T = 0 everywhere
        bgnbd.fit(frequency=np.zeros(100), recency=np.zeros(100), age=np.zeros(100))


def test_thresholds_are_settable() -> None:
    with pytest.raises(NotEnoughData) as raised:
        bgnbd.fit(frequency=[1] * 30, recency=[1.0] * 30, age=[2.0] * 30, min_customers=50)
    assert "at least 50" in raised.value.detail


def test_degenerate_data_does_not_converge() -> None:
    # every customer bought exactly weekly up to today: no heterogeneity and no sign of drop-out,
    # so the likelihood grows as r, alpha -> infinity and no finite maximum exists
    x = np.full(40, 10.0)
    t_x = np.full(40, 10.0)
    big_t = np.full(40, 10.0)
    with pytest.raises(FitDidNotConverge) as raised:
        bgnbd.fit(frequency=x, recency=t_x, age=big_t)
    assert raised.value.extra["code"] == "fit_did_not_converge"
    assert "0 or infinity" in raised.value.detail
    result = bgnbd.fit(frequency=x, recency=t_x, age=big_t, require_convergence=False)
    assert not result.converged and result.reason


def test_a_small_sample_on_a_ridge_does_not_converge() -> None:
    # 20 simulated customers: the likelihood keeps rising as a, b -> infinity with a / (a + b) fixed
    # (one drop-out probability for all); L-BFGS-B stops on that ridge with a tiny gradient
    rng = np.random.default_rng(0)
    ages = rng.uniform(5, 50, 20)
    x, t_x = simulate_bgnbd(rng, BgNbdParams(r=0.5, alpha=5.0, a=0.8, b=2.5), ages)
    result = bgnbd.fit(frequency=x, recency=t_x, age=ages, min_repeat_customers=1, require_convergence=False)
    assert not result.converged
    assert result.reason.startswith("a and b ran off towards 0 or infinity")
    assert result.params.a > 1e5 and result.params.a / (result.params.a + result.params.b) == pytest.approx(0.508, abs=0.01)
    with pytest.raises(FitDidNotConverge):
        bgnbd.fit(frequency=x, recency=t_x, age=ages, min_repeat_customers=1)


@pytest.mark.parametrize(("frequency", "recency", "age", "field"), [
    ([1.5], [1.0], [2.0], "frequency"),
    ([-1], [0.0], [2.0], "frequency"),
    ([1], [3.0], [2.0], "recency"),
    ([1], [-1.0], [2.0], "recency"),
    ([1], [1.0], [float("nan")], "age"),
    ([1, 2], [1.0], [2.0], "frequency"),
])
def test_bad_summaries_are_invalid_input(frequency, recency, age, field) -> None:
    with pytest.raises(InvalidInput) as raised:
        bgnbd.probability_alive(CDNOW_PARAMS, frequency=frequency, recency=recency, age=age)
    assert raised.value.problems[0].field == field


def test_parameters_must_be_positive() -> None:
    with pytest.raises(InvalidInput):
        BgNbdParams(r=0.0, alpha=1.0, a=1.0, b=1.0)
    with pytest.raises(InvalidInput):
        BgNbdParams(r=1.0, alpha=float("inf"), a=1.0, b=1.0)
