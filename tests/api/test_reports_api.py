"""Analytics reports through HTTP on real PostgreSQL, against hand-computed numbers, with two
tenants (tenant B's data never reaches tenant A's reports). Tenants are in Asia/Tokyo."""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import bearer, get_token

TOKYO = ZoneInfo("Asia/Tokyo")


def _tokyo_today():
    return datetime.now(UTC).astimezone(TOKYO).date()


async def order(api, tenant, customer: str, at: str, *, price: int = 10000, cost: int | None = 4000,
                status: str | None = None, channel: str = "ec", discount: int = 0) -> dict[str, Any]:
    line: dict[str, Any] = {"sku": "TEA-1", "quantity": 1, "unit_price": price}
    if cost is not None:
        line["unit_cost"] = cost
    body: dict[str, Any] = {"order_number": "N-" + secrets.token_hex(6), "customer": {"external_id": customer},
                            "ordered_at": at, "channel": channel, "lines": [line],
                            "discount_total": discount, "total": price - discount}
    if status:
        body["status"] = status
        if status == "refunded":
            body["refunded_total"] = price - discount
    r = await api.post("/v1/orders", json=body, headers=tenant.auth)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def touch(api, tenant, customer: str, at: str, channel: str | None, campaign: str | None = None) -> None:
    tp: dict[str, Any] = {"stage": "pre_purchase"}
    if channel:
        tp["channel"] = channel
    if campaign:
        tp["campaign_id"] = campaign
    body = {"type": "ad_clicked", "customer": {"external_id": customer}, "occurred_at": at, "touchpoint": tp}
    if campaign and not channel:
        body["type"] = "campaign_entered"
    r = await api.post("/v1/events", json=body, headers=tenant.auth)
    assert r.status_code == 201, r.text


async def cost(api, tenant, **fields: Any) -> None:
    r = await api.post("/v1/marketing-costs", json=fields, headers=tenant.auth)
    assert r.status_code == 201, r.text


def no_nan(value: Any) -> None:
    """Walks a JSON document: every number is finite."""
    if isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, dict):
        for v in value.values():
            no_nan(v)
    elif isinstance(value, list):
        for v in value:
            no_nan(v)


async def get(api, tenant, path: str, **params: Any) -> dict[str, Any]:
    r = await api.get(f"/v1/analytics/{path}", params=params, headers=tenant.auth)
    assert r.status_code == 200, r.text
    no_nan(r.json())
    return r.json()  # type: ignore[no-any-return]


# -- F2 and repeat --------------------------------------------------------------------------------

async def _f2_data(api, tenant) -> None:
    await order(api, tenant, "c1", "2026-03-05T10:00:00+09:00")
    await order(api, tenant, "c1", "2026-03-20T10:00:00+09:00")  # 15 days: converted
    await order(api, tenant, "c2", "2026-03-10T09:00:00+09:00")
    await order(api, tenant, "c2", "2026-03-10T23:00:00+09:00")  # same day: one occasion
    await order(api, tenant, "c2", "2026-07-01T10:00:00+09:00")  # 113 days: too late
    await order(api, tenant, "c3", "2026-03-31T23:30:00+09:00")  # Tokyo 31 March (UTC 14:30)
    await order(api, tenant, "c3", "2026-04-01T00:30:00+09:00")  # Tokyo 1 April, same UTC day: 1 day
    await order(api, tenant, "c4", "2026-02-28T23:00:00+09:00")  # first in February
    await order(api, tenant, "c4", "2026-03-02T10:00:00+09:00")
    await order(api, tenant, "c5", "2026-03-15T10:00:00+09:00")  # never again
    await order(api, tenant, "c6", "2026-03-20T10:00:00+09:00", status="cancelled")
    await order(api, tenant, "c6", "2026-04-02T10:00:00+09:00")  # first counted occasion in April
    await order(api, tenant, "c7", "2026-03-25T10:00:00+09:00", status="refunded")
    await order(api, tenant, "c7", "2026-05-01T10:00:00+09:00")


async def test_f2_hand_computed(api, tenant_a, tenant_b):
    await _f2_data(api, tenant_a)
    # tenant B: a first-time buyer of March who never converts, and one who does
    await order(api, tenant_b, "b1", "2026-03-03T10:00:00+09:00")
    await order(api, tenant_b, "b2", "2026-03-04T10:00:00+09:00")
    await order(api, tenant_b, "b2", "2026-03-05T10:00:00+09:00")
    r = await get(api, tenant_a, "f2", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert r["period"] == {"from": "2026-03-01", "to": "2026-03-31"}
    assert r["window_days"] == 90
    # first-time buyers of March: c1, c2, c3, c5 (c4 began in February, c6 and c7 in April/May)
    assert (r["first_time_buyers"], r["converted"], r["not_converted"], r["pending"]) == (4, 2, 2, 0)
    assert r["f2_rate"] == 0.5 and r["f2_rate_reason"] is None
    assert r["with_second_purchase"] == 3  # gaps 15, 113, 1
    assert r["median_days_to_second_purchase"] == 15 and r["mean_days_to_second_purchase"] == pytest.approx(43)
    hist = {(b["min_days"], b["max_days"]): b["customers"] for b in r["days_to_second_purchase"]}
    assert hist == {(1, 7): 1, (8, 14): 0, (15, 30): 1, (31, 60): 0, (61, 90): 0, (91, 180): 1,
                    (181, 365): 0, (366, None): 0}
    # active in March: c1..c5; with two occasions by 31 March: c1 and c4
    assert (r["active_buyers"], r["repeat_buyers"], r["repeat_rate"]) == (5, 2, 0.4)
    b = await get(api, tenant_b, "f2", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert (b["first_time_buyers"], b["converted"], b["not_converted"]) == (2, 1, 1)


async def test_f2_open_windows_are_pending_not_failures(api, tenant_a):
    today = _tokyo_today()
    recent = datetime.combine(today - timedelta(days=10), datetime.min.time(), TOKYO).replace(hour=12)
    await order(api, tenant_a, "p1", recent.isoformat())
    r = await get(api, tenant_a, "f2")  # default: the last 30 days
    assert r["period"] == {"from": str(today - timedelta(days=29)), "to": str(today)}
    assert (r["first_time_buyers"], r["pending"], r["converted"], r["not_converted"]) == (1, 1, 0, 0)
    assert r["f2_rate"] is None and r["f2_rate_reason"] == "every first-time buyer's window is still open"


async def test_f2_empty_tenant_and_bad_input(api, tenant_a):
    r = await get(api, tenant_a, "f2", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert r["first_time_buyers"] == 0 and r["f2_rate"] is None and r["repeat_rate"] is None
    assert r["f2_rate_reason"] == "no first-time buyers in the period"
    bad = await api.get("/v1/analytics/f2", params={"from": "2026-04-01", "to": "2026-03-01"}, headers=tenant_a.auth)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    bad = await api.get("/v1/analytics/f2", params={"from": "1 March"}, headers=tenant_a.auth)
    assert bad.status_code == 422


# -- CPO and ROMI ---------------------------------------------------------------------------------

async def _romi_data(api, tenant) -> None:
    await cost(api, tenant, channel="instagram_ad", period_from="2026-03-01", period_to="2026-03-31", amount=310000)
    # 30 days, 16 of them in March: 16,000
    await cost(api, tenant, channel="line", period_from="2026-02-15", period_to="2026-03-16", amount=30000)
    await cost(api, tenant, channel="web", period_from="2026-04-01", period_to="2026-04-30", amount=99999)
    await cost(api, tenant, campaign_id="spring", period_from="2026-03-01", period_to="2026-03-10", amount=100000)
    # d1: instagram (campaign spring) then LINE, then buys: last touch LINE, first touch instagram
    await touch(api, tenant, "d1", "2026-03-04T12:00:00+09:00", "instagram_ad", "spring")
    await touch(api, tenant, "d1", "2026-03-05T09:00:00+09:00", "line")
    await order(api, tenant, "d1", "2026-03-05T10:00:00+09:00", price=10000, cost=4000)
    # d2: touched 68 days before buying: outside the 30-day window
    await touch(api, tenant, "d2", "2026-01-01T12:00:00+09:00", "instagram_ad")
    await order(api, tenant, "d2", "2026-03-10T10:00:00+09:00", price=8000, cost=1000)
    # d3: acquired through instagram (customer acquisition with a time)
    r = await api.post("/v1/customers", json={"external_id": "d3", "acquisition": {
        "channel": "instagram_ad", "stage": "pre_purchase", "occurred_at": "2026-03-01T09:00:00+09:00"}},
        headers=tenant.auth)
    assert r.status_code == 201, r.text
    await order(api, tenant, "d3", "2026-03-02T10:00:00+09:00", price=20000, cost=5000)
    # cancelled and after-the-period orders of touched customers do not count
    await order(api, tenant, "d1", "2026-03-06T10:00:00+09:00", status="cancelled")
    await order(api, tenant, "d1", "2026-04-01T10:00:00+09:00")


async def test_romi_by_channel_last_touch(api, tenant_a, tenant_b):
    await _romi_data(api, tenant_a)
    await cost(api, tenant_b, channel="line", period_from="2026-03-01", period_to="2026-03-31", amount=777)
    await touch(api, tenant_b, "x", "2026-03-05T09:00:00+09:00", "line")
    await order(api, tenant_b, "x", "2026-03-05T10:00:00+09:00")
    r = await get(api, tenant_a, "romi", group_by="channel", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert (r["attribution_model"], r["attribution_window_days"]) == ("last_touch", 30)
    rows = {g["key"]: g for g in r["groups"]}
    assert set(rows) == {"instagram_ad", "line", None}
    ig, line, none = rows["instagram_ad"], rows["line"], rows[None]
    assert (ig["cost"], ig["orders"], ig["revenue"], ig["gross_profit"]) == (310000, 1, 20000, 15000)
    assert ig["cpo"] == 310000 and ig["romi"] == pytest.approx((15000 - 310000) / 310000)
    assert (line["cost"], line["orders"], line["gross_profit"]) == (16000, 1, 6000)
    assert line["cpo"] == 16000 and line["romi"] == -0.625
    assert (none["cost"], none["orders"], none["cpo"], none["romi"]) == (100000, 0, None, -1)
    assert none["cpo_reason"] == "no attributed orders"
    t = r["total"]
    assert (t["cost"], t["orders"], t["revenue"], t["gross_profit"]) == (426000, 2, 30000, 21000)
    assert t["cpo"] == 213000 and t["romi"] == pytest.approx((21000 - 426000) / 426000)
    assert (r["unattributed_orders"], r["unattributed_revenue"]) == (1, 8000)


async def test_romi_first_touch_and_campaigns(api, tenant_a):
    await _romi_data(api, tenant_a)
    period = {"from": "2026-03-01", "to": "2026-03-31"}
    r = await get(api, tenant_a, "romi", group_by="channel", model="first_touch", **period)
    rows = {g["key"]: g for g in r["groups"]}
    assert rows["instagram_ad"]["orders"] == 2 and rows["line"]["orders"] == 0
    assert rows["line"]["cpo"] is None and rows["line"]["romi"] == -1
    r = await get(api, tenant_a, "romi", group_by="campaign", model="first_touch", **period)
    rows = {g["key"]: g for g in r["groups"]}
    assert (rows["spring"]["cost"], rows["spring"]["orders"], rows["spring"]["gross_profit"]) == (100000, 1, 6000)
    assert rows["spring"]["romi"] == pytest.approx((6000 - 100000) / 100000)
    assert (rows[None]["cost"], rows[None]["orders"]) == (326000, 1)


async def test_romi_without_costs_or_orders_and_bad_input(api, tenant_a):
    r = await get(api, tenant_a, "romi", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert r["groups"] == [] and r["total"]["cpo"] is None and r["total"]["romi"] is None
    assert r["total"]["romi_reason"].startswith("no marketing cost")
    for params in ({"group_by": "stage"}, {"model": "linear"}, {"from": "2026-03-02", "to": "2026-03-01"}):
        bad = await api.get("/v1/analytics/romi", params=params, headers=tenant_a.auth)
        assert bad.status_code == 422, params
    bad = await api.get("/v1/analytics/romi", params={"group_by": "stage"}, headers=tenant_a.auth)
    assert "channel" in bad.text and "campaign" in bad.text


# -- cohorts --------------------------------------------------------------------------------------

async def _refund(api, tenant, order_id: str, amount: int) -> None:
    r = await api.post(f"/v1/orders/{order_id}/refunds", json={"amount": amount}, headers=tenant.auth)
    assert r.status_code in (200, 201), r.text


async def _cohort_data(api, tenant) -> None:
    await order(api, tenant, "k1", "2026-01-10T10:00:00+09:00", price=10000)
    await order(api, tenant, "k1", "2026-02-05T10:00:00+09:00", price=5000)
    await order(api, tenant, "k1", "2026-02-20T10:00:00+09:00", price=3000)
    await order(api, tenant, "k2", "2026-01-31T23:30:00+09:00", price=2000)  # Tokyo 31 January
    await order(api, tenant, "k2", "2026-03-01T00:10:00+09:00", price=4000)  # Tokyo 1 March (UTC 28 Feb)
    o = await order(api, tenant, "k3", "2026-03-15T10:00:00+09:00", price=7000)
    await _refund(api, tenant, o["id"], 1000)  # net revenue 6,000
    await order(api, tenant, "k3", "2026-03-20T10:00:00+09:00", status="cancelled")
    await order(api, tenant, "k4", "2025-12-31T10:00:00+09:00")  # December cohort: outside
    await order(api, tenant, "k4", "2026-01-05T10:00:00+09:00")
    await order(api, tenant, "k5", "2026-02-10T10:00:00+09:00", status="refunded")
    await order(api, tenant, "k5", "2026-04-01T10:00:00+09:00")  # April cohort: outside


def _months_since(year: int, month: int) -> int:
    today = _tokyo_today()
    return (today.year - year) * 12 + today.month - month + 1


async def test_monthly_cohorts_hand_computed(api, tenant_a, tenant_b):
    await _cohort_data(api, tenant_a)
    await order(api, tenant_b, "kb", "2026-01-20T10:00:00+09:00", price=99999)
    period = {"from": "2026-01-15", "to": "2026-03-31"}  # whole months: January to March
    r = await get(api, tenant_a, "cohorts", by="month", metric="retention", **period)
    assert r["period"] == {"from": "2026-01-01", "to": "2026-03-31"}
    rows = {c["cohort"]: c for c in r["cohorts"]}
    assert set(rows) == {"2026-01-01", "2026-03-01"}  # no customer began in February
    jan, mar = rows["2026-01-01"], rows["2026-03-01"]
    assert (jan["size"], mar["size"]) == (2, 1)
    assert len(jan["values"]) == _months_since(2026, 1) and len(mar["values"]) == _months_since(2026, 3)
    assert jan["values"][:4] == [1, 0.5, 0.5, 0] and mar["values"][:2] == [1, 0]
    r = await get(api, tenant_a, "cohorts", by="month", metric="revenue", **period)
    rows = {c["cohort"]: c["values"] for c in r["cohorts"]}
    assert rows["2026-01-01"][:4] == [12000, 8000, 4000, 0] and rows["2026-03-01"][:2] == [6000, 0]
    r = await get(api, tenant_a, "cohorts", by="month", metric="ltv", **period)
    rows = {c["cohort"]: c["values"] for c in r["cohorts"]}
    assert rows["2026-01-01"][:4] == [6000, 10000, 12000, 12000] and rows["2026-01-01"][-1] == 12000
    b = await get(api, tenant_b, "cohorts", by="month", metric="revenue", **period)
    assert [(c["cohort"], c["size"], c["values"][0]) for c in b["cohorts"]] == [("2026-01-01", 1, 99999)]


async def test_weekly_cohorts_use_iso_weeks_in_tokyo(api, tenant_a):
    await order(api, tenant_a, "w1", "2026-03-02T09:00:00+09:00")  # Monday
    await order(api, tenant_a, "w1", "2026-03-08T23:00:00+09:00")  # Sunday, same week
    await order(api, tenant_a, "w1", "2026-03-09T00:30:00+09:00")  # Monday in Tokyo, Sunday in UTC
    r = await get(api, tenant_a, "cohorts", by="week", metric="retention", **{"from": "2026-03-04", "to": "2026-03-04"})
    assert r["period"] == {"from": "2026-03-02", "to": "2026-03-08"}
    [row] = r["cohorts"]
    assert row["cohort"] == "2026-03-02" and row["size"] == 1 and row["values"][:3] == [1, 1, 0]


async def test_cohorts_empty_and_bad_input(api, tenant_a):
    r = await get(api, tenant_a, "cohorts")
    assert r["cohorts"] == [] and (r["by"], r["metric"]) == ("month", "retention")
    for params in ({"by": "day"}, {"metric": "profit"}, {"from": "2026-03-02", "to": "2026-03-01"},
                   {"by": "week", "from": "2000-01-01", "to": "2009-12-31"}):
        bad = await api.get("/v1/analytics/cohorts", params=params, headers=tenant_a.auth)
        assert bad.status_code == 422, params
    bad = await api.get("/v1/analytics/cohorts", params={"metric": "profit"}, headers=tenant_a.auth)
    assert all(name in bad.text for name in ("retention", "revenue", "ltv"))


# -- acquisition to LTV ---------------------------------------------------------------------------

async def _customer(api, tenant, ext: str, **acquisition: Any) -> None:
    r = await api.post("/v1/customers", json={"external_id": ext, "acquisition": acquisition}, headers=tenant.auth)
    assert r.status_code == 201, r.text


def _days_ago(n: int) -> str:
    day = _tokyo_today() - timedelta(days=n)
    return datetime.combine(day, datetime.min.time(), TOKYO).replace(hour=12).isoformat()


async def _acquisition_data(api, tenant) -> None:
    await _customer(api, tenant, "a1", channel="instagram_ad", stage="pre_purchase", campaign="spring")
    await order(api, tenant, "a1", "2025-01-10T10:00:00+09:00", price=10000, cost=4000)
    await order(api, tenant, "a1", "2025-03-01T10:00:00+09:00", price=5000, cost=2000)  # 50 days: F2
    await order(api, tenant, "a1", "2025-08-01T10:00:00+09:00", price=2000, cost=1000)  # in 12 months, not 6
    await order(api, tenant, "a1", "2026-02-01T10:00:00+09:00", price=9000, cost=1000)  # after 12 months
    await _customer(api, tenant, "a2", channel="instagram_ad", stage="pre_purchase")
    await order(api, tenant, "a2", "2025-06-01T10:00:00+09:00", price=20000, cost=5000)
    # a3: no acquisition recorded: its first order's channel, stage "purchase"
    await order(api, tenant, "a3", "2025-02-01T10:00:00+09:00", price=10000, cost=4000, channel="store")
    await order(api, tenant, "a3", _days_ago(20), price=1000, cost=0, channel="ec")
    await order(api, tenant, "a4", "2024-12-31T10:00:00+09:00", channel="store")  # acquired before the period
    await _customer(api, tenant, "a5", channel="line", stage="post_purchase")
    await order(api, tenant, "a5", _days_ago(200), price=10000, cost=4000)


async def test_acquisition_by_channel_hand_computed(api, tenant_a, tenant_b):
    await _acquisition_data(api, tenant_a)
    await _customer(api, tenant_b, "z", channel="instagram_ad")
    await order(api, tenant_b, "z", "2025-05-01T10:00:00+09:00")
    r = await get(api, tenant_a, "acquisition", group_by="channel", **{"from": "2025-01-01"})
    assert r["period"]["from"] == "2025-01-01" and r["period"]["to"] == str(_tokyo_today())
    groups = {g["key"]: g for g in r["groups"]}
    assert list(groups) == ["instagram_ad", "line", "store"]  # most customers first, then by name
    ig, line, store = groups["instagram_ad"], groups["line"], groups["store"]
    assert (ig["customers"], ig["f2_converted"], ig["f2_not_converted"], ig["f2_rate"]) == (2, 1, 1, 0.5)
    assert (ig["retained"], ig["retention_rate"]) == (0, 0)
    assert ig["ltv_6m"] == {"months": 6, "customers": 2, "revenue": 17500, "gross_profit": 12000, "reason": None}
    assert ig["ltv_12m"] == {"months": 12, "customers": 2, "revenue": 18500, "gross_profit": 12500, "reason": None}
    assert (store["customers"], store["f2_rate"], store["retained"], store["retention_rate"]) == (1, 0, 1, 1)
    assert (store["ltv_12m"]["revenue"], store["ltv_12m"]["gross_profit"]) == (10000, 6000)
    assert (line["ltv_6m"]["customers"], line["ltv_6m"]["revenue"]) == (1, 10000)
    assert line["ltv_12m"]["customers"] == 0 and line["ltv_12m"]["revenue"] is None
    assert line["ltv_12m"]["reason"] == "no customer of this group is 12 months past their first purchase yet"
    b = await get(api, tenant_b, "acquisition", **{"from": "2025-01-01"})
    assert [(g["key"], g["customers"]) for g in b["groups"]] == [("instagram_ad", 1)]


async def test_acquisition_by_stage_and_campaign(api, tenant_a):
    await _acquisition_data(api, tenant_a)
    r = await get(api, tenant_a, "acquisition", group_by="stage", **{"from": "2025-01-01"})
    assert {g["key"]: g["customers"] for g in r["groups"]} == {"pre_purchase": 2, "purchase": 1, "post_purchase": 1}
    r = await get(api, tenant_a, "acquisition", group_by="campaign", **{"from": "2025-01-01"})
    assert [(g["key"], g["customers"]) for g in r["groups"]] == [(None, 3), ("spring", 1)]


async def test_acquisition_empty_and_bad_input(api, tenant_a):
    assert (await get(api, tenant_a, "acquisition"))["groups"] == []
    for params in ({"group_by": "source"}, {"from": "2026-03-02", "to": "2026-03-01"}):
        bad = await api.get("/v1/analytics/acquisition", params=params, headers=tenant_a.auth)
        assert bad.status_code == 422, params


# Predicted LTV: a CLV model stored as a fit would store it (weeks, minor units); the expectations
# are recomputed in the test from the published formulas (tests/unit/analytics/test_acquisition_predicted.py).
MODEL = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "gamma": 1544.0}
NO_MODEL = "no CLV model fitted yet: POST /v1/analytics/clv/fit"


async def _store_model(engine, tenant) -> None:
    from sqlalchemy import text

    async with engine.begin() as conn:
        await conn.execute(text(
            f'INSERT INTO "t_{tenant.slug}".clv_models (id, r, alpha, a, b, p, q, gamma, bgnbd_log_likelihood,'
            " gamma_gamma_log_likelihood, n_customers, n_repeat_customers, n_spend_customers,"
            " frequency_spend_correlation, time_unit, observation_end, converged, iterations, fitted_at)"
            " VALUES (gen_random_uuid(), :r, :alpha, :a, :b, :p, :q, :gamma, -1, -1, 100, 40, 40, 0, 'week',"
            " '2026-01-01', true, 10, now())"), MODEL)


def _model_rest_of_window(*, x: int, t_x_days: int, age_days: int, m_x: float, first_day_ago: int,
                          months: int) -> float:
    from domain.analytics.bgnbd import BgNbdParams
    from domain.analytics.gamma_gamma import GammaGammaParams
    from tests.unit.analytics.test_acquisition_predicted import (
        add_months,
        clv_model,
        published_rest_of_window,
    )

    model = clv_model(bgnbd=BgNbdParams(*(MODEL[k] for k in ("r", "alpha", "a", "b"))),
                      gg=GammaGammaParams(*(MODEL[k] for k in ("p", "q", "gamma"))))
    today = _tokyo_today()
    days_left = (add_months(today - timedelta(days=first_day_ago), months) - today).days
    return published_rest_of_window(model, x=x, t_x_days=t_x_days, age_days=age_days, m_x=m_x,
                                    days_left=days_left)


async def test_predicted_ltv_needs_a_model_and_equals_history_for_closed_windows(api, engine, tenant_a, tenant_b):
    await _acquisition_data(api, tenant_a)
    await _customer(api, tenant_b, "z", channel="instagram_ad")
    await order(api, tenant_b, "z", _days_ago(10))
    r = await get(api, tenant_a, "acquisition", **{"from": "2025-01-01"})
    assert r["clv_model_fitted_at"] is None
    for g in r["groups"]:
        for k in ("predicted_ltv_6m", "predicted_ltv_12m"):
            assert (g[k]["revenue"], g[k]["gross_profit"], g[k]["reason"]) == (None, None, NO_MODEL)
            assert g[k]["customers"] == g["customers"]
    await _store_model(engine, tenant_a)
    r = await get(api, tenant_a, "acquisition", **{"from": "2025-01-01"})
    assert r["clv_model_fitted_at"] is not None
    groups = {g["key"]: g for g in r["groups"]}
    # instagram_ad (a1, a2) and store (a3) began more than 12 months ago: predicted is history
    for key in ("instagram_ad", "store"):
        g = groups[key]
        for n in ("6m", "12m"):
            predicted, historical = g[f"predicted_ltv_{n}"], g[f"ltv_{n}"]
            assert predicted["predicted"] == 0 and predicted["customers"] == historical["customers"]
            assert (predicted["revenue"], predicted["gross_profit"]) == (historical["revenue"],
                                                                        historical["gross_profit"])
    assert groups["instagram_ad"]["predicted_ltv_12m"]["revenue"] == 18500
    # line (a5, one order 200 days ago): 6 months over (history), 12 months open (history + model)
    line = groups["line"]
    assert (line["predicted_ltv_6m"]["revenue"], line["predicted_ltv_6m"]["predicted"]) == (10000, 0)
    rest = _model_rest_of_window(x=0, t_x_days=0, age_days=200, m_x=0, first_day_ago=200, months=12)
    assert line["predicted_ltv_12m"]["predicted"] == 1
    assert line["predicted_ltv_12m"]["revenue"] == pytest.approx(10000 + rest, rel=1e-9)
    assert line["predicted_ltv_12m"]["gross_profit"] == pytest.approx(6000 + 0.3 * rest, rel=1e-9)
    # the model is tenant A's: tenant B has none
    b = await get(api, tenant_b, "acquisition")
    assert b["clv_model_fitted_at"] is None and [g["key"] for g in b["groups"]] == ["instagram_ad"]
    assert b["groups"][0]["predicted_ltv_12m"]["reason"] == NO_MODEL


async def test_predicted_ltv_of_recent_customers_is_realised_plus_expected(api, engine, tenant_a, tenant_b):
    # r1: 100 days ago and 40 days ago (x = 1, t_x = 60, T = 100, m_x = 6000); r2: once, 30 days ago
    await _customer(api, tenant_a, "r1", channel="tiktok_ad")
    await order(api, tenant_a, "r1", _days_ago(100), price=10000, cost=4000)
    await order(api, tenant_a, "r1", _days_ago(40), price=6000, cost=2000)
    await _customer(api, tenant_a, "r2", channel="tiktok_ad")
    await order(api, tenant_a, "r2", _days_ago(30), price=8000, cost=3000)
    await order(api, tenant_a, "r2", _days_ago(29), price=5000, status="cancelled")  # not an occasion
    await _store_model(engine, tenant_a)
    await _store_model(engine, tenant_b)
    await _customer(api, tenant_b, "r1", channel="tiktok_ad")  # same external id, other tenant
    await order(api, tenant_b, "r1", _days_ago(100), price=99999)
    [g] = (await get(api, tenant_a, "acquisition"))["groups"]
    assert (g["key"], g["customers"], g["ltv_6m"]["revenue"]) == ("tiktok_ad", 2, None)
    for months in (6, 12):
        rest = (_model_rest_of_window(x=1, t_x_days=60, age_days=100, m_x=6000, first_day_ago=100, months=months)
                + _model_rest_of_window(x=0, t_x_days=0, age_days=30, m_x=0, first_day_ago=30, months=months))
        p = g[f"predicted_ltv_{months}m"]
        assert (p["customers"], p["predicted"], p["reason"]) == (2, 2, None)
        assert p["revenue"] > (16000 + 8000) / 2  # more than what they bought so far
        assert p["revenue"] == pytest.approx((16000 + 8000 + rest) / 2, rel=1e-9)
        assert p["gross_profit"] == pytest.approx((10000 + 5000 + 0.3 * rest) / 2, rel=1e-9)
    [b] = (await get(api, tenant_b, "acquisition"))["groups"]
    assert b["customers"] == 1 and b["predicted_ltv_6m"]["revenue"] > 99999


# -- KPIs -----------------------------------------------------------------------------------------

async def _kpi_data(api, tenant) -> None:
    await order(api, tenant, "u1", "2025-06-01T10:00:00+09:00")
    await order(api, tenant, "u1", "2026-03-10T10:00:00+09:00", price=10000, cost=4000)  # back after 282 days
    await touch(api, tenant, "u2", "2026-03-04T10:00:00+09:00", "line")
    await order(api, tenant, "u2", "2026-03-05T10:00:00+09:00", price=50000, cost=10000)
    await order(api, tenant, "u3", "2026-03-05T10:00:00+09:00", price=1000, cost=0)
    await order(api, tenant, "u3", "2026-03-06T10:00:00+09:00", price=1000, cost=0)
    await order(api, tenant, "u4", "2025-01-01T10:00:00+09:00")  # dormant
    await order(api, tenant, "u5", "2026-02-01T10:00:00+09:00")
    await order(api, tenant, "u5", "2026-04-15T10:00:00+09:00")  # after the period: ignored
    await order(api, tenant, "u6", "2026-03-20T10:00:00+09:00", status="cancelled")  # never a buyer
    await order(api, tenant, "u7", "2025-10-01T10:00:00+09:00")
    await order(api, tenant, "u7", "2026-03-31T23:59:00+09:00", price=3000, cost=1000)  # 181 days later
    await cost(api, tenant, channel="line", period_from="2026-03-01", period_to="2026-03-31", amount=31000)


async def test_kpis_hand_computed(api, tenant_a, tenant_b):
    await _kpi_data(api, tenant_a)
    await order(api, tenant_b, "v", "2026-03-05T10:00:00+09:00", price=777777)
    r = await get(api, tenant_a, "kpis", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert r["dormant_after_days"] == 180
    counts = {k: r[k] for k in ("customers_total", "new_customers", "active_customers", "returning_customers",
                                "repeat_customers", "dormant_customers", "reactivated_customers", "orders")}
    assert counts == {"customers_total": 6, "new_customers": 2, "active_customers": 4, "returning_customers": 2,
                      "repeat_customers": 3, "dormant_customers": 1, "reactivated_customers": 2, "orders": 5}
    assert (r["revenue"], r["gross_profit"]) == (65000, 50000)
    assert r["top_20_revenue_share"] == pytest.approx(50000 / 65000)  # ceil(0.2 x 4) = 1 customer: u2
    assert (r["f2_rate"], r["f2_pending"]) == (0.5, 0)
    assert (r["marketing_cost"], r["attributed_orders"], r["cpo"]) == (31000, 1, 31000)
    assert r["romi"] == pytest.approx((40000 - 31000) / 31000)
    # lifetime to 31 March of the 6 buyers: u1 20000/12000, u2 50000/40000, u3 2000/2000, u4 10000/6000,
    # u5 10000/6000 (its April order is after the period), u7 13000/8000
    assert r["average_ltv_revenue"] == pytest.approx(105000 / 6)
    assert r["average_ltv_gross_profit"] == pytest.approx(74000 / 6)
    assert r["loyal_customers"] is None and r["loyal_customers_reason"].startswith("no RFM scores yet")
    b = await get(api, tenant_b, "kpis", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert (b["customers_total"], b["revenue"], b["marketing_cost"]) == (1, 777777, 0)


async def test_kpis_empty_tenant_all_one_day_and_bad_input(api, tenant_a):
    r = await get(api, tenant_a, "kpis")
    assert r["customers_total"] == r["revenue"] == r["orders"] == 0
    assert r["top_20_revenue_share"] is None and r["top_20_revenue_share_reason"] == "no revenue in the period"
    assert r["cpo"] is None and r["romi"] is None and r["f2_rate"] is None
    for i in range(3):  # every order on one day
        await order(api, tenant_a, f"o{i}", "2026-03-05T10:00:00+09:00", price=1000 * (i + 1))
    r = await get(api, tenant_a, "kpis", **{"from": "2026-03-05", "to": "2026-03-05"})
    assert (r["new_customers"], r["repeat_customers"], r["revenue"]) == (3, 0, 6000)
    assert r["top_20_revenue_share"] == 0.5 and r["f2_rate"] == 0
    bad = await api.get("/v1/analytics/kpis", params={"from": "2026-03-06", "to": "2026-03-05"}, headers=tenant_a.auth)
    assert bad.status_code == 422


async def test_kpi_series(api, tenant_a, tenant_b):
    await _kpi_data(api, tenant_a)
    await order(api, tenant_b, "v", "2026-03-05T10:00:00+09:00", price=777777)
    r = await get(api, tenant_a, "kpis/series", metric="revenue", interval="week",
                  **{"from": "2026-03-01", "to": "2026-03-10"})
    assert [(p["start"], p["value"]) for p in r["points"]] == [
        ("2026-02-23", 0), ("2026-03-02", 52000), ("2026-03-09", 10000)]
    r = await get(api, tenant_a, "kpis/series", metric="new_customers", interval="month",
                  **{"from": "2026-01-01", "to": "2026-03-31"})
    assert [p["value"] for p in r["points"]] == [0, 1, 2]
    r = await get(api, tenant_a, "kpis/series", metric="returning_customers", interval="month",
                  **{"from": "2026-01-01", "to": "2026-03-31"})
    assert [p["value"] for p in r["points"]] == [0, 0, 2]
    r = await get(api, tenant_a, "kpis/series", metric="orders", **{"from": "2026-03-05", "to": "2026-03-06"})
    assert [(p["start"], p["value"]) for p in r["points"]] == [("2026-03-05", 2), ("2026-03-06", 1)]
    r = await get(api, tenant_a, "kpis/series", metric="orders", interval="month")
    assert len(r["points"]) == 12 and r["points"][-1]["start"] == str(_tokyo_today().replace(day=1))
    for params in ({"metric": "ltv"}, {"metric": "orders", "interval": "hour"}, {},
                   {"metric": "orders", "from": "2020-01-01", "to": "2026-01-01"},
                   {"metric": "orders", "from": "2026-01-02", "to": "2026-01-01"}):
        bad = await api.get("/v1/analytics/kpis/series", params=params, headers=tenant_a.auth)
        assert bad.status_code == 422, params
    bad = await api.get("/v1/analytics/kpis/series", params={"metric": "ltv"}, headers=tenant_a.auth)
    assert "returning_customers" in bad.text


# -- shared rules ---------------------------------------------------------------------------------

REPORTS = ("f2", "romi", "cohorts", "acquisition", "kpis", "kpis/series?metric=orders")


async def test_reports_need_analytics_read(api, tenant_a):
    token = await get_token(api, tenant_a.client_id, tenant_a.client_secret, scope="customers:read")
    reader = await get_token(api, tenant_a.client_id, tenant_a.client_secret, scope="analytics:read")
    for path in REPORTS:
        assert (await api.get(f"/v1/analytics/{path}", headers=bearer(token))).status_code == 403, path
        assert (await api.get(f"/v1/analytics/{path}", headers=bearer(reader))).status_code == 200, path
        assert (await api.get(f"/v1/analytics/{path}")).status_code == 401, path


async def test_refunds_that_cancel_every_order_leave_nothing(api, tenant_a):
    for ext, at in (("r1", "2026-03-05T10:00:00+09:00"), ("r1", "2026-03-06T10:00:00+09:00"),
                    ("r2", "2026-03-07T10:00:00+09:00")):
        o = await order(api, tenant_a, ext, at, price=5000)
        await _refund(api, tenant_a, o["id"], 5000)
    period = {"from": "2026-03-01", "to": "2026-03-31"}
    k = await get(api, tenant_a, "kpis", **period)
    assert (k["customers_total"], k["orders"], k["revenue"], k["gross_profit"]) == (0, 0, 0, 0)
    assert (await get(api, tenant_a, "f2", **period))["first_time_buyers"] == 0
    assert (await get(api, tenant_a, "cohorts", **period))["cohorts"] == []
    assert (await get(api, tenant_a, "acquisition", **period))["groups"] == []


async def test_future_dated_orders_are_left_out(api, tenant_a):
    soon = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()  # accepted: shop clocks run fast
    await order(api, tenant_a, "f1", soon)
    today = str(_tokyo_today())
    k = await get(api, tenant_a, "kpis", **{"from": today, "to": today})
    # its instant is still ahead of the report's: it counts once it has happened
    assert k["orders"] == 0 and k["customers_total"] == 0


async def test_loyal_customers_come_from_the_last_metrics_recompute(api, engine, tenant_a, tenant_b):
    """Rows as the analytics recompute writes them (only the columns the count reads matter)."""
    import uuid

    from sqlalchemy import text

    async with engine.begin() as conn:
        for segment in ("champions", "loyal", "at_risk", None):
            await conn.execute(text(
                f'INSERT INTO "t_{tenant_a.slug}".customer_metrics (customer_id, first_order_at, last_order_at, '
                "first_day, last_day, orders, occasions, revenue, gross_profit, first_day_revenue, segment, "
                "formula_ltv, as_of, computed_at) VALUES (:id, now(), now(), '2026-03-01', '2026-03-01', 1, 1, "
                "0, 0, 0, :segment, 0, '2026-03-31', now())"), {"id": uuid.uuid4(), "segment": segment})
    r = await get(api, tenant_a, "kpis")
    assert (r["loyal_customers"], r["loyal_customers_as_of"], r["loyal_customers_reason"]) == (2, "2026-03-31", None)
    assert (await get(api, tenant_b, "kpis"))["loyal_customers"] is None


async def test_returned_units_give_their_cost_back(api, tenant_a):
    body = {"order_number": "R-" + secrets.token_hex(5), "customer": {"external_id": "ret"},
            "ordered_at": "2026-03-05T10:00:00+09:00", "channel": "ec", "discount_total": 1000, "total": 9000,
            "lines": [{"sku": "TEA-1", "quantity": 2, "unit_price": 5000, "unit_cost": 2000}]}
    r = await api.post("/v1/orders", json=body, headers=tenant_a.auth)
    assert r.status_code == 201, r.text
    # one unit back: its value less its share of the discount, 5000 - 500 = 4500
    r = await api.post(f"/v1/orders/{r.json()['id']}/refunds", json={"lines": [{"line_no": 1, "quantity": 1}]},
                       headers=tenant_a.auth)
    assert r.status_code in (200, 201), r.text
    assert r.json()["order"]["net_gross_profit"] == 10000 - 4000 - 1000 - 4500 + 2000
    k = await get(api, tenant_a, "kpis", **{"from": "2026-03-05", "to": "2026-03-05"})
    assert (k["orders"], k["revenue"], k["gross_profit"]) == (1, 10000 - 4500, 2500)


async def test_series_add_up_to_the_board(api, tenant_a):
    """Daily points of revenue, orders and new customers sum to the board of the same period."""
    await _kpi_data(api, tenant_a)
    await _f2_data(api, tenant_a)
    period = {"from": "2026-02-15", "to": "2026-04-10"}
    board = await get(api, tenant_a, "kpis", **period)
    for metric in ("revenue", "gross_profit", "orders", "new_customers"):
        series = await get(api, tenant_a, "kpis/series", metric=metric, interval="day", **period)
        assert len(series["points"]) == 55
        assert sum(p["value"] for p in series["points"]) == board[metric], metric


async def test_cpo_and_romi_per_month(api, tenant_a, tenant_b):
    """Each interval is a period of its own: costs pro rata to its days, orders attributed as the board does."""
    await _romi_data(api, tenant_a)
    await cost(api, tenant_b, channel="line", period_from="2026-03-01", period_to="2026-03-31", amount=777)
    await touch(api, tenant_b, "x", "2026-03-05T09:00:00+09:00", "line")
    await order(api, tenant_b, "x", "2026-03-05T10:00:00+09:00")
    period = {"from": "2026-02-15", "to": "2026-04-30"}
    cpo = await get(api, tenant_a, "kpis/series", metric="cpo", interval="month", **period)
    romi = await get(api, tenant_a, "kpis/series", metric="romi", interval="month", **period)
    assert [p["start"] for p in cpo["points"]] == ["2026-02-01", "2026-03-01", "2026-04-01"]
    # February (15th-28th): 14 of the LINE cost's 30 days, 14,000; no attributed order
    feb, mar, apr = cpo["points"]
    assert (feb["value"], feb["reason"]) == (None, "no attributed orders in this interval")
    assert romi["points"][0]["value"] == -1
    # March: 310,000 + 16,000 + 100,000; d1 (LINE) and d3 (instagram) attributed, gross profit 21,000
    assert (mar["value"], mar["reason"]) == (213000, None)
    assert romi["points"][1]["value"] == pytest.approx((21000 - 426000) / 426000)
    # April: the web cost; d1's April order, 27 days after its LINE touch (gross profit 6,000)
    assert apr["value"] == 99999 and romi["points"][2]["value"] == pytest.approx((6000 - 99999) / 99999)
    board = await get(api, tenant_a, "kpis", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert (board["cpo"], board["romi"]) == (mar["value"], romi["points"][1]["value"])
    days = await get(api, tenant_a, "kpis/series", metric="cpo", interval="day",
                     **{"from": "2026-04-29", "to": "2026-05-01"})
    assert [(p["value"], p["reason"]) for p in days["points"]] == [
        (None, "no attributed orders in this interval")] * 2 + [(None, "no marketing cost recorded in this interval")]
    b = await get(api, tenant_b, "kpis/series", metric="cpo", interval="month", **period)
    assert [p["value"] for p in b["points"]] == [None, 777, None]
    bad = await api.get("/v1/analytics/kpis/series", params={"metric": "cpo", "interval": "hour"},
                        headers=tenant_a.auth)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
