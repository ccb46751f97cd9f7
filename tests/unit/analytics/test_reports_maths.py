"""Report maths without a database: periods, ratios, F2 buckets, CPO/ROMI, cohorts, series."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.analytics.attribution import AttributedGroup, CostGroup, romi_report, to_minor_units
from domain.analytics.cohorts import (
    CohortCell,
    cohort_matrix,
    cohort_range,
    index,
    shift,
    unit_end,
    unit_start,
)
from domain.analytics.f2 import BUCKET_STARTS, F2Counts, buckets, f2_report
from domain.analytics.kpis import SeriesPoint, series_points
from domain.analytics.reports import Period, period, ratio
from domain.shared.errors import InvalidInput

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))


def test_period_defaults_and_order():
    today = date(2026, 11, 23)
    assert period(None, None, today=today) == Period(date(2026, 10, 25), today)
    assert period(date(2026, 1, 1), None, today=today).end == today
    assert period(date(2027, 1, 1), None, today=today) == Period(date(2027, 1, 1), date(2027, 1, 1))
    assert period(None, date(2026, 1, 31), today=today).start == date(2026, 1, 2)
    with pytest.raises(InvalidInput) as exc:
        period(date(2026, 2, 1), date(2026, 1, 31), today=today)
    assert exc.value.problems[0].field == "from"
    with pytest.raises(InvalidInput):
        period(date(2000, 1, 1), date(2026, 1, 1), today=today)


@given(st.integers(min_value=-10**15, max_value=10**15), st.integers(min_value=-10**15, max_value=10**15))
def test_ratio_is_finite_or_null_with_a_reason(n, d):
    r = ratio(n, d, when_zero="why")
    assert (r.value is None) == (r.reason is not None) == (d == 0)
    assert r.value is None or math.isfinite(r.value)


@given(st.integers(min_value=1, max_value=100000))
def test_every_day_count_falls_in_exactly_one_bucket(gap):
    found = [b for b in buckets(tuple(0 for _ in BUCKET_STARTS))
             if b.min_days <= gap and (b.max_days is None or gap <= b.max_days)]
    assert len(found) == 1


def _f2(**counts):
    base = dict(first_time_buyers=0, converted=0, not_converted=0, pending=0, with_second_purchase=0,
                histogram=(0,) * len(BUCKET_STARTS), median_days=None, mean_days=None, active_buyers=0,
                repeat_buyers=0)
    return F2Counts(**{**base, **counts})


def test_f2_rate_leaves_pending_buyers_out():
    p = Period(date(2026, 3, 1), date(2026, 3, 31))
    r = f2_report(_f2(first_time_buyers=10, converted=3, not_converted=3, pending=4), p, 90)
    assert r.f2_rate.value == 0.5
    r = f2_report(_f2(first_time_buyers=4, pending=4), p, 90)
    assert r.f2_rate.value is None and r.f2_rate.reason == "every first-time buyer's window is still open"
    assert r.repeat_rate.value is None


def test_romi_hand_computed():
    p = Period(date(2026, 3, 1), date(2026, 3, 31))
    report = romi_report(p, group_by="channel", model="last_touch", window_days=30, attributed=[
        AttributedGroup("web", 4, 40000, 20000), AttributedGroup("line", 1, 5000, 1000),
        AttributedGroup(None, 2, 3000, 0, attributed=False)],
        costs=[CostGroup("web", Decimal("10000.5")), CostGroup("tv", Decimal(5000))])
    rows = {r.key: r for r in report.rows}
    assert [r.key for r in report.rows] == ["line", "tv", "web"]
    assert rows["web"].cost == 10000  # half to even
    assert rows["web"].cpo.value == 2500 and rows["web"].romi.value == pytest.approx(1.0)
    assert rows["line"].cpo.value is None and rows["line"].romi.value is None
    assert rows["tv"].cpo.reason == "no attributed orders" and rows["tv"].romi.value == -1
    assert (report.total.cost, report.total.orders, report.total.gross_profit) == (15000, 5, 21000)
    assert report.total.cpo.value == 3000 and report.total.romi.value == pytest.approx(0.4)
    assert (report.unattributed_orders, report.unattributed_revenue) == (2, 3000)


@given(st.decimals(min_value=0, max_value=10**15, places=6))
def test_minor_units_round_to_nearest(value):
    assert abs(Decimal(to_minor_units(value)) - value) <= Decimal("0.5")


@given(days, st.sampled_from(["month", "week"]))
def test_units_contain_their_days(day, unit):
    start, end = unit_start(day, unit), unit_end(day, unit)
    assert start <= day <= end
    assert unit_start(end, unit) == start and unit_start(end + timedelta(days=1), unit) == shift(day, unit, 1)
    if unit == "week":
        assert start.weekday() == 0 and (end - start).days == 6
    else:
        assert start.day == 1 and (end + timedelta(days=1)).day == 1


@given(days, st.sampled_from(["month", "week"]), st.integers(min_value=-200, max_value=200))
def test_index_inverts_shift(day, unit, n):
    start = unit_start(day, unit)
    assert index(start, shift(start, unit, n), unit) == n


def test_cohort_matrix_hand_computed():
    cells = [CohortCell(date(2026, 1, 1), date(2026, 1, 1), 4, 4000, 1000),
             CohortCell(date(2026, 1, 1), date(2026, 3, 1), 1, 2000, 500),
             CohortCell(date(2026, 2, 1), date(2026, 2, 1), 2, 1000, 100)]
    kwargs = dict(by="month", start=date(2026, 1, 1), end=date(2026, 2, 28), today=date(2026, 3, 15))
    m = cohort_matrix(cells, metric="retention", **kwargs)
    assert [(r.cohort, r.size, r.values) for r in m.rows] == [
        (date(2026, 1, 1), 4, (1, 0, 0.25)), (date(2026, 2, 1), 2, (1, 0))]
    assert [r.values for r in cohort_matrix(cells, metric="revenue", **kwargs).rows] == [(4000, 0, 2000), (1000, 0)]
    assert [r.values for r in cohort_matrix(cells, metric="ltv", **kwargs).rows] == [(1000, 1000, 1500), (500, 500)]


def test_cohort_range_is_whole_units_and_bounded():
    today = date(2026, 11, 23)
    assert cohort_range(None, None, by="month", today=today) == (date(2025, 12, 1), date(2026, 11, 30))
    assert cohort_range(date(2026, 3, 4), date(2026, 3, 4), by="week", today=today) == (
        date(2026, 3, 2), date(2026, 3, 8))
    with pytest.raises(InvalidInput):
        cohort_range(date(2000, 1, 1), date(2009, 12, 31), by="week", today=today)


def test_series_fills_every_bucket():
    p = Period(date(2026, 3, 1), date(2026, 3, 10))
    found = [SeriesPoint(date(2026, 3, 2), 3, 5000, 100, 2, 1)]
    s = series_points(found, metric="returning_customers", interval="week", p=p)
    assert s.points == ((date(2026, 2, 23), 0), (date(2026, 3, 2), 1), (date(2026, 3, 9), 0))
    s = series_points(found, metric="orders", interval="day", p=p)
    assert len(s.points) == 10 and dict(s.points)[date(2026, 3, 2)] == 3
