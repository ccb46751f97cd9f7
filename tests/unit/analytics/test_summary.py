"""The summary (x, t_x, T, m_x) from purchases: hand-computed cases, the published CDNOW summary, properties."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.analytics.summary import PurchaseSummary, TimeUnit, summarise_purchases
from domain.shared.errors import InvalidInput

END = date(2024, 1, 29)


def hand_case(unit: TimeUnit) -> PurchaseSummary:
    rows = [
        ("A", "2024-01-01", 100.0), ("A", "2024-01-01", 50.0),  # one occasion worth 150
        ("A", "2024-01-08", 30.0), ("A", "2024-01-15", 20.0),
        ("A", "2024-02-01", 999.0),  # after the observation end: holdout, ignored
        ("B", "2024-01-20", 10.0),
        ("C", "2024-02-10", 5.0),  # only after the end: not a customer yet
        ("D", "2024-01-05", 1.0), ("D", "2024-01-05", 2.0), ("D", "2024-01-05", 3.0),
    ]
    ids, days, amounts = zip(*rows, strict=True)
    return summarise_purchases(ids, days, amounts, observation_end=END, time_unit=unit)


def test_hand_computed_in_days() -> None:
    s = hand_case(TimeUnit.DAY)
    assert s.customer_ids.tolist() == ["A", "B", "D"]
    assert s.frequency.tolist() == [2, 0, 0]
    assert s.recency.tolist() == [14.0, 0.0, 0.0]
    assert s.age.tolist() == [28.0, 9.0, 24.0]
    assert s.monetary_value is not None
    assert s.monetary_value.tolist() == [25.0, 0.0, 0.0]  # (30 + 20) / 2; the first occasion is not a repeat
    assert s.first_purchase.tolist() == [date(2024, 1, 1), date(2024, 1, 20), date(2024, 1, 5)]
    assert len(s) == 3 and s.n_repeat_customers == 1


def test_weeks_are_days_over_seven() -> None:
    days, weeks = hand_case(TimeUnit.DAY), hand_case(TimeUnit.WEEK)
    np.testing.assert_allclose(weeks.recency, days.recency / 7)
    np.testing.assert_allclose(weeks.age, days.age / 7)
    assert weeks.frequency.tolist() == days.frequency.tolist()


def test_without_amounts_there_is_no_monetary_value() -> None:
    s = summarise_purchases([1, 1], ["2024-01-01", "2024-01-03"], observation_end=END)
    assert s.monetary_value is None and s.frequency.tolist() == [1]


def test_purchase_on_the_observation_end_counts_and_has_age_zero() -> None:
    s = summarise_purchases([7], [END], [10.0], observation_end=END, time_unit=TimeUnit.DAY)
    assert (s.frequency[0], s.recency[0], s.age[0]) == (0, 0.0, 0.0)


def test_no_purchases_gives_an_empty_summary() -> None:
    s = summarise_purchases([], np.array([], dtype="datetime64[D]"), [], observation_end=END)
    assert len(s) == 0 and s.n_repeat_customers == 0
    assert s.monetary_value is not None and len(s.monetary_value) == 0
    later = summarise_purchases([1], ["2024-05-01"], [1.0], observation_end=END)
    assert len(later) == 0


def test_all_purchases_on_one_day() -> None:
    s = summarise_purchases([1, 1, 2, 3, 3, 3], ["2024-01-10"] * 6, [1, 2, 3, 4, 5, 6],
                            observation_end=END, time_unit=TimeUnit.DAY)
    assert s.frequency.tolist() == [0, 0, 0]
    assert s.recency.tolist() == [0.0, 0.0, 0.0]
    assert s.age.tolist() == [19.0, 19.0, 19.0]


def test_a_customer_with_thousands_of_orders() -> None:
    start = np.datetime64("2020-01-01")
    days = start + np.arange(1200)
    s = summarise_purchases(np.zeros(2400, dtype=int), np.concatenate([days, days]), np.ones(2400),
                            observation_end=date(2023, 12, 31), time_unit=TimeUnit.DAY)
    assert s.frequency.tolist() == [1199]
    assert s.recency.tolist() == [1199.0]
    assert s.monetary_value is not None and s.monetary_value.tolist() == [2.0]  # two orders a day


@pytest.mark.parametrize(("ids", "days", "amounts", "field"), [
    ([1, 2], ["2024-01-01"], None, "customer_ids"),
    ([1], ["not a date"], None, "purchase_dates"),
    ([1], [None], None, "purchase_dates"),
    ([1], ["2024-01-01"], [float("nan")], "amounts"),
    ([1], ["2024-01-01"], [1.0, 2.0], "customer_ids"),
])
def test_bad_input_is_invalid_input(ids, days, amounts, field) -> None:
    with pytest.raises(InvalidInput) as raised:
        summarise_purchases(ids, days, amounts, observation_end=END)
    assert raised.value.problems[0].field == field


# -- the published CDNOW summary ------------------------------------------------------------------
# Fader and Hardie's cdnowSummary (also shipped by lifetimes as cdnow_customers_summary_with_
# transactions.csv) rounds to two decimals: ID, x, t_x, T, zbar.
PUBLISHED_ROWS = [
    (1, 2, 30.43, 38.86, 22.35),
    (2, 1, 1.71, 38.86, 11.77),
    (3, 0, 0.00, 38.86, 0.00),
    (100, 1, 23.86, 38.29, 26.22),
    (1001, 0, 0.00, 33.57, 0.00),
    (2357, 0, 0.00, 27.00, 0.00),
]


def test_cdnow_summary_matches_the_published_one(cdnow: PurchaseSummary) -> None:
    assert len(cdnow) == 2357
    assert cdnow.n_repeat_customers == 946
    assert int(cdnow.frequency.sum()) == 2457  # the published total of repeat purchases
    assert cdnow.monetary_value is not None
    for ident, x, t_x, big_t, zbar in PUBLISHED_ROWS:
        i = int(np.flatnonzero(cdnow.customer_ids == ident)[0])
        assert cdnow.frequency[i] == x
        assert cdnow.recency[i] == pytest.approx(t_x, abs=0.0051)
        assert cdnow.age[i] == pytest.approx(big_t, abs=0.0051)
        assert cdnow.monetary_value[i] == pytest.approx(zbar, abs=0.0051)
    repeat = cdnow.frequency > 0
    assert cdnow.monetary_value[repeat].mean() == pytest.approx(35.0786, abs=1e-3)


def test_cdnow_same_day_orders_are_one_occasion(cdnow_transactions) -> None:
    t = cdnow_transactions
    kept = t.dates <= np.datetime64("1997-09-30")
    pairs = {(c, d) for c, d in zip(t.sample_ids[kept].tolist(), t.dates[kept].tolist(), strict=True)}
    # the sample has same-day duplicates: counting orders instead of days would give more repeats
    assert kept.sum() > len(pairs)
    s = summarise_purchases(t.sample_ids, t.dates, observation_end=date(1997, 9, 30))
    assert int(s.frequency.sum()) + len(s) == len(pairs)


# -- properties -----------------------------------------------------------------------------------
purchases = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 60), st.floats(0, 1000, allow_nan=False)),
    min_size=0, max_size=60,
)


@given(purchases, st.integers(0, 70), st.sampled_from(list(TimeUnit)))
@settings(max_examples=150, deadline=None)
def test_summary_invariants(rows, end_offset, unit) -> None:
    origin = date(2024, 1, 1)
    end = origin + timedelta(days=end_offset)
    ids = [r[0] for r in rows]
    days = [origin + timedelta(days=r[1]) for r in rows]
    amounts = [r[2] for r in rows]
    s = summarise_purchases(ids, days, amounts, observation_end=end, time_unit=unit)
    expected = {}
    for c, d, a in zip(ids, days, amounts, strict=True):
        if d <= end:
            expected.setdefault(c, {}).setdefault(d, 0.0)
            expected[c][d] += a
    assert s.customer_ids.tolist() == sorted(expected)
    assert s.monetary_value is not None
    for i, c in enumerate(s.customer_ids.tolist()):
        occasions = sorted(expected[c])
        assert s.frequency[i] == len(occasions) - 1
        assert s.recency[i] == pytest.approx((occasions[-1] - occasions[0]).days / unit.days)
        assert s.age[i] == pytest.approx((end - occasions[0]).days / unit.days)
        assert 0 <= s.recency[i] <= s.age[i]
        repeat_values = [expected[c][d] for d in occasions[1:]]
        want = sum(repeat_values) / len(repeat_values) if repeat_values else 0.0
        assert s.monetary_value[i] == pytest.approx(want, rel=1e-9, abs=1e-9)
    # the order of the input rows does not matter
    order = np.random.default_rng(len(rows)).permutation(len(rows))
    shuffled = summarise_purchases(np.asarray(ids, dtype=np.int64)[order] if rows else [],
                                   np.asarray(days, dtype="datetime64[D]")[order] if rows else days,
                                   np.asarray(amounts)[order] if rows else [],
                                   observation_end=end, time_unit=unit)
    assert shuffled.frequency.tolist() == s.frequency.tolist()
    np.testing.assert_allclose(shuffled.monetary_value, s.monetary_value, rtol=1e-9, atol=1e-9)
