"""Analytics through HTTP with two tenants: settings, customer metrics, recompute jobs, RFM, the
CLV model (validated on CDNOW through the API), incremental updates and the edge cases of issue 5."""

from __future__ import annotations

import asyncio
import json
import math
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest
from sqlalchemy import text

from api.app import create_app
from domain.analytics.metrics import annuity_factor
from domain.analytics.services import recompute_metrics, refresh_customer_metrics
from domain.analytics.settings import AnalyticsSettings
from domain.auth.model import TenantRef
from domain.shared.clock import SystemClock
from infra.analytics.queue import ANALYTICS_QUEUE, REFRESH_TASK
from infra.analytics.refresh import SqlMetricsRefresh, lock_key
from infra.jobs import job_app
from tests.conftest import bearer, get_token

TOKYO = ZoneInfo("Asia/Tokyo")
CDNOW = Path("/work/shared/data/CDNOW_sample.txt")


def _today() -> date:
    return datetime.now(TOKYO).date()


def _ref(tenant: Any) -> TenantRef:
    return TenantRef(id=UUID(tenant.id), slug=tenant.slug, schema=f"t_{tenant.slug}", timezone="Asia/Tokyo",
                     currency="JPY")


def _order(customer: dict[str, Any], ordered_at: str, *, price: int = 1000, cost: int | None = 400,
           quantity: int = 1, **fields: Any) -> dict[str, Any]:
    line: dict[str, Any] = {"sku": "TEA-1", "quantity": quantity, "unit_price": price}
    if cost is not None:
        line["unit_cost"] = cost
    return {"order_number": "EC-" + secrets.token_hex(6), "customer": customer, "ordered_at": ordered_at,
            "channel": "ec", "lines": [line], "total": price * quantity, **fields}


async def _place(api, tenant, customer: dict[str, Any], ordered_at: str, **kw: Any) -> dict[str, Any]:
    r = await api.post("/v1/orders", json=_order(customer, ordered_at, **kw), headers=tenant.auth)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _recompute(app, tenant) -> dict[str, Any]:
    """The recompute job's work, as the worker runs it (without a queued job row)."""
    ref = _ref(tenant)
    return await recompute_metrics(uow_factory=lambda: app.state.wiring.uow_factory(ref), clock=SystemClock(),
                                   timezone=ref.timezone)


async def _metrics(api, tenant, customer_id: str) -> dict[str, Any]:
    r = await api.get(f"/v1/customers/{customer_id}/metrics", headers=tenant.auth)
    assert r.status_code == 200, r.text
    assert "NaN" not in r.text and "Infinity" not in r.text
    return r.json()  # type: ignore[no-any-return]


async def _run_worker(settings, database_url: str, engine, tenant, *, refreshes: bool = True) -> None:
    """Run the analytics queue's jobs of `tenant` (other tenants' queued jobs, from other tests'
    orders, are dropped first: nothing else runs this queue in the suite)."""
    async with engine.begin() as conn:
        await conn.execute(text(
            "DELETE FROM control.procrastinate_jobs WHERE queue_name = :q AND status = 'todo'"
            " AND (args->>'tenant_id' <> :tenant OR (NOT :refreshes AND task_name = :refresh))"),
            {"q": ANALYTICS_QUEUE, "tenant": tenant.id, "refreshes": refreshes, "refresh": REFRESH_TASK})
    async with job_app(settings, database_url) as jobs:
        await jobs.run_worker_async(queues=[ANALYTICS_QUEUE], wait=False, install_signal_handlers=False)


def _jst(day: date, hour: int = 10) -> str:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TOKYO).isoformat()


# -- settings ---------------------------------------------------------------------------------------

async def test_settings_default_then_put_with_if_match_per_tenant(api, tenant_a, tenant_b):
    first = await api.get("/v1/analytics/settings", headers=tenant_a.auth)
    assert first.status_code == 200 and first.headers["ETag"] == '"v0"'
    body = first.json()
    assert body["dormant_after_days"] == AnalyticsSettings().dormant_after_days
    assert {s["segment"] for s in body["rfm_segments"]} >= {"champions", "loyal", "lost", "hibernating"}

    put = await api.put("/v1/analytics/settings", json={"dormant_after_days": 60, "ltv_period": "month"},
                        headers={**tenant_a.auth, "If-Match": '"v0"'})
    assert put.status_code == 200, put.text
    assert put.headers["ETag"] == '"v1"' and put.json()["dormant_after_days"] == 60
    assert put.json()["f2_window_days"] == 90  # omitted: its default
    stale = await api.put("/v1/analytics/settings", json={"dormant_after_days": 61},
                          headers={**tenant_a.auth, "If-Match": '"v0"'})
    assert stale.status_code == 412 and stale.headers["content-type"] == "application/problem+json"
    again = await api.put("/v1/analytics/settings", json={"dormant_after_days": 61},
                          headers={**tenant_a.auth, "If-Match": '"v1"'})
    assert again.status_code == 200 and again.headers["ETag"] == '"v2"'
    # the other tenant still has the defaults
    other = await api.get("/v1/analytics/settings", headers=tenant_b.auth)
    assert other.json()["dormant_after_days"] == 180 and other.headers["ETag"] == '"v0"'


@pytest.mark.parametrize(("body", "field"), [
    ({"dormant_after_days": 0}, "dormant_after_days"),
    ({"annual_discount_rate": 1.5}, "annual_discount_rate"),
    ({"ltv_period": "decade"}, "ltv_period"),
    ({"clv_margin": -0.1}, "clv_margin"),
    ({"unknown": 1}, "unknown"),
    ({"rfm_segments": [{"segment": "everyone", "r": [1, 5], "fm": [1, 4]}]}, "rfm_segments"),
    ({"rfm_segments": [{"segment": "a", "r": [1, 5], "fm": [1, 5]}, {"segment": "b", "r": [5, 5], "fm": [5, 5]}]},
     "rfm_segments.1"),
    ({"rfm_segments": [{"segment": "Bad Name", "r": [1, 5], "fm": [1, 5]}]}, "rfm_segments.0.segment"),
    ({"rfm_segments": [{"segment": "a", "r": [4, 2], "fm": [1, 5]}]}, "rfm_segments.0.r"),
])
async def test_invalid_settings_are_422_naming_the_field(api, tenant_a, body, field):
    r = await api.put("/v1/analytics/settings", json=body, headers=tenant_a.auth)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert any(e["field"].startswith(field) for e in r.json()["errors"]), r.json()
    assert (await api.get("/v1/analytics/settings", headers=tenant_a.auth)).headers["ETag"] == '"v0"'


async def test_scopes(api, tenant_a):
    reader = bearer(await get_token(api, tenant_a.client_id, tenant_a.client_secret, scope="analytics:read"))
    other = bearer(await get_token(api, tenant_a.client_id, tenant_a.client_secret, scope="customers:read"))
    assert (await api.get("/v1/analytics/settings", headers=reader)).status_code == 200
    assert (await api.put("/v1/analytics/settings", json={}, headers=reader)).status_code == 403
    assert (await api.post("/v1/analytics/recompute", headers=reader)).status_code == 403
    assert (await api.get("/v1/analytics/rfm", headers=other)).status_code == 403


# -- customer metrics -------------------------------------------------------------------------------

async def test_customer_metrics_by_hand_refunds_cancellations_and_local_days(api, app, tenant_a, tenant_b):
    who = {"external_id": "hand-" + secrets.token_hex(4)}
    today = _today()
    d1, d2 = today - timedelta(days=53), today - timedelta(days=34)
    first = await _place(api, tenant_a, who, _jst(d1, 10), price=1200, quantity=2, cost=400)
    cid = first["customer_id"]
    # 01:00 in Tokyo is the previous day in UTC: still the same tenant-local day, one occasion
    await _place(api, tenant_a, {"id": cid}, _jst(d1, 1), price=1000, cost=300)
    partial = await _place(api, tenant_a, {"id": cid}, _jst(d2), price=3000, cost=1000)
    r = await api.post(f"/v1/orders/{partial['id']}/refunds", json={"amount": 1000}, headers=tenant_a.auth)
    assert r.status_code == 201, r.text
    await _place(api, tenant_a, {"id": cid}, _jst(d2 + timedelta(days=2)), price=5000, status="cancelled")
    full = await _place(api, tenant_a, {"id": cid}, _jst(d2 + timedelta(days=3)), price=2000, cost=500)
    r = await api.post(f"/v1/orders/{full['id']}/refunds", json={"amount": 2000}, headers=tenant_a.auth)
    assert r.status_code == 201 and r.json()["order"]["status"] == "refunded"

    before = await _metrics(api, tenant_a, cid)
    assert before["orders"] == 0 and before["rfm"] is None and before["f2"] is None  # nothing computed yet

    await _recompute(app, tenant_a)
    m = await _metrics(api, tenant_a, cid)
    revenue = 2400 + 1000 + (3000 - 1000)
    profit = (2400 - 800) + (1000 - 300) + (3000 - 1000 - 1000)
    assert (m["orders"], m["purchase_occasions"], m["revenue"], m["gross_profit"]) == (3, 2, revenue, profit)
    assert m["historical_ltv"] == {"revenue": revenue, "gross_profit": profit}
    assert m["average_order_value"] == pytest.approx(revenue / 3, abs=0.01)
    assert m["days_since_last_order"] == 34 and m["dormant"] is False
    assert m["f2"] == {"status": "converted", "days_to_second_purchase": 19, "window_days": 90}
    # one customer: every score is the middle one (mid-rank), FM 3, R 3
    assert m["rfm"] == {"r": 3, "f": 3, "m": 3, "segment": "need_attention"}
    assert m["formula_ltv"] == pytest.approx(profit * annuity_factor(AnalyticsSettings()), abs=0.01)
    assert m["p_alive"] is None and m["predicted_clv"] is None  # no model fitted
    assert datetime.fromisoformat(m["first_order_at"]) == datetime.fromisoformat(_jst(d1, 1))

    assert (await api.get(f"/v1/customers/{cid}/metrics", headers=tenant_b.auth)).status_code == 404
    missing = await api.get(f"/v1/customers/{UUID(int=7)}/metrics", headers=tenant_a.auth)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def test_dormant_and_f2_not_converted_follow_the_settings(api, app, tenant_a):
    today = _today()
    c = await _place(api, tenant_a, {"external_id": "old"}, _jst(today - timedelta(days=200)))
    await _recompute(app, tenant_a)
    m = await _metrics(api, tenant_a, c["customer_id"])
    assert m["dormant"] is True and m["days_since_last_order"] == 200
    assert m["f2"] == {"status": "not_converted", "days_to_second_purchase": None, "window_days": 90}
    await api.put("/v1/analytics/settings", json={"dormant_after_days": 365, "f2_window_days": 365},
                  headers=tenant_a.auth)
    m = await _metrics(api, tenant_a, c["customer_id"])  # read-time: no recompute needed
    assert m["dormant"] is False and m["f2"]["status"] == "pending"


async def test_a_merged_customer_id_reads_the_surviving_customers_metrics(api, app, tenant_a):
    day = _today() - timedelta(days=10)
    a = await _place(api, tenant_a, {"external_id": "keep"}, _jst(day))
    b = await _place(api, tenant_a, {"external_id": "gone"}, _jst(day - timedelta(days=3)))
    r = await api.post(f"/v1/customers/{a['customer_id']}/merge", json={"source_customer_id": b["customer_id"]},
                       headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    await _recompute(app, tenant_a)
    via_old = await api.get(f"/v1/customers/{b['customer_id']}/metrics", headers=tenant_a.auth)
    assert via_old.status_code == 200
    assert via_old.json()["customer_id"] == a["customer_id"] and via_old.json()["orders"] == 2
    assert via_old.headers["Content-Location"] == f"/v1/customers/{a['customer_id']}/metrics"


# -- recompute job, jobs, incremental ---------------------------------------------------------------

async def test_recompute_job_runs_on_the_worker_and_jobs_are_tenant_scoped(api, tenant_a, tenant_b, settings,
                                                                         database_url, engine):
    day = _today() - timedelta(days=5)
    placed = [await _place(api, tenant_a, {"external_id": f"c{i}"}, _jst(day), price=1000 * (i + 1))
              for i in range(5)]
    r = await api.post("/v1/analytics/recompute", headers=tenant_a.auth)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued" and job["kind"] == "recompute" and r.headers["Location"] == f"/v1/jobs/{job['id']}"
    # while it is queued, asking again returns the same job
    assert (await api.post("/v1/analytics/recompute", headers=tenant_a.auth)).json()["id"] == job["id"]
    assert (await api.get(f"/v1/jobs/{job['id']}", headers=tenant_b.auth)).status_code == 404
    await _run_worker(settings, database_url, engine, tenant_a)
    done = (await api.get(f"/v1/jobs/{job['id']}", headers=tenant_a.auth)).json()
    assert done["status"] == "succeeded" and done["progress"] == 1.0 and done["result"]["customers"] == 5
    scores = [(await _metrics(api, tenant_a, p["customer_id"]))["rfm"]["m"] for p in placed]
    assert scores == [1, 2, 3, 4, 5]
    assert (await api.get(f"/v1/jobs/{UUID(int=1)}", headers=tenant_a.auth)).status_code == 404


async def test_an_order_queues_a_refresh_that_updates_only_that_customer(api, app, tenant_a, settings, database_url,
                                                                       engine):
    day = _today() - timedelta(days=30)
    one = await _place(api, tenant_a, {"external_id": "inc-1"}, _jst(day), price=1000)
    two = await _place(api, tenant_a, {"external_id": "inc-2"}, _jst(day), price=5000)
    await _recompute(app, tenant_a)
    await _run_worker(settings, database_url, engine, tenant_a)  # drain the refreshes of the orders above
    assert (await _metrics(api, tenant_a, one["customer_id"]))["orders"] == 1

    await _place(api, tenant_a, {"id": one["customer_id"]}, _jst(_today() - timedelta(days=2)), price=2000)
    async with engine.connect() as conn:
        queued = (await conn.execute(text(
            "SELECT count(*) FROM control.procrastinate_jobs WHERE task_name = :t AND status = 'todo'"
            " AND args->>'tenant_id' = :tenant"), {"t": REFRESH_TASK, "tenant": tenant_a.id})).scalar()
    assert queued == 1
    other_before = await _metrics(api, tenant_a, two["customer_id"])
    await _run_worker(settings, database_url, engine, tenant_a)
    m = await _metrics(api, tenant_a, one["customer_id"])
    assert (m["orders"], m["purchase_occasions"], m["revenue"]) == (2, 2, 3000)
    assert m["f2"]["status"] == "converted" and m["f2"]["days_to_second_purchase"] == 28
    # scored against the last recompute's edges: revenues 1000 and 5000 scored M 2 and 4 (mid-ranks
    # of two), so 3000 is still a 2; both last days were tied at R 3, and a later day stays 3
    # (only scores that some customer got have an edge) until the next recompute
    assert (m["rfm"]["r"], m["rfm"]["m"]) == (3, 2)
    assert await _metrics(api, tenant_a, two["customer_id"]) == other_before
    # the incremental row equals what a full recompute gives when the edges do not move
    await _recompute(app, tenant_a)
    full = await _metrics(api, tenant_a, one["customer_id"])
    for key in ("orders", "purchase_occasions", "revenue", "gross_profit", "formula_ltv", "f2", "first_order_at",
                "last_order_at"):
        assert full[key] == m[key], key


async def test_a_refresh_waiting_for_another_reads_the_orders_committed_meanwhile(api, app, tenant_a, engine):
    """Two refresh jobs of one customer must not leave the older picture: a refresh takes the
    customer's refresh lock before it reads. Here another session holds that lock (a refresh in
    progress), an order commits meanwhile, and the waiting refresh must count it."""
    ref = _ref(tenant_a)
    first = await _place(api, tenant_a, {"external_id": "lock-1"}, _jst(_today() - timedelta(days=9)), price=1000)
    customer = UUID(first["customer_id"])
    async with engine.connect() as holder:
        await holder.begin()
        await holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(ref.schema, customer)})
        waiting = asyncio.create_task(refresh_customer_metrics(
            session=SqlMetricsRefresh(engine, ref.schema), clock=SystemClock(), timezone=ref.timezone,
            customer_id=customer))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # blocked on the lock, not computed from what it saw before
        await _place(api, tenant_a, {"id": str(customer)}, _jst(_today() - timedelta(days=1)), price=2000)
        await holder.rollback()
    refreshed = await asyncio.wait_for(waiting, timeout=10)
    assert refreshed is not None and (refreshed.purchases.orders, refreshed.purchases.revenue) == (2, 3000)
    assert (await _metrics(api, tenant_a, str(customer)))["orders"] == 2


# -- RFM distribution -------------------------------------------------------------------------------

async def test_rfm_distribution_sums_to_the_whole_and_lists_every_segment(api, app, tenant_a, tenant_b):
    today = _today()
    for i in range(20):
        who = {"external_id": f"r{i}"}
        first = await _place(api, tenant_a, who, _jst(today - timedelta(days=100 + i)), price=500 + 100 * i)
        for k in range(i % 4):
            await _place(api, tenant_a, {"id": first["customer_id"]}, _jst(today - timedelta(days=3 * i + k)))
    await _recompute(app, tenant_a)
    r = await api.get("/v1/analytics/rfm", headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["customers"] == 20 and body["unscored_customers"] == 0
    assert sum(s["customers"] for s in body["segments"]) == 20
    assert sum(c["customers"] for c in body["cells"]) == 20
    assert sum(s["revenue"] for s in body["segments"]) == body["revenue"]
    assert math.isclose(sum(s["customer_share"] for s in body["segments"]), 1.0, abs_tol=1e-5)
    assert math.isclose(sum(c["revenue_share"] for c in body["cells"]), 1.0, abs_tol=1e-5)
    assert len(body["segments"]) == 11
    # quintiles: with 20 distinct revenues, four customers per M score
    m_counts: dict[int, int] = {}
    for c in body["cells"]:
        m_counts[c["m"]] = m_counts.get(c["m"], 0) + c["customers"]
    assert m_counts == {1: 4, 2: 4, 3: 4, 4: 4, 5: 4}
    empty = (await api.get("/v1/analytics/rfm", headers=tenant_b.auth)).json()
    assert empty["customers"] == 0 and all(s["customers"] == 0 for s in empty["segments"]) and empty["cells"] == []


async def test_segment_rules_override_applies_at_the_next_recompute(api, app, tenant_a):
    await _place(api, tenant_a, {"external_id": "only"}, _jst(_today() - timedelta(days=1)))
    rules = [{"segment": "everyone", "r": [1, 5], "fm": [1, 5]}]
    assert (await api.put("/v1/analytics/settings", json={"rfm_segments": rules},
                          headers=tenant_a.auth)).status_code == 200
    await _recompute(app, tenant_a)
    body = (await api.get("/v1/analytics/rfm", headers=tenant_a.auth)).json()
    assert [(s["segment"], s["customers"]) for s in body["segments"]] == [("everyone", 1)]


# -- the CLV model ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
async def big(settings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The same database with a body limit that fits 1,000-order batches."""
    application = create_app(settings.model_copy(update={"max_body_bytes": 4 * 1024 * 1024}),
                             database_url=settings.database_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://kizuna.test") as client:
            yield client, application


def _cdnow_lines() -> list[str]:
    return CDNOW.read_text().splitlines()


async def _load_cdnow(client, tenant) -> int:
    orders = []
    for n, line in enumerate(_cdnow_lines()):
        customer, _sample, day, _cds, dollars = line.split()
        cents = round(float(dollars) * 100)
        orders.append({"order_number": f"CD-{n}", "customer": {"external_id": f"cdnow-{customer}"},
                       "ordered_at": f"{day[:4]}-{day[4:6]}-{day[6:]}T12:00:00+09:00", "channel": "ec",
                       "lines": [{"sku": "CD", "quantity": 1, "unit_price": cents, "unit_cost": 0}],
                       "total": cents})
    for start in range(0, len(orders), 1000):
        r = await client.post("/v1/orders/batch", json={"orders": orders[start:start + 1000]}, headers=tenant.auth)
        assert r.status_code == 200, r.text
        assert r.json()["rejected"] == 0, r.json()["errors"][:3]
    return len(orders)


@pytest.mark.skipif(not CDNOW.exists(), reason="the CDNOW sample is not present")
async def test_cdnow_fit_through_the_api_matches_the_published_parameters(big, tenant_a, tenant_b):
    client, _ = big
    assert await _load_cdnow(client, tenant_a) == 6919
    assert (await client.get("/v1/analytics/clv/model", headers=tenant_a.auth)).status_code == 404
    r = await client.post("/v1/analytics/clv/fit", json={"observation_end": "1997-09-30", "time_unit": "week"},
                          headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    model = r.json()
    published = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
    for name, value in published.items():
        assert model["bgnbd"][name] == pytest.approx(value, rel=0.005), name
    assert model["gamma_gamma"]["p"] == pytest.approx(6.25, rel=0.005)
    assert model["gamma_gamma"]["q"] == pytest.approx(3.74, rel=0.005)
    assert model["gamma_gamma"]["gamma"] / 100 == pytest.approx(15.44, rel=0.005)  # minor units (cents)
    assert (model["n_customers"], model["n_repeat_customers"]) == (2357, 946)
    assert model["time_unit"] == "week" and model["observation_end"] == "1997-09-30" and model["converged"]
    assert model["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    stored = await client.get("/v1/analytics/clv/model", headers=tenant_a.auth)
    assert stored.status_code == 200 and stored.json() == model
    assert (await client.get("/v1/analytics/clv/model", headers=tenant_b.auth)).status_code == 404

    # days as the unit: alpha scales by 7, the rest unchanged
    daily = (await client.post("/v1/analytics/clv/fit", json={"observation_end": "1997-09-30", "time_unit": "day"},
                               headers=tenant_a.auth)).json()
    assert daily["bgnbd"]["alpha"] == pytest.approx(7 * model["bgnbd"]["alpha"], rel=1e-3)
    assert daily["bgnbd"]["r"] == pytest.approx(model["bgnbd"]["r"], rel=1e-3)


@pytest.mark.skipif(not CDNOW.exists(), reason="the CDNOW sample is not present")
async def test_cdnow_predictions_reach_customer_metrics(big, app, tenant_a):
    client, _ = big
    await _load_cdnow(client, tenant_a)
    r = await client.post("/v1/analytics/clv/fit", json={"observation_end": "1997-09-30"}, headers=tenant_a.auth)
    assert r.status_code == 200
    await _recompute(app, tenant_a)
    found = (await client.get("/v1/customers", params={"external_id": "cdnow-00004"}, headers=tenant_a.auth)).json()
    m = await _metrics(client, tenant_a, found["data"][0]["id"])
    assert 0 <= m["p_alive"] <= 1 and m["expected_purchases"] >= 0 and m["predicted_clv"] >= 0
    assert m["expected_average_order_value"] > 0


async def test_fit_refuses_too_little_data_and_bad_requests(api, tenant_a):
    for i in range(3):
        await _place(api, tenant_a, {"external_id": f"few{i}"}, _jst(_today() - timedelta(days=10 + i)))
    r = await api.post("/v1/analytics/clv/fit", json={}, headers=tenant_a.auth)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "not_enough_data" and body["minimum"] == 20 and body["actual"] == 3
    assert "at least 20" in body["detail"]
    future = (_today() + timedelta(days=2)).isoformat()
    r = await api.post("/v1/analytics/clv/fit", json={"observation_end": future}, headers=tenant_a.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "observation_end"
    for bad in ({"time_unit": "month"}, {"observation_end": "30/09/1997"}, {"observation_end": 19970930},
                {"extra": 1}):
        assert (await api.post("/v1/analytics/clv/fit", json=bad, headers=tenant_a.auth)).status_code == 422, bad
    assert (await api.get("/v1/analytics/clv/model", headers=tenant_a.auth)).status_code == 404


# -- edge cases of issue 5 --------------------------------------------------------------------------

async def test_tenant_without_orders(api, app, tenant_a):
    made = await api.post("/v1/customers", json={"email": "noone@example.jp"}, headers=tenant_a.auth)
    result = await _recompute(app, tenant_a)
    assert result["customers"] == 0
    m = await _metrics(api, tenant_a, made.json()["id"])
    assert (m["orders"], m["revenue"], m["rfm"], m["dormant"], m["f2"]) == (0, 0, None, False, None)
    fit = await api.post("/v1/analytics/clv/fit", json={}, headers=tenant_a.auth)
    assert fit.status_code == 422 and fit.json()["code"] == "not_enough_data"


async def test_one_order(api, app, tenant_a):
    c = await _place(api, tenant_a, {"external_id": "solo"}, _jst(_today(), 0))
    await _recompute(app, tenant_a)
    m = await _metrics(api, tenant_a, c["customer_id"])
    assert (m["orders"], m["days_since_last_order"], m["f2"]["status"]) == (1, 0, "pending")
    assert m["rfm"]["segment"] == "need_attention"


async def test_all_one_time_buyers_all_on_one_day(api, app, tenant_a):
    day = _today() - timedelta(days=40)
    ids = [(await _place(api, tenant_a, {"external_id": f"one{i}"}, _jst(day), price=1000))["customer_id"]
           for i in range(25)]
    await _recompute(app, tenant_a)
    rfms = [(await _metrics(api, tenant_a, i))["rfm"] for i in ids]
    assert all(x == {"r": 3, "f": 3, "m": 3, "segment": "need_attention"} for x in rfms)  # ties: one score
    fit = await api.post("/v1/analytics/clv/fit", json={}, headers=tenant_a.auth)
    assert fit.status_code == 422 and fit.json()["code"] == "not_enough_data"
    assert fit.json()["what"] == "repeat customers"


async def test_refunds_cancelling_every_order(api, app, tenant_a):
    c = await _place(api, tenant_a, {"external_id": "refunder"}, _jst(_today() - timedelta(days=3)), price=1500)
    assert (await api.post(f"/v1/orders/{c['id']}/refunds", json={"amount": 1500},
                           headers=tenant_a.auth)).status_code == 201
    await _place(api, tenant_a, {"id": c["customer_id"]}, _jst(_today() - timedelta(days=2)), status="cancelled")
    await _recompute(app, tenant_a)
    m = await _metrics(api, tenant_a, c["customer_id"])
    assert (m["orders"], m["revenue"], m["gross_profit"], m["rfm"]) == (0, 0, 0, None)
    assert (await api.get("/v1/analytics/rfm", headers=tenant_a.auth)).json()["customers"] == 0


async def _insert_orders(engine, tenant, customer_id: str, times: list[datetime], price: int = 1000) -> None:
    schema = f"t_{tenant.slug}"
    async with engine.begin() as conn:
        await conn.execute(text(
            f'INSERT INTO "{schema}".orders (id, order_number, customer_id, ordered_at, currency, subtotal,'
            " discount_total, shipping_total, total, cost_total, channel, status, created_at, updated_at)"
            " SELECT gen_random_uuid(), 'BULK-' || gen_random_uuid(), CAST(:c AS uuid), t, 'JPY', CAST(:p AS bigint), 0, 0,"
            " CAST(:p AS bigint), CAST(:p AS bigint) / 2, 'ec', 'placed', now(), now() FROM unnest(CAST(:times AS timestamptz[])) AS t"),
            {"c": customer_id, "times": times, "p": price})


async def test_thousands_of_orders_per_customer_and_future_dated_orders(api, app, tenant_a, engine):
    c = await _place(api, tenant_a, {"external_id": "whale"}, _jst(_today() - timedelta(days=3000)))
    now = datetime.now(UTC)
    times = [now - timedelta(days=3000) + timedelta(hours=17 * k) for k in range(4000)]
    await _insert_orders(engine, tenant_a, c["customer_id"], [t for t in times if t < now])
    future = [now + timedelta(days=5), now + timedelta(days=400)]
    await _insert_orders(engine, tenant_a, c["customer_id"], future, price=99999)
    await _recompute(app, tenant_a)
    m = await _metrics(api, tenant_a, c["customer_id"])
    kept = [t for t in times if t < now]
    assert m["orders"] == len(kept) + 1
    assert m["revenue"] == 1000 * (len(kept) + 1)  # the future-dated orders are not counted
    local_days = {t.astimezone(TOKYO).date() for t in kept} | {_today() - timedelta(days=3000)}
    assert m["purchase_occasions"] == len(local_days)
    assert datetime.fromisoformat(m["last_order_at"]) <= now


async def test_no_nan_in_json_with_a_model_and_degenerate_customers(api, app, tenant_a, engine):
    """A model with q < 1 cannot value one-time buyers' spend: null, never NaN."""
    c = await _place(api, tenant_a, {"external_id": "x"}, _jst(_today() - timedelta(days=3)))
    schema = f"t_{tenant_a.slug}"
    async with engine.begin() as conn:
        await conn.execute(text(
            f'INSERT INTO "{schema}".clv_models VALUES (gen_random_uuid(), 0.2, 4, 0.8, 2.4, 6, 0.5, 15, -1, -1,'
            " 20, 5, 10, 0, 'week', '2026-01-01', true, 10, now())"))
    await _recompute(app, tenant_a)
    r = await api.get(f"/v1/customers/{c['customer_id']}/metrics", headers=tenant_a.auth)
    assert "NaN" not in r.text and "Infinity" not in r.text
    body = r.json()
    assert body["p_alive"] == 1.0 and body["expected_average_order_value"] is None and body["predicted_clv"] is None
    assert json.loads(r.text) == body


# -- large tenants: the fit as a job; the SQL agrees with the domain's definitions -------------------

@pytest.mark.skipif(not CDNOW.exists(), reason="the CDNOW sample is not present")
async def test_a_large_tenants_fit_is_a_job_then_the_model_is_served(big, tenant_a, tenant_b, settings,
                                                                     database_url, monkeypatch, engine):
    import domain.analytics.services as services

    client, _ = big
    await _load_cdnow(client, tenant_a)
    monkeypatch.setattr(services, "SYNC_FIT_MAX_CUSTOMERS", 100)
    r = await client.post("/v1/analytics/clv/fit", json={"observation_end": "1997-09-30"}, headers=tenant_a.auth)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "clv_fit" and job["params"] == {"observation_end": "1997-09-30", "time_unit": "week"}
    assert (await client.get(f"/v1/jobs/{job['id']}", headers=tenant_b.auth)).status_code == 404
    await _run_worker(settings, database_url, engine, tenant_a, refreshes=False)
    done = (await client.get(f"/v1/jobs/{job['id']}", headers=tenant_a.auth)).json()
    assert done["status"] == "succeeded", done
    model = (await client.get("/v1/analytics/clv/model", headers=tenant_a.auth)).json()
    assert done["result"]["model_id"] == model["id"]
    assert model["bgnbd"]["r"] == pytest.approx(0.2426, rel=0.005)


async def test_a_fit_job_the_data_cannot_support_fails_with_the_reason(api, tenant_a, settings, database_url,
                                                                      monkeypatch, engine):
    import domain.analytics.services as services

    await _place(api, tenant_a, {"external_id": "lonely"}, _jst(_today() - timedelta(days=4)))
    monkeypatch.setattr(services, "SYNC_FIT_MAX_CUSTOMERS", 0)
    job = (await api.post("/v1/analytics/clv/fit", json={}, headers=tenant_a.auth)).json()
    await _run_worker(settings, database_url, engine, tenant_a)
    done = (await api.get(f"/v1/jobs/{job['id']}", headers=tenant_a.auth)).json()
    assert done["status"] == "failed"
    assert done["error"]["code"] == "not_enough_data" and done["error"]["minimum"] == 20


async def test_sql_scores_and_summary_equal_the_domain_definitions(api, app, tenant_a, engine):
    """Random orders with many ties, through the set-based SQL, against rfm.quintile_scores and
    summary.summarise_purchases on the same orders."""
    from domain.analytics.rfm import quintile_scores
    from domain.analytics.summary import TimeUnit, summarise_purchases

    rng = np.random.default_rng(5)
    now = datetime.now(UTC)
    customers = [(await _place(api, tenant_a, {"external_id": f"q{i}"}, _jst(_today() - timedelta(days=400))))
                 for i in range(60)]
    rows = []
    for c in customers:
        for _ in range(int(rng.integers(0, 6))):
            rows.append((c["customer_id"], now - timedelta(hours=int(rng.integers(1, 24 * 300))),
                         int(rng.choice([500, 1000, 1500]))))
    for cid, when, price in rows:
        await _insert_orders(engine, tenant_a, cid, [when], price=price)
    await _recompute(app, tenant_a)
    async with engine.connect() as conn:
        stored = (await conn.execute(text(
            f'SELECT customer_id, last_day, occasions, revenue, r, f, m FROM "t_{tenant_a.slug}".customer_metrics'
            " ORDER BY customer_id"))).all()
    epoch = date(1970, 1, 1)
    assert [s.r for s in stored] == quintile_scores([(s.last_day - epoch).days for s in stored]).tolist()
    assert [s.f for s in stored] == quintile_scores([s.occasions for s in stored]).tolist()
    assert [s.m for s in stored] == quintile_scores([s.revenue for s in stored]).tolist()

    all_orders = [(c["customer_id"], datetime.fromisoformat(c["ordered_at"]), 1000) for c in customers] + rows
    summary = summarise_purchases([o[0] for o in all_orders],
                                  [o[1].astimezone(TOKYO).date() for o in all_orders],
                                  [o[2] for o in all_orders], observation_end=_today(), time_unit=TimeUnit.DAY)
    ref = _ref(tenant_a)
    uow = app.state.wiring.uow_factory(ref, read_only=True)
    async with uow:
        x, t_x, big_t, m = await uow.customer_metrics.purchase_summary(observation_end=_today(),
                                                                       timezone="Asia/Tokyo", now=now)
    order = np.argsort([str(i) for i in summary.customer_ids])
    assert x.tolist() == summary.frequency[order].tolist()
    assert t_x.tolist() == summary.recency[order].tolist() and big_t.tolist() == summary.age[order].tolist()
    assert m == pytest.approx(summary.monetary_value[order])


async def test_the_nightly_task_queues_one_recompute_per_tenant_at_3am_local(app, tenant_a, engine):
    from infra.analytics.tasks import queue_nightly

    three_am_tokyo = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # 03:00 on the 24th in Tokyo
    noon_tokyo = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

    async def jobs() -> list[Any]:
        async with engine.connect() as conn:
            return (await conn.execute(text(
                f'SELECT kind, status, created_by FROM "t_{tenant_a.slug}".analytics_jobs'))).all()

    assert (await queue_nightly(engine, app.state.caches, app.state.bus, noon_tokyo))["queued"] == 0
    assert await jobs() == []
    first = await queue_nightly(engine, app.state.caches, app.state.bus, three_am_tokyo)
    assert first["queued"] >= 1
    assert [tuple(j) for j in await jobs()] == [("recompute", "queued", "kizuna:nightly")]
    await queue_nightly(engine, app.state.caches, app.state.bus, three_am_tokyo)  # still queued: no second
    assert len(await jobs()) == 1
