"""Entry campaigns through HTTP on real PostgreSQL, with two tenants: campaigns, entries (open and
must-buy by orders, codes, receipts), consents, limits, concurrency, the audited lottery."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.app import create_app
from domain.loyalty.campaign_model import CampaignEntered

BASE = "/v1/loyalty/campaigns"


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _now() -> datetime:
    return datetime.now(UTC)


def _email() -> str:
    return f"fan-{secrets.token_hex(5)}@example.jp"


def _campaign(**fields: Any) -> dict[str, Any]:
    now = _now()
    body = {"name": "新茶キャンペーン", "kind": "open", "status": "active",
            "starts_at": _iso(now - timedelta(days=1)), "ends_at": _iso(now + timedelta(days=1))}
    return {**body, **fields}


async def _create(api, tenant, **fields) -> dict[str, Any]:
    r = await api.post(BASE, json=_campaign(**fields), headers=tenant.auth)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _enter(api, tenant, campaign_id: str, **body: Any) -> httpx.Response:
    return await api.post(f"{BASE}/{campaign_id}/entries", json=body, headers=tenant.auth)


async def _count(engine, tenant, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f'SELECT count(*) FROM "t_{tenant.slug}".{table}'))).scalar())


class ShiftedClock:
    """The wall clock moved by `offset`: lets a test stand after a campaign's end. Tokens are still
    checked against real time, so the tenants' tokens from the main app keep working."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture(scope="module")
async def later(settings) -> AsyncIterator[tuple[httpx.AsyncClient, ShiftedClock]]:
    """The same database through an app whose clock the test moves, with a body limit that fits
    10,000 codes (the suite's settings keep 64 KiB to test the 413 path)."""
    clock = ShiftedClock()
    application = create_app(settings.model_copy(update={"max_body_bytes": 2 * 1024 * 1024}),
                             database_url=settings.database_url, clock=clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://kizuna.test") as client:
            yield client, clock


@pytest.fixture
def entered(app) -> Any:
    seen: list[tuple[Any, Any]] = []

    def handler(tenant_id, e):
        seen.append((tenant_id, e))

    app.state.bus.subscribe(CampaignEntered.name, handler)
    yield seen
    app.state.bus.subscribers[CampaignEntered.name].remove(handler)


# -- campaigns -----------------------------------------------------------------------------------


async def test_create_read_list_and_patch_with_etags_and_other_tenants_see_nothing(api, tenant_a, tenant_b):
    r = await api.post(BASE, json=_campaign(status="draft", description="抽選で100名様", winners=100,
                                            entry_limit=3), headers=tenant_a.auth)
    assert r.status_code == 201, r.text
    made = r.json()
    assert r.headers["location"] == f"{BASE}/{made['id']}" and r.headers["etag"] == '"v1"'
    assert (made["kind"], made["status"], made["entry_limit"], made["winners"]) == ("open", "draft", 3, 100)
    assert made["requirement"] is None and made["award"] is None
    got = await api.get(f"{BASE}/{made['id']}", headers=tenant_a.auth)
    assert got.status_code == 200 and got.json() == made and got.headers["etag"] == '"v1"'
    listed = (await api.get(BASE, params={"status": "draft", "limit": 200}, headers=tenant_a.auth)).json()
    assert made["id"] in [c["id"] for c in listed["data"]]

    stale = await api.patch(f"{BASE}/{made['id']}", json={"status": "active"},
                            headers={**tenant_a.auth, "If-Match": '"v9"'})
    assert stale.status_code == 412
    r = await api.patch(f"{BASE}/{made['id']}", json={"status": "active", "name": "秋のキャンペーン"},
                        headers={**tenant_a.auth, "If-Match": '"v1"'})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["name"], r.headers["etag"]) == ("active", "秋のキャンペーン", '"v2"')
    same = await api.patch(f"{BASE}/{made['id']}", json={"name": "秋のキャンペーン"}, headers=tenant_a.auth)
    assert same.headers["etag"] == '"v2"'  # nothing changed, the ETag stays valid
    back = await api.patch(f"{BASE}/{made['id']}", json={"status": "draft"}, headers=tenant_a.auth)
    assert back.status_code == 409 and back.json()["code"] == "invalid_status_transition"
    kind = await api.patch(f"{BASE}/{made['id']}", json={"kind": "must_buy"}, headers=tenant_a.auth)
    assert kind.status_code == 422  # the kind is fixed at creation

    for method, path, body in (("GET", "", None), ("PATCH", "", {"name": "x"}), ("GET", "/entries", None),
                               ("POST", "/entries", {"customer": {"email": _email()}}),
                               ("POST", "/codes", {"codes": ["ABCD1234"]}), ("POST", "/draw", {}),
                               ("GET", "/draw", None)):
        r = await api.request(method, f"{BASE}/{made['id']}{path}", json=body, headers=tenant_b.auth)
        assert r.status_code == 404, (method, path, r.text)
    listed_b = (await api.get(BASE, params={"limit": 200}, headers=tenant_b.auth)).json()
    assert made["id"] not in [c["id"] for c in listed_b["data"]]


async def test_list_pages_with_a_cursor(api, make_tenant):
    tenant = await make_tenant("cp")
    ids = [(await _create(api, tenant, name=f"c{i}"))["id"] for i in range(3)]
    first = (await api.get(BASE, params={"limit": 2}, headers=tenant.auth)).json()
    second = (await api.get(BASE, params={"limit": 2, "cursor": first["next_cursor"]}, headers=tenant.auth)).json()
    assert [c["id"] for c in first["data"] + second["data"]] == ids and second["next_cursor"] is None


def _later(days: int) -> str:
    return _iso(_now() + timedelta(days=days))


BAD_CAMPAIGNS: list[tuple[str, dict[str, Any], str]] = [
    ("ends before it starts", {"ends_at": _later(-3)}, "ends_at"),
    ("must_buy without requirement", {"kind": "must_buy"}, "requirement"),
    ("open with a requirement", {"requirement": {"proof": "orders"}}, "requirement"),
    ("amount proved by codes", {"kind": "must_buy", "requirement": {"proof": "purchase_code", "min_amount": 1000}},
     "requirement.min_amount"),
    ("both minimums", {"kind": "must_buy", "requirement": {"proof": "orders", "min_amount": 1, "min_quantity": 1}},
     "requirement"),
    ("unknown proof", {"kind": "must_buy", "requirement": {"proof": "photo"}}, "requirement.proof"),
    ("eleven codes per entry", {"kind": "must_buy", "requirement": {"proof": "purchase_code", "min_quantity": 11}},
     "requirement.min_quantity"),
    ("zero entry limit", {"entry_limit": 0}, "entry_limit"),
    ("negative winners", {"winners": -1}, "winners"),
    ("zero points", {"award": {"program_id": "0193a1b2-0000-7000-8000-000000000000", "points": 0}}, "award.points"),
    ("negative points", {"award": {"program_id": "0193a1b2-0000-7000-8000-000000000000", "points": -5}},
     "award.points"),
    ("points as a string", {"award": {"program_id": "0193a1b2-0000-7000-8000-000000000000", "points": "5"}},
     "award.points"),
    ("naive start", {"starts_at": "2026-12-01T00:00:00"}, "starts_at"),
    ("timestamp as a number", {"starts_at": 1700000000}, "starts_at"),
    ("year 1 with an offset", {"starts_at": "0001-01-01T00:00:00+09:00"}, "starts_at"),
    ("year 9999", {"ends_at": "9999-12-31T23:59:59-09:00"}, "ends_at"),
    ("unknown kind", {"kind": "lottery"}, "kind"),
    ("created closed", {"status": "closed"}, "status"),
    ("unknown field", {"prize": "tea"}, "prize"),
    ("control character in the name", {"name": "a\u0000b"}, "name"),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD_CAMPAIGNS, ids=[c[0] for c in BAD_CAMPAIGNS])
async def test_bad_campaigns_are_422_naming_the_field_and_nothing_is_stored(api, tenant_a, engine, case, change,
                                                                             field):
    before = await _count(engine, tenant_a, "entry_campaigns")
    r = await api.post(BASE, json=_campaign(**change), headers=tenant_a.auth)
    assert r.status_code == 422, r.text
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in body["errors"]], body
    assert await _count(engine, tenant_a, "entry_campaigns") == before


async def test_campaign_changes_once_entries_exist_are_limited(api, tenant_a):
    campaign = await _create(api, tenant_a, kind="must_buy", requirement={"proof": "receipt_number"})
    assert (await _enter(api, tenant_a, campaign["id"], customer={"email": _email()},
                         receipt_number="R-1")).status_code == 201
    r = await api.patch(f"{BASE}/{campaign['id']}", json={"requirement": {"proof": "orders"}}, headers=tenant_a.auth)
    assert r.status_code == 409 and r.json()["code"] == "campaign_has_entries"
    ok = await api.patch(f"{BASE}/{campaign['id']}", json={"entry_limit": 5}, headers=tenant_a.auth)
    assert ok.status_code == 200 and ok.json()["entry_limit"] == 5


# -- open campaigns: customers, consents, limits ------------------------------------------------


async def test_an_open_entry_creates_the_customer_keeps_consent_history_and_publishes(
        api, tenant_a, engine, entered):
    campaign = await _create(api, tenant_a)
    email = _email()
    r = await _enter(api, tenant_a, campaign["id"], profile={
        "email": email.upper(), "family_name": "山田", "given_name_kana": "ﾊﾅｺ"},
        consents=[{"channel": "email", "status": "granted"}, {"channel": "line", "status": "denied"}])
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["campaign_id"] == campaign["id"] and entry["proof"] == {"kind": "none"}
    assert entry["consents"] == [{"channel": "email", "status": "granted"}, {"channel": "line", "status": "denied"}]
    customer = (await api.get(f"/v1/customers/{entry['customer_id']}", headers=tenant_a.auth)).json()
    assert (customer["email"], customer["family_name"], customer["given_name_kana"]) == (email, "山田", "ハナコ")
    consents = (await api.get(f"/v1/customers/{entry['customer_id']}/consents", headers=tenant_a.auth)).json()
    assert {(c["channel"], c["status"], c["source"]) for c in consents["data"]} == {
        ("email", "granted", f"campaign:{campaign['id']}"), ("line", "denied", f"campaign:{campaign['id']}")}
    async with engine.connect() as conn:
        history = (await conn.execute(text(
            f'SELECT channel, source, actor FROM "t_{tenant_a.slug}".consent_events WHERE customer_id = :c'),
            {"c": entry["customer_id"]})).all()
    assert {(h.channel, h.source, h.actor) for h in history} == {
        ("email", f"campaign:{campaign['id']}", tenant_a.client_id),
        ("line", f"campaign:{campaign['id']}", tenant_a.client_id)}

    # the same person again, by a reference: the limit (1) is reached
    again = await _enter(api, tenant_a, campaign["id"], customer={"email": email})
    assert again.status_code == 409 and again.json()["code"] == "entry_limit_reached"
    assert again.json()["entry_limit"] == 1
    # by profile again: recognised by the email, the stored profile is not overwritten
    by_profile = await _enter(api, tenant_a, campaign["id"], profile={"email": email, "family_name": "偽名"})
    assert by_profile.status_code == 409 and by_profile.json()["customer_id"] == entry["customer_id"]
    name = (await api.get(f"/v1/customers/{entry['customer_id']}", headers=tenant_a.auth)).json()["family_name"]
    assert name == "山田"

    mine = [(tid, e) for tid, e in entered if str(e.entry_id) == entry["id"]]
    assert len(mine) == 1 and str(mine[0][0]) == tenant_a.id
    assert str(mine[0][1].customer_id) == entry["customer_id"] and mine[0][1].name == "campaign.entered"
    listed = (await api.get(f"{BASE}/{campaign['id']}/entries", headers=tenant_a.auth)).json()
    assert [x["id"] for x in listed["data"]] == [entry["id"]]


async def test_idempotency_key_replays_the_entry_without_a_second_one(api, tenant_a, engine):
    campaign = await _create(api, tenant_a, entry_limit=5)
    body = {"customer": {"email": _email()}}
    headers = {**tenant_a.auth, "Idempotency-Key": secrets.token_hex(8)}
    first = await api.post(f"{BASE}/{campaign['id']}/entries", json=body, headers=headers)
    again = await api.post(f"{BASE}/{campaign['id']}/entries", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    listed = (await api.get(f"{BASE}/{campaign['id']}/entries", headers=tenant_a.auth)).json()
    assert len(listed["data"]) == 1
    other = await api.post(f"{BASE}/{campaign['id']}/entries", json={"customer": {"email": _email()}},
                           headers=headers)
    assert other.status_code == 422  # the same key with another body


async def test_entry_limit_holds_under_concurrent_entries_of_one_customer(api, tenant_a):
    campaign = await _create(api, tenant_a, entry_limit=2)
    customer = (await api.post("/v1/customers", json={"email": _email()}, headers=tenant_a.auth)).json()
    results = await asyncio.gather(*(_enter(api, tenant_a, campaign["id"], customer={"id": customer["id"]})
                                     for _ in range(8)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 201] + [409] * 6, [r.text for r in results]
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"entry_limit_reached"}
    # the entry list pages with a cursor, and filters by customer
    other = await _enter(api, tenant_a, campaign["id"], customer={"email": _email()})
    made = sorted([r.json()["id"] for r in results if r.status_code == 201] + [other.json()["id"]])
    first = (await api.get(f"{BASE}/{campaign['id']}/entries", params={"limit": 2}, headers=tenant_a.auth)).json()
    rest = (await api.get(f"{BASE}/{campaign['id']}/entries", params={"limit": 2, "cursor": first["next_cursor"]},
                          headers=tenant_a.auth)).json()
    assert [x["id"] for x in first["data"] + rest["data"]] == made and rest["next_cursor"] is None
    theirs = (await api.get(f"{BASE}/{campaign['id']}/entries", params={"customer_id": customer["id"]},
                            headers=tenant_a.auth)).json()
    assert len(theirs["data"]) == 2 and {x["customer_id"] for x in theirs["data"]} == {customer["id"]}


async def test_entries_outside_the_period_or_status_are_409_campaign_not_open(api, tenant_a, engine):
    now = _now()
    cases = {
        "draft": await _create(api, tenant_a, status="draft"),
        "not started": await _create(api, tenant_a, starts_at=_iso(now + timedelta(hours=1)),
                                     ends_at=_iso(now + timedelta(days=2))),
        "ended": await _create(api, tenant_a, starts_at=_iso(now - timedelta(days=2)),
                               ends_at=_iso(now - timedelta(seconds=1))),
    }
    closed = await _create(api, tenant_a)
    r = await api.patch(f"{BASE}/{closed['id']}", json={"status": "closed"}, headers=tenant_a.auth)
    assert r.status_code == 200
    cases["closed"] = closed
    before = await _count(engine, tenant_a, "customers")
    for case, campaign in cases.items():
        r = await _enter(api, tenant_a, campaign["id"], customer={"email": _email()},
                         consents=[{"channel": "email", "status": "granted"}])
        assert r.status_code == 409, (case, r.text)
        assert r.json()["code"] == "campaign_not_open" and r.json()["ends_at"], case
    assert await _count(engine, tenant_a, "customers") == before  # nobody created by a refused entry


BAD_ENTRIES: list[tuple[str, dict[str, Any], str]] = [
    ("no customer", {}, "customer"),
    ("both customer and profile", {"customer": {"email": "a@example.jp"}, "profile": {"email": "a@example.jp"}},
     "customer"),
    ("two identities in the reference", {"customer": {"email": "a@example.jp", "phone": "09012345678"}},
     "customer"),
    ("profile without an identity", {"profile": {"family_name": "山田"}}, "profile"),
    ("profile with a bad email", {"profile": {"email": "not-an-email"}}, "profile.email"),
    ("unknown consent channel", {"customer": {"email": "a@example.jp"},
                                 "consents": [{"channel": "fax", "status": "granted"}]}, "consents.0.channel"),
    ("a channel twice", {"customer": {"email": "a@example.jp"}, "consents": [
        {"channel": "email", "status": "granted"}, {"channel": "email", "status": "denied"}]}, "consents.1.channel"),
    ("codes to an open campaign", {"customer": {"email": "a@example.jp"}, "purchase_codes": ["ABCD1234"]},
     "purchase_codes"),
    ("receipt to an open campaign", {"customer": {"email": "a@example.jp"}, "receipt_number": "R-1"},
     "receipt_number"),
    ("unknown field", {"customer": {"email": "a@example.jp"}, "lucky": True}, "lucky"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_ENTRIES, ids=[c[0] for c in BAD_ENTRIES])
async def test_bad_entries_are_422_and_write_nothing(api, tenant_a, engine, case, body, field):
    campaign = await _create(api, tenant_a)
    before = (await _count(engine, tenant_a, "customers"), await _count(engine, tenant_a, "entry_campaign_entries"))
    r = await _enter(api, tenant_a, campaign["id"], **body)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    after = (await _count(engine, tenant_a, "customers"), await _count(engine, tenant_a, "entry_campaign_entries"))
    assert after == before


# -- must-buy ------------------------------------------------------------------------------------


async def _order(api, tenant, email: str, lines: list[dict[str, Any]], ordered_at: datetime, **fields) -> dict:
    body = {"order_number": "EC-" + secrets.token_hex(5), "customer": {"email": email},
            "ordered_at": _iso(ordered_at), "channel": "ec", "lines": lines,
            "total": sum(x["quantity"] * x["unit_price"] for x in lines), **fields}
    r = await api.post("/v1/orders", json=body, headers=tenant.auth)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_must_buy_by_orders_counts_qualifying_kept_purchases_in_the_period(api, tenant_a, tenant_b):
    now = _now()
    sencha = "SENCHA-" + secrets.token_hex(3)
    r = await api.post("/v1/products", json={"sku": sencha, "name": "煎茶", "category_path": ["食品", "飲料", "お茶"]},
                       headers=tenant_a.auth)
    assert r.status_code == 201
    campaign = await _create(api, tenant_a, kind="must_buy", entry_limit=3, starts_at=_iso(now - timedelta(days=1)),
                             requirement={"proof": "orders", "categories": [["食品", "飲料"]], "skus": ["CUP-1"],
                                          "min_amount": 3000})
    email = _email()
    # before the period, a non-qualifying sku, a cancelled order: none of them count
    await _order(api, tenant_a, email, [{"sku": sencha, "quantity": 10, "unit_price": 1000}], now - timedelta(days=3))
    await _order(api, tenant_a, email, [{"sku": "SOAP", "quantity": 10, "unit_price": 1000}], now - timedelta(hours=1))
    await _order(api, tenant_a, email, [{"sku": sencha, "quantity": 10, "unit_price": 1000}], now - timedelta(hours=1),
                 status="cancelled")
    r = await _enter(api, tenant_a, campaign["id"], customer={"email": email})
    assert r.status_code == 409, r.text
    problem = r.json()
    assert (problem["code"], problem["qualifying_amount"], problem["min_amount"]) == (
        "purchase_requirement_not_met", 0, 3000)

    # 2 x 1000 of tea in a category under 食品 > 飲料, plus 1 x 1500 of a listed sku, in the period
    order = await _order(api, tenant_a, email, [{"sku": sencha, "quantity": 2, "unit_price": 1000},
                                                {"sku": "CUP-1", "quantity": 1, "unit_price": 1500},
                                                {"sku": "SOAP", "quantity": 5, "unit_price": 900}],
                         now - timedelta(minutes=30))
    first = await _enter(api, tenant_a, campaign["id"], customer={"email": email})
    assert first.status_code == 201, first.text
    assert first.json()["proof"] == {"kind": "orders", "qualifying_quantity": 3, "qualifying_amount": 3500}
    # 3500 pays for one entry of 3000, not two
    second = await _enter(api, tenant_a, campaign["id"], customer={"email": email})
    assert second.status_code == 409 and second.json()["code"] == "purchase_requirement_not_met"
    # returning the cup takes its value away (net of refunds)
    r = await api.post(f"/v1/orders/{order['id']}/refunds", json={"lines": [{"sku": "CUP-1", "quantity": 1}]},
                       headers=tenant_a.auth)
    assert r.status_code == 201
    await _order(api, tenant_a, email, [{"sku": sencha, "quantity": 4, "unit_price": 1000}], now - timedelta(minutes=5))
    # kept now: 2000 + 4000 = 6000 -> two entries in all
    second = await _enter(api, tenant_a, campaign["id"], customer={"email": email})
    assert second.status_code == 201, second.text
    assert second.json()["proof"]["qualifying_amount"] == 6000
    third = await _enter(api, tenant_a, campaign["id"], customer={"email": email})
    assert third.status_code == 409 and third.json()["code"] == "purchase_requirement_not_met"
    # the other tenant knows neither the campaign nor the orders
    assert (await _enter(api, tenant_b, campaign["id"], customer={"email": email})).status_code == 404


async def test_purchase_codes_upload_normalise_and_are_consumed_once(api, tenant_a, tenant_b, engine):
    campaign = await _create(api, tenant_a, kind="must_buy", entry_limit=10,
                             requirement={"proof": "purchase_code", "skus": ["TEA-1"]})
    codes = ["K7QX-2M9P-TA4D", "ｍｍｍｍ－１２３４", "BAD!", "K7QX2M9PTA4D", "ZZZZ9999"]
    r = await api.post(f"{BASE}/{campaign['id']}/codes", json={"codes": codes}, headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["received"], report["added"], report["duplicates"], report["rejected"]) == (5, 3, 1, 1)
    assert [(e["index"], e["code"]) for e in report["errors"]] == [(2, "invalid_input")]
    again = await api.post(f"{BASE}/{campaign['id']}/codes", json={"codes": ["zzzz 9999"]}, headers=tenant_a.auth)
    assert again.json()["added"] == 0 and again.json()["duplicates"] == 1
    async with engine.connect() as conn:
        stored = (await conn.execute(text(
            f'SELECT code_hash FROM "t_{tenant_a.slug}".entry_campaign_codes WHERE campaign_id = :c'),
            {"c": campaign["id"]})).scalars().all()
    assert len(stored) == 3 and not any("K7QX" in s for s in stored)  # digests, not codes

    r = await _enter(api, tenant_a, campaign["id"], customer={"email": _email()}, purchase_codes=["k7qx 2m9p ta4d"])
    assert r.status_code == 201, r.text
    assert r.json()["proof"] == {"kind": "purchase_code", "codes": 1}
    used = await _enter(api, tenant_a, campaign["id"], customer={"email": _email()}, purchase_codes=["K7QX2M9PTA4D"])
    assert used.status_code == 409 and used.json()["code"] == "code_already_used"
    unknown = await _enter(api, tenant_a, campaign["id"], customer={"email": _email()}, purchase_codes=["NOPE0000"])
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_code"
    assert unknown.json()["errors"][0]["field"] == "purchase_codes.0"
    missing = await _enter(api, tenant_a, campaign["id"], customer={"email": _email()})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "purchase_codes"
    # another tenant cannot upload to or use this campaign's codes
    assert (await _enter(api, tenant_b, campaign["id"], customer={"email": _email()},
                         purchase_codes=["MMMM1234"])).status_code == 404
    # codes for a campaign that does not take them
    open_one = await _create(api, tenant_a)
    r = await api.post(f"{BASE}/{open_one['id']}/codes", json={"codes": ["ABCD1234"]}, headers=tenant_a.auth)
    assert r.status_code == 409 and r.json()["code"] == "codes_not_accepted"


async def test_a_failed_code_step_leaves_no_customer_consent_or_consumed_code(api, tenant_a, engine):
    campaign = await _create(api, tenant_a, kind="must_buy",
                             requirement={"proof": "purchase_code", "min_quantity": 2})
    r = await api.post(f"{BASE}/{campaign['id']}/codes", json={"codes": ["GOOD0001", "GOOD0002"]},
                       headers=tenant_a.auth)
    assert r.json()["added"] == 2
    tables = ("customers", "customer_identities", "consent_events", "entry_campaign_entries")
    before = [await _count(engine, tenant_a, t) for t in tables]
    # the first code is good and consumed first; the second is unknown: everything rolls back
    r = await _enter(api, tenant_a, campaign["id"], profile={"email": _email()}, purchase_codes=["GOOD0001", "BAD00002"],
                     consents=[{"channel": "email", "status": "granted"}])
    assert r.status_code == 422 and r.json()["code"] == "unknown_code"
    assert [await _count(engine, tenant_a, t) for t in tables] == before
    ok = await _enter(api, tenant_a, campaign["id"], profile={"email": _email()}, purchase_codes=["GOOD0001", "GOOD0002"])
    assert ok.status_code == 201, ok.text  # GOOD0001 was not left consumed


async def test_concurrent_entries_with_one_code_exactly_one_wins(api, tenant_a):
    campaign = await _create(api, tenant_a, kind="must_buy", requirement={"proof": "purchase_code"})
    r = await api.post(f"{BASE}/{campaign['id']}/codes", json={"codes": ["RACE0001"]}, headers=tenant_a.auth)
    assert r.json()["added"] == 1
    results = await asyncio.gather(*(_enter(api, tenant_a, campaign["id"], customer={"email": _email()},
                                            purchase_codes=["RACE0001"]) for _ in range(10)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] + [409] * 9, [r.text for r in results]
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"code_already_used"}


async def test_receipt_numbers_are_unique_per_campaign(api, tenant_a, tenant_b):
    campaign = await _create(api, tenant_a, kind="must_buy", entry_limit=5,
                             requirement={"proof": "receipt_number"})
    email = _email()
    r = await _enter(api, tenant_a, campaign["id"], customer={"email": email}, receipt_number="r-0012 3456")
    assert r.status_code == 201 and r.json()["proof"] == {"kind": "receipt_number", "receipt_number": "R-00123456"}
    reused = await _enter(api, tenant_a, campaign["id"], customer={"email": _email()},
                          receipt_number="Ｒ－００１２３４５６")
    assert reused.status_code == 409 and reused.json()["code"] == "receipt_already_used"
    missing = await _enter(api, tenant_a, campaign["id"], customer={"email": email})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "receipt_number"
    # the same number in another campaign, and in another tenant's campaign, is free
    other = await _create(api, tenant_a, kind="must_buy", requirement={"proof": "receipt_number"})
    assert (await _enter(api, tenant_a, other["id"], customer={"email": email},
                         receipt_number="R-00123456")).status_code == 201
    theirs = await _create(api, tenant_b, kind="must_buy", requirement={"proof": "receipt_number"})
    assert (await _enter(api, tenant_b, theirs["id"], customer={"email": email},
                         receipt_number="R-00123456")).status_code == 201


async def test_code_uploads_take_up_to_10000_codes_in_one_request(later, tenant_a):
    client, _ = later
    campaign = await _create(client, tenant_a, kind="must_buy", requirement={"proof": "purchase_code"})
    codes = [f"BULK{n:08d}" for n in range(10_000)]
    r = await client.post(f"{BASE}/{campaign['id']}/codes", json={"codes": codes}, headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    assert (r.json()["added"], r.json()["rejected"]) == (10_000, 0)
    too_many = await client.post(f"{BASE}/{campaign['id']}/codes", json={"codes": [*codes, "ONEMORE1"]},
                                 headers=tenant_a.auth)
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "codes"
    entry = await _enter(client, tenant_a, campaign["id"], customer={"email": _email()}, purchase_codes=["bulk00009999"])
    assert entry.status_code == 201


# -- the lottery ---------------------------------------------------------------------------------


def _recompute(draw: dict[str, Any], customers: dict[str, str]) -> list[str]:
    """What an auditor does with GET .../draw and the entry list (docs/loyalty-campaigns.md)."""
    pool = sorted(draw["entry_ids"])
    ranked = sorted(pool, key=lambda e: (hashlib.sha256(f"{draw['seed']}:{e}".encode()).hexdigest(), e))
    won: list[str] = []
    seen: set[str] = set()
    for entry in ranked:
        if len(won) < draw["winners_wanted"] and customers[entry] not in seen:
            seen.add(customers[entry])
            won.append(entry)
    return won


async def test_the_lottery_is_drawn_once_after_the_end_recorded_and_recomputable(api, later, tenant_a, tenant_b):
    client, clock = later
    now = _now()
    campaign = await _create(api, tenant_a, winners=2, entry_limit=2, ends_at=_iso(now + timedelta(hours=1)))
    emails = [_email() for _ in range(4)]
    for email in [*emails, emails[0]]:  # the first customer enters twice: two tickets
        assert (await _enter(api, tenant_a, campaign["id"], customer={"email": email})).status_code == 201
    early = await api.post(f"{BASE}/{campaign['id']}/draw", json={"seed": "x"}, headers=tenant_a.auth)
    assert early.status_code == 409 and early.json()["code"] == "campaign_not_ended"
    assert (await api.get(f"{BASE}/{campaign['id']}/draw", headers=tenant_a.auth)).status_code == 404

    clock.offset = timedelta(hours=2)  # after the end
    try:
        r = await client.post(f"{BASE}/{campaign['id']}/draw", json={"seed": "audit-2026"}, headers=tenant_a.auth)
        assert r.status_code == 201, r.text
        draw = r.json()
        assert (draw["algorithm"], draw["seed"], draw["seed_source"]) == ("sha256-rank-v1", "audit-2026", "given")
        entries = (await client.get(f"{BASE}/{campaign['id']}/entries", headers=tenant_a.auth)).json()["data"]
        customers = {e["id"]: e["customer_id"] for e in entries}
        assert draw["entry_ids"] == sorted(customers) and draw["entry_count"] == 5
        assert draw["entry_customer_ids"] == [customers[e] for e in draw["entry_ids"]]
        assert [w["entry_id"] for w in draw["winners"]] == _recompute(draw, customers)
        assert len({w["customer_id"] for w in draw["winners"]}) == 2
        assert (await client.get(f"{BASE}/{campaign['id']}/draw", headers=tenant_a.auth)).json() == draw

        twice = await client.post(f"{BASE}/{campaign['id']}/draw", json={}, headers=tenant_a.auth)
        assert twice.status_code == 409 and twice.json()["code"] == "already_drawn"
        assert twice.json()["draw_id"] == draw["id"]
        redraw = await client.post(f"{BASE}/{campaign['id']}/draw", json={"redraw": True}, headers=tenant_a.auth)
        assert redraw.status_code == 201, redraw.text
        second = redraw.json()
        assert second["seed_source"] == "generated" and len(second["seed"]) == 64 and second["redraw_of"] == draw["id"]
        assert [w["entry_id"] for w in second["winners"]] == _recompute(second, customers)
        assert (await client.get(f"{BASE}/{campaign['id']}/draw", headers=tenant_a.auth)).json()["id"] == second["id"]
        assert (await client.post(f"{BASE}/{campaign['id']}/draw", json={}, headers=tenant_b.auth)).status_code == 404
        # entries after the end are refused
        late = await _enter(client, tenant_a, campaign["id"], customer={"email": _email()})
        assert late.status_code == 409 and late.json()["code"] == "campaign_not_open"
        # no lottery configured
        plain = await _create(api, tenant_a, ends_at=_iso(now + timedelta(minutes=30)))
        r = await client.post(f"{BASE}/{plain['id']}/draw", headers=tenant_a.auth)
        assert r.status_code == 409 and r.json()["code"] == "no_lottery"
        bad_seed = await client.post(f"{BASE}/{campaign['id']}/draw", json={"seed": "", "redraw": True},
                                     headers=tenant_a.auth)
        assert bad_seed.status_code == 422
    finally:
        clock.offset = timedelta()


async def test_a_closed_campaign_can_be_drawn_before_its_end_date(api, tenant_a):
    campaign = await _create(api, tenant_a, winners=5)
    assert (await _enter(api, tenant_a, campaign["id"], customer={"email": _email()})).status_code == 201
    assert (await api.patch(f"{BASE}/{campaign['id']}", json={"status": "closed"},
                            headers=tenant_a.auth)).status_code == 200
    r = await api.post(f"{BASE}/{campaign['id']}/draw", json={"seed": "s"}, headers=tenant_a.auth)
    assert r.status_code == 201 and len(r.json()["winners"]) == 1  # fewer entrants than prizes


# -- points awards (through the loyalty ledger) --------------------------------------------------


async def _program(app, tenant, status: str = "active") -> str:
    """A loyalty program made with the loyalty area's own use cases (its HTTP routes are wired
    separately)."""
    from uuid import UUID

    from api.schemas.loyalty import ProgramCreate
    from domain.auth.model import TenantRef
    from domain.loyalty.model import ProgramStatus
    from domain.loyalty.services import create_program, update_program
    from domain.shared.clock import SystemClock

    ref = TenantRef(id=UUID(tenant.id), slug=tenant.slug, schema=f"t_{tenant.slug}", timezone="Asia/Tokyo",
                    currency="JPY")
    factory = app.state.wiring.uow_factory
    program = await create_program(uow=factory(ref), clock=SystemClock(),
                                   terms=ProgramCreate(name="Kizuna Points").to_terms("JPY"))
    if status != "active":
        await update_program(uow=factory(ref), clock=SystemClock(), program_id=program.id,
                             changes={"status": ProgramStatus(status)}, expected_version=None)
    return str(program.id)


async def _ledger(engine, tenant, customer_id: str) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(
            f'SELECT e.kind, e.points, e.idempotency_key, e.source_type, e.source_id FROM "t_{tenant.slug}".loyalty_entries e'
            f' JOIN "t_{tenant.slug}".loyalty_members m ON m.id = e.member_id WHERE m.customer_id = :c'),
            {"c": customer_id})).all())


async def test_entries_award_points_once_through_the_ledger(api, app, engine, tenant_a, tenant_b):
    program = await _program(app, tenant_a)
    campaign = await _create(api, tenant_a, entry_limit=2, award={"program_id": program, "points": 150})
    assert campaign["award"] == {"program_id": program, "points": 150}
    headers = {**tenant_a.auth, "Idempotency-Key": secrets.token_hex(8)}
    body = {"profile": {"email": _email()}}
    first = await api.post(f"{BASE}/{campaign['id']}/entries", json=body, headers=headers)
    assert first.status_code == 201, first.text
    entry = first.json()
    assert entry["points_awarded"] == 150
    replay = await api.post(f"{BASE}/{campaign['id']}/entries", json=body, headers=headers)
    assert replay.json() == entry  # replayed: no second award
    rows = await _ledger(engine, tenant_a, entry["customer_id"])
    assert [(r.kind, r.points, r.idempotency_key, r.source_type, r.source_id) for r in rows] == [
        ("earn", 150, f"campaign:{campaign['id']}:entry:{entry['id']}", "campaign", campaign["id"])]
    second = await _enter(api, tenant_a, campaign["id"], customer={"id": entry["customer_id"]})
    assert second.status_code == 201 and second.json()["points_awarded"] == 150
    assert sum(r.points for r in await _ledger(engine, tenant_a, entry["customer_id"])) == 300

    # a program that does not exist in the tenant (another tenant's) is refused at creation
    theirs = await api.post(BASE, json=_campaign(award={"program_id": program, "points": 1}), headers=tenant_b.auth)
    assert theirs.status_code == 422 and theirs.json()["code"] == "unknown_program"
    assert theirs.json()["errors"][0]["field"] == "award.program_id"
    patch = await api.patch(f"{BASE}/{campaign['id']}", json={"award": {
        "program_id": "0193a1b2-0000-7000-8000-000000000000", "points": 1}}, headers=tenant_a.auth)
    assert patch.status_code == 422 and patch.json()["code"] == "unknown_program"


async def test_a_suspended_program_refuses_the_entry_whole(api, app, engine, tenant_a):
    program = await _program(app, tenant_a, status="suspended")
    campaign = await _create(api, tenant_a, award={"program_id": program, "points": 10})
    before = [await _count(engine, tenant_a, t) for t in ("customers", "entry_campaign_entries", "consent_events")]
    r = await _enter(api, tenant_a, campaign["id"], profile={"email": _email()},
                     consents=[{"channel": "email", "status": "granted"}])
    assert r.status_code == 409 and r.json()["code"] == "program_not_active", r.text
    assert [await _count(engine, tenant_a, t) for t in ("customers", "entry_campaign_entries", "consent_events")] == before


async def test_merged_customers_share_one_entry_limit_and_win_at_most_once(api, tenant_a):
    campaign = await _create(api, tenant_a, entry_limit=2, winners=2)
    a = (await api.post("/v1/customers", json={"email": _email()}, headers=tenant_a.auth)).json()
    b = (await api.post("/v1/customers", json={"email": _email()}, headers=tenant_a.auth)).json()
    for who in (a, b):
        assert (await _enter(api, tenant_a, campaign["id"], customer={"id": who["id"]})).status_code == 201
    r = await api.post(f"/v1/customers/{a['id']}/merge", json={"source_customer_id": b["id"]}, headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    # b's entry now counts for a: a has used both entries
    third = await _enter(api, tenant_a, campaign["id"], customer={"id": a["id"]})
    assert third.status_code == 409 and third.json()["code"] == "entry_limit_reached"
    assert (await api.patch(f"{BASE}/{campaign['id']}", json={"status": "closed"},
                            headers=tenant_a.auth)).status_code == 200
    draw = (await api.post(f"{BASE}/{campaign['id']}/draw", json={"seed": "m"}, headers=tenant_a.auth)).json()
    assert draw["entry_count"] == 2 and [w["customer_id"] for w in draw["winners"]] == [a["id"]]
    assert draw["entry_customer_ids"] == [a["id"], a["id"]]  # b's entry is a's now


async def test_concurrent_first_entries_of_one_new_person_create_one_customer(api, tenant_a):
    campaign = await _create(api, tenant_a, entry_limit=10)
    email = _email()
    results = await asyncio.gather(*(
        _enter(api, tenant_a, campaign["id"], **({"profile": {"email": email}} if n % 2 else
                                                  {"customer": {"email": email}})) for n in range(6)))
    assert all(r.status_code in (201, 409) for r in results), [r.text for r in results]
    assert {r.json()["code"] for r in results if r.status_code == 409} <= {"identity_taken", "retry"}
    made = [r.json() for r in results if r.status_code == 201]
    assert made and len({e["customer_id"] for e in made}) == 1
    found = (await api.get("/v1/customers", params={"email": email}, headers=tenant_a.auth)).json()["data"]
    assert [c["id"] for c in found] == [made[0]["customer_id"]]
    again = await _enter(api, tenant_a, campaign["id"], profile={"email": email})
    assert again.status_code == 201 and again.json()["customer_id"] == made[0]["customer_id"]
