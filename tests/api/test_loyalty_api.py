"""Loyalty over HTTP: programs, rules, enrolment, points from orders (through the job queue),
refund clawbacks, redemptions, rewards, adjustments, simulation; two tenants throughout."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import text

from domain.auth.model import TenantRef
from domain.loyalty.services import earn_for_order
from domain.shared.clock import SystemClock
from infra.jobs import job_app
from infra.loyalty.tasks import LOYALTY_QUEUE
from infra.settings import Settings

PROGRAM = {"name": "Kizuna Points", "earn_rate": {"points": 1, "per_amount": 100},
           "tiers": [{"name": "Regular", "threshold": 0}, {"name": "Silver", "threshold": 50},
                     {"name": "Gold", "threshold": 500, "multiplier": 2}]}


async def work(engine, database_url: str, tenant) -> None:
    """Run `tenant`'s queued loyalty jobs, as `kizuna worker` would. Every order and event batch of
    the whole session queues a loyalty job; other tenants' are dropped first (only these tests run
    this queue), or the first test here would work through thousands of them."""
    async with engine.begin() as conn:
        await conn.execute(text(
            "DELETE FROM control.procrastinate_jobs WHERE queue_name = :q AND status = 'todo'"
            " AND args->>'tenant_id' <> :tenant"), {"q": LOYALTY_QUEUE, "tenant": tenant.id})
    async with job_app(Settings(), database_url) as jobs:
        await jobs.run_worker_async(queues=[LOYALTY_QUEUE], wait=False, install_signal_handlers=False)


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def program(api, tenant, **overrides: Any) -> dict[str, Any]:
    r = await api.post("/v1/loyalty/programs", json={**PROGRAM, **overrides}, headers=tenant.auth)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def enrol(api, tenant, program_id: str, email: str) -> dict[str, Any]:
    r = await api.post(f"/v1/loyalty/programs/{program_id}/members", json={"customer": {"email": email}},
                       headers=tenant.auth)
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


async def order(api, tenant, email: str, lines: list[tuple[str, int, int]], *, shipping: int = 0,
                discount: int = 0, channel: str = "ec") -> dict[str, Any]:
    total = sum(q * p for _, q, p in lines) - discount + shipping
    r = await api.post("/v1/orders", headers=tenant.auth, json={
        "order_number": "EC-" + secrets.token_hex(6), "customer": {"email": email},
        "ordered_at": _ago(hours=1), "channel": channel, "shipping_total": shipping,
        "discount_total": discount, "total": total,
        "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines]})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def member(api, tenant, member_id: str) -> dict[str, Any]:
    r = await api.get(f"/v1/loyalty/members/{member_id}", headers=tenant.auth)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def adjust(api, tenant, member_id: str, points: int, reason: str = "welcome gift", **headers: str):
    return await api.post(f"/v1/loyalty/members/{member_id}/transactions",
                          json={"kind": "adjust", "points": points, "reason": reason},
                          headers={**tenant.auth, **headers})


async def test_program_lifecycle_and_tenant_isolation(api, tenant_a, tenant_b):
    created = await program(api, tenant_a, expiry={"policy": "end_of_month_after", "months": 12},
                            pending_days=14)
    assert created["currency"] == "JPY" and created["expiry"] == {"policy": "end_of_month_after", "months": 12}
    assert [t["name"] for t in created["tiers"]] == ["Regular", "Silver", "Gold"]
    url = f"/v1/loyalty/programs/{created['id']}"
    got = await api.get(url, headers=tenant_a.auth)
    assert got.status_code == 200 and got.json() == created
    assert (await api.get(url, headers=tenant_b.auth)).status_code == 404
    assert (await api.patch(url, json={"name": "x"}, headers=tenant_b.auth)).status_code == 404
    listed = (await api.get("/v1/loyalty/programs", headers=tenant_b.auth)).json()
    assert created["id"] not in [p["id"] for p in listed["data"]]

    stale = await api.patch(url, json={"pending_days": 7}, headers={**tenant_a.auth, "If-Match": '"v9"'})
    assert stale.status_code == 412
    changed = await api.patch(url, json={"pending_days": 7}, headers={**tenant_a.auth, "If-Match": got.headers["ETag"]})
    assert changed.status_code == 200 and changed.json()["pending_days"] == 7
    assert changed.headers["ETag"] != got.headers["ETag"]
    refused = await api.patch(url, json={"currency": "USD"}, headers=tenant_a.auth)
    assert refused.status_code == 422


async def test_invalid_programs_are_refused_with_the_fields_named(api, tenant_a):
    cases = [
        ({"expiry": {"policy": "months_after_earn"}}, "expiry.months"),
        ({"tiers": [{"name": "Gold", "threshold": 500}, {"name": "Silver", "threshold": 50}]}, "tiers"),
        ({"tiers": [{"name": "Silver", "threshold": 10}]}, "tiers.0.threshold"),
        ({"tiers": [{"name": "A", "threshold": 0}, {"name": "B", "threshold": 5, "basis": "spend"}]}, "tiers"),
        ({"currency": "USD"}, "currency"),
        ({"earn_rate": {"points": 0, "per_amount": 100}}, "earn_rate.points"),
    ]
    for overrides, field in cases:
        r = await api.post("/v1/loyalty/programs", json={**PROGRAM, **overrides}, headers=tenant_a.auth)
        assert r.status_code == 422, (overrides, r.text)
        body = r.json()
        assert body["type"].endswith("/invalid-input")
        assert field in [e["field"] for e in body["errors"]], (field, body)


async def test_enrolment_is_idempotent_per_customer_and_isolated(api, tenant_a, tenant_b):
    p = await program(api, tenant_a)
    first = await api.post(f"/v1/loyalty/programs/{p['id']}/members",
                           json={"customer": {"email": "Hanako@Example.jp"}}, headers=tenant_a.auth)
    assert first.status_code == 201, first.text
    again = await api.post(f"/v1/loyalty/programs/{p['id']}/members",
                           json={"customer": {"email": "hanako@example.jp"}}, headers=tenant_a.auth)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    m = first.json()
    assert m["balances"]["active"] == 0 and m["lifetime_points"] == 0
    assert m["tier"]["name"] == "Regular"
    assert m["next_tier"] == {"name": "Silver", "threshold": 50, "missing": 50}
    assert (await api.get(f"/v1/loyalty/members/{m['id']}", headers=tenant_b.auth)).status_code == 404
    other = await api.post(f"/v1/loyalty/programs/{p['id']}/members",
                           json={"customer": {"email": "x@example.jp"}}, headers=tenant_b.auth)
    assert other.status_code == 404
    history = (await api.get(f"/v1/loyalty/members/{m['id']}/tier-history", headers=tenant_a.auth)).json()
    assert [(c["from_tier"], c["to_tier"], c["reason"]) for c in history["data"]] == [(None, "Regular", "enrolled")]


async def test_orders_earn_points_rule_by_rule_and_refunds_claw_back(app, api, engine, tenant_a, tenant_b,
                                                                   database_url):
    p = await program(api, tenant_a)
    await api.post("/v1/products", headers=tenant_a.auth, json={
        "sku": "TEA-1", "name": "ほうじ茶", "price": 1000, "category_path": ["食品", "お茶"]})
    rule = await api.post(f"/v1/loyalty/programs/{p['id']}/earning-rules", headers=tenant_a.auth, json={
        "name": "Tea x3", "multiplier": 3, "conditions": {"categories": ["食品/お茶"]}})
    assert rule.status_code == 201, rule.text
    first = await api.post(f"/v1/loyalty/programs/{p['id']}/earning-rules", headers=tenant_a.auth, json={
        "name": "First purchase", "trigger": "first_purchase", "points": 100})
    assert first.status_code == 201, first.text
    m = await enrol(api, tenant_a, p["id"], "buyer@example.jp")
    # 2 teas (2,000) + a mug (1,000) - 300 discount + 500 shipping: eligible 2,700 (no shipping).
    placed = await order(api, tenant_a, "buyer@example.jp", [("TEA-1", 2, 1000), ("MUG-1", 1, 1000)],
                         shipping=500, discount=300)
    await work(engine, database_url, tenant_a)
    entries = (await api.get(f"/v1/loyalty/members/{m['id']}/transactions", headers=tenant_a.auth)).json()["data"]
    by_reason = {e["reason"]: e["points"] for e in entries}
    # base 27; tea lines' eligible share is 1,800 of 2,700 -> 18 x (3 - 1) = 36; first purchase 100
    assert by_reason == {"1 pt per 100 spent": 27, "Tea x3": 36, "First purchase": 100}
    assert all(e["source"] == {"type": "order", "id": placed["id"]} for e in entries)
    after = await member(api, tenant_a, m["id"])
    assert after["balances"]["active"] == 163 and after["lifetime_points"] == 163
    assert after["tier"]["name"] == "Silver"  # 163 earned >= 50: upgraded at once

    # The job run again (procrastinate may run a job twice) changes nothing.
    ref = TenantRef(id=UUID(tenant_a.id), slug=tenant_a.slug, schema=f"t_{tenant_a.slug}",
                    timezone="Asia/Tokyo", currency="JPY")
    again = await earn_for_order(uow=app.state.wiring.uow_factory(ref), clock=SystemClock(),
                                 order_id=UUID(placed["id"]), timezone="Asia/Tokyo")
    assert again == []
    assert (await member(api, tenant_a, m["id"]))["balances"]["active"] == 163

    refund = await api.post(f"/v1/orders/{placed['id']}/refunds", json={"amount": 1600}, headers=tenant_a.auth)
    assert refund.status_code == 201, refund.text
    await work(engine, database_url, tenant_a)
    # 1,600 of 3,200 refunded: half of the 163 points, rounded down = 81
    partial = await member(api, tenant_a, m["id"])
    assert partial["balances"]["active"] == 163 - 81 and partial["lifetime_points"] == 82
    rest = await api.post(f"/v1/orders/{placed['id']}/refunds", json={"amount": 1600}, headers=tenant_a.auth)
    assert rest.status_code == 201, rest.text
    await work(engine, database_url, tenant_a)
    final = await member(api, tenant_a, m["id"])
    assert final["balances"]["active"] == 0 and final["lifetime_points"] == 0
    reversals = (await api.get(f"/v1/loyalty/members/{m['id']}/transactions", params={"kind": "reverse"},
                               headers=tenant_a.auth)).json()["data"]
    assert sorted(e["points"] for e in reversals) == [-82, -81]
    assert final["tier"]["name"] == "Silver"  # downgrades wait for the scheduled evaluation
    assert (await api.get(f"/v1/loyalty/members/{m['id']}/transactions", headers=tenant_b.auth)).status_code == 404


async def test_redemption_spends_first_expiring_lots_and_409s_when_short(api, tenant_a, tenant_b):
    p = await program(api, tenant_a, expiry={"policy": "months_after_earn", "months": 6})
    m = await enrol(api, tenant_a, p["id"], "spender@example.jp")
    assert (await adjust(api, tenant_a, m["id"], 300)).status_code == 201
    assert (await adjust(api, tenant_a, m["id"], 200)).status_code == 201

    short = await api.post(f"/v1/loyalty/members/{m['id']}/redemptions", json={"points": 501},
                           headers=tenant_a.auth)
    assert short.status_code == 409
    body = short.json()
    assert body["code"] == "insufficient_points" and body["available"] == 500 and body["requested"] == 501
    assert body["type"].endswith("/insufficient-points")

    key = {"Idempotency-Key": "redeem-" + secrets.token_hex(4)}
    made = await api.post(f"/v1/loyalty/members/{m['id']}/redemptions", json={"points": 400},
                          headers={**tenant_a.auth, **key})
    assert made.status_code == 201, made.text
    replay = await api.post(f"/v1/loyalty/members/{m['id']}/redemptions", json={"points": 400},
                            headers={**tenant_a.auth, **key})
    assert replay.status_code == 201 and replay.json()["id"] == made.json()["id"]
    after = await member(api, tenant_a, m["id"])
    assert (after["balances"]["active"], after["balances"]["spent"]) == (100, 400)
    redeem = (await api.get(f"/v1/loyalty/members/{m['id']}/transactions", params={"kind": "redeem"},
                            headers=tenant_a.auth)).json()["data"]
    assert len(redeem) == 1 and sum(lot["points"] for lot in redeem[0]["lots"]) == 400
    assert (await api.get(f"/v1/loyalty/redemptions/{made.json()['id']}", headers=tenant_b.auth)).status_code == 404
    for bad in ({"points": 0}, {"points": -5}, {}, {"points": 1, "hold_seconds": 60}):
        r = await api.post(f"/v1/loyalty/members/{m['id']}/redemptions", json=bad, headers=tenant_a.auth)
        assert r.status_code == 422, (bad, r.text)


async def test_reservations_confirm_or_cancel_back_to_the_same_lots(api, tenant_a, tenant_b):
    p = await program(api, tenant_a)
    m = await enrol(api, tenant_a, p["id"], "reserver@example.jp")
    await adjust(api, tenant_a, m["id"], 1000)
    held = await api.post(f"/v1/loyalty/members/{m['id']}/redemptions",
                          json={"points": 600, "reserve": True, "hold_seconds": 600}, headers=tenant_a.auth)
    assert held.status_code == 201 and held.json()["status"] == "reserved"
    assert (await member(api, tenant_a, m["id"]))["balances"]["active"] == 400
    rid = held.json()["id"]
    assert (await api.post(f"/v1/loyalty/redemptions/{rid}/cancel", headers=tenant_b.auth)).status_code == 404
    cancelled = await api.post(f"/v1/loyalty/redemptions/{rid}/cancel", headers=tenant_a.auth)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await api.post(f"/v1/loyalty/redemptions/{rid}/cancel", headers=tenant_a.auth)).json()["status"] == "cancelled"
    restored = await member(api, tenant_a, m["id"])
    assert (restored["balances"]["active"], restored["balances"]["spent"]) == (1000, 0)
    late = await api.post(f"/v1/loyalty/redemptions/{rid}/confirm", headers=tenant_a.auth)
    assert late.status_code == 409 and late.json()["code"] == "redemption_not_reserved"

    again = await api.post(f"/v1/loyalty/members/{m['id']}/redemptions", json={"points": 250, "reserve": True},
                           headers=tenant_a.auth)
    confirmed = await api.post(f"/v1/loyalty/redemptions/{again.json()['id']}/confirm", headers=tenant_a.auth)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    final = await api.post(f"/v1/loyalty/redemptions/{again.json()['id']}/cancel", headers=tenant_a.auth)
    assert final.status_code == 409
    assert (await member(api, tenant_a, m["id"]))["balances"]["spent"] == 250


async def test_rewards_stock_limits_and_validity(api, tenant_a, tenant_b):
    p = await program(api, tenant_a)
    url = f"/v1/loyalty/programs/{p['id']}/rewards"
    r = await api.post(url, json={"name": "500円OFF", "kind": "coupon", "points_cost": 100, "stock": 2,
                                  "per_customer_limit": 1}, headers=tenant_a.auth)
    assert r.status_code == 201, r.text
    reward = r.json()
    assert (await api.get(f"{url}/{reward['id']}", headers=tenant_b.auth)).status_code == 404
    people = [await enrol(api, tenant_a, p["id"], f"r{i}@example.jp") for i in range(3)]
    for person in people:
        await adjust(api, tenant_a, person["id"], 500)

    async def take(person: dict[str, Any]):
        return await api.post(f"/v1/loyalty/members/{person['id']}/redemptions",
                              json={"reward_id": reward["id"]}, headers=tenant_a.auth)

    assert (await take(people[0])).status_code == 201
    limited = await take(people[0])
    assert limited.status_code == 409 and limited.json()["code"] == "reward_limit_reached"
    assert (await take(people[1])).status_code == 201
    out = await take(people[2])
    assert out.status_code == 409 and out.json()["code"] == "reward_out_of_stock"
    assert (await member(api, tenant_a, people[2]["id"]))["balances"]["active"] == 500  # nothing taken
    stocked = (await api.get(f"{url}/{reward['id']}", headers=tenant_a.auth)).json()
    assert (stocked["stock"], stocked["redeemed"]) == (0, 2)
    wrong_cost = await api.post(f"/v1/loyalty/members/{people[2]['id']}/redemptions",
                                json={"reward_id": reward["id"], "points": 5}, headers=tenant_a.auth)
    assert wrong_cost.status_code in (409, 422)

    future = await api.post(url, json={"name": "Later", "kind": "gift", "points_cost": 10,
                                       "valid_from": (datetime.now(UTC) + timedelta(days=3)).isoformat()},
                            headers=tenant_a.auth)
    not_yet = await api.post(f"/v1/loyalty/members/{people[2]['id']}/redemptions",
                             json={"reward_id": future.json()["id"]}, headers=tenant_a.auth)
    assert not_yet.status_code == 409 and not_yet.json()["code"] == "reward_not_valid_now"
    bad = await api.post(url, json={"name": "x", "kind": "cash", "points_cost": 10}, headers=tenant_a.auth)
    assert bad.status_code == 422


async def test_adjustments_need_a_reason_and_cannot_overdraw(api, tenant_a):
    p = await program(api, tenant_a)
    m = await enrol(api, tenant_a, p["id"], "adjusted@example.jp")
    assert (await adjust(api, tenant_a, m["id"], 0)).status_code == 422
    assert (await adjust(api, tenant_a, m["id"], 10, reason="  ")).status_code == 422
    no_kind = await api.post(f"/v1/loyalty/members/{m['id']}/transactions", json={"kind": "earn", "points": 5,
                                                                                  "reason": "x"},
                             headers=tenant_a.auth)
    assert no_kind.status_code == 422
    key = {"Idempotency-Key": "adj-" + secrets.token_hex(4)}
    one = await adjust(api, tenant_a, m["id"], 50, **key)
    two = await adjust(api, tenant_a, m["id"], 50, **key)
    assert one.status_code == two.status_code == 201 and one.json()["id"] == two.json()["id"]
    over = await adjust(api, tenant_a, m["id"], -51, reason="correction")
    assert over.status_code == 409 and over.json()["available"] == 50
    taken = await adjust(api, tenant_a, m["id"], -20, reason="correction")
    assert taken.status_code == 201 and taken.json()["points"] == -20
    after = await member(api, tenant_a, m["id"])
    assert after["balances"]["active"] == 30 and after["lifetime_points"] == 0  # adjustments are not earnings


async def test_suspended_program_refuses_enrolment_and_redemption(api, tenant_a):
    p = await program(api, tenant_a)
    m = await enrol(api, tenant_a, p["id"], "paused@example.jp")
    await adjust(api, tenant_a, m["id"], 100)
    assert (await api.patch(f"/v1/loyalty/programs/{p['id']}", json={"status": "suspended"},
                            headers=tenant_a.auth)).status_code == 200
    r = await api.post(f"/v1/loyalty/members/{m['id']}/redemptions", json={"points": 10}, headers=tenant_a.auth)
    assert r.status_code == 409 and r.json()["code"] == "program_not_active"
    e = await api.post(f"/v1/loyalty/programs/{p['id']}/members", json={"customer": {"email": "new@example.jp"}},
                       headers=tenant_a.auth)
    assert e.status_code == 409
    assert (await member(api, tenant_a, m["id"]))["balances"]["active"] == 100  # reads still work


async def test_simulate_shows_each_rule_and_writes_nothing(api, tenant_a, tenant_b):
    p = await program(api, tenant_a)
    base = f"/v1/loyalty/programs/{p['id']}"
    await api.post(f"{base}/earning-rules", headers=tenant_a.auth, json={
        "name": "Store x2", "multiplier": 2, "conditions": {"channels": ["store"]}, "priority": 10,
        "stacking": "exclusive"})
    await api.post(f"{base}/earning-rules", headers=tenant_a.auth, json={
        "name": "Everything +50", "points": 50, "priority": 20})
    draft = {"channel": "store", "lines": [{"sku": "A", "quantity": 1, "unit_price": 5000}],
             "shipping_total": 600}
    r = await api.post(f"{base}/simulate", json=draft, headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    # exclusive rule at priority 10 stops the +50 rule; shipping earns nothing
    assert [(a["source"], a["reason"], a["points"]) for a in body["awards"]] == [
        ("base", "1 pt per 100 spent", 50), ("rule", "Store x2", 50)]
    assert body["total_points"] == 100
    ec = (await api.post(f"{base}/simulate", json={**draft, "channel": "ec"}, headers=tenant_a.auth)).json()
    assert [a["reason"] for a in ec["awards"]] == ["1 pt per 100 spent", "Everything +50"]
    gold = (await api.post(f"{base}/simulate", json={**draft, "tier": "Gold"}, headers=tenant_a.auth)).json()
    assert ("tier", 50) in [(a["source"], a["points"]) for a in gold["awards"]]
    assert (await api.post(f"{base}/simulate", json={**draft, "tier": "Bronze"}, headers=tenant_a.auth)).status_code == 422
    assert (await api.post(f"{base}/simulate", json=draft, headers=tenant_b.auth)).status_code == 404
    rules = (await api.get(f"{base}/earning-rules", headers=tenant_a.auth)).json()["data"]
    assert [x["name"] for x in rules] == ["Store x2", "Everything +50"]
    bad_rule = await api.post(f"{base}/earning-rules", headers=tenant_a.auth, json={
        "name": "both", "multiplier": 2, "points": 5})
    assert bad_rule.status_code == 422


async def test_event_rules_award_fixed_points_once_per_event(api, engine, tenant_a, database_url):
    p = await program(api, tenant_a)
    await api.post(f"/v1/loyalty/programs/{p['id']}/earning-rules", headers=tenant_a.auth, json={
        "name": "Survey thanks", "trigger": "event", "event_type": "survey_answered", "points": 30,
        "cap": {"points": 60, "period": "day"}})
    m = await enrol(api, tenant_a, p["id"], "surveyed@example.jp")
    events = [{"type": "survey_answered", "customer": {"email": "surveyed@example.jp"},
               "occurred_at": _ago(minutes=5 + i), "event_id": f"sv-{secrets.token_hex(4)}",
               "properties": {"survey_id": "s1"}} for i in range(3)]
    r = await api.post("/v1/events/batch", json={"events": events}, headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    await work(engine, database_url, tenant_a)
    after = await member(api, tenant_a, m["id"])
    assert after["balances"]["active"] == 60  # three events, capped at 60 a day
    again = await api.post("/v1/events/batch", json={"events": events}, headers=tenant_a.auth)
    assert again.status_code == 200
    await work(engine, database_url, tenant_a)
    assert (await member(api, tenant_a, m["id"]))["balances"]["active"] == 60


async def test_concurrent_redemptions_over_http_never_overdraw(api, tenant_a):
    p = await program(api, tenant_a)
    m = await enrol(api, tenant_a, p["id"], "rush@example.jp")
    await adjust(api, tenant_a, m["id"], 100)
    results = await asyncio.gather(*[
        api.post(f"/v1/loyalty/members/{m['id']}/redemptions", json={"points": 30}, headers=tenant_a.auth)
        for _ in range(8)])
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) == 3 and codes.count(409) == 5
    assert (await member(api, tenant_a, m["id"]))["balances"]["active"] == 10
