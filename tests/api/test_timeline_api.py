"""A customer's timeline through HTTP with two tenants: orders (inserted with SQL), events, consent
decisions and merges, newest first, cursor pages, kind and period filters, merged ids."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import text

from domain.shared.ids import new_id
from tests.conftest import bearer, get_token


def _id() -> str:
    return secrets.token_hex(6)


async def _customer(api, tenant, **fields) -> dict[str, Any]:
    r = await api.post("/v1/customers", json={"external_id": "tl-" + _id(), **fields}, headers=tenant.auth)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _order(engine, tenant, customer_id: str, ordered_at: str, total: int = 5400) -> str:
    """Orders go straight into the table: the timeline reads them, whoever wrote them."""
    order_id = new_id()
    at = datetime.fromisoformat(ordered_at)
    async with engine.begin() as conn:
        await conn.execute(text(
            f'INSERT INTO "t_{tenant.slug}".orders (id, order_number, customer_id, ordered_at, currency,'
            " subtotal, discount_total, shipping_total, total, cost_total, channel, status, created_at,"
            " updated_at) VALUES (:id, :n, :c, :at, 'JPY', :t, 0, 0, :t, 2000, 'ec', 'placed', :at, :at)"),
            {"id": order_id, "n": "ORD-" + _id(), "c": customer_id, "at": at, "t": total})
    return str(order_id)


async def _events(api, tenant, customer_id: str, *times: str) -> None:
    events = [{"type": "page_viewed", "customer": {"id": customer_id}, "occurred_at": t,
               "properties": {"url": f"/{i}"}} for i, t in enumerate(times)]
    r = await api.post("/v1/events/batch", json={"events": events}, headers=tenant.auth)
    assert r.status_code == 200 and r.json()["accepted"] == len(times), r.text


async def _consent(api, tenant, customer_id: str, channel: str, status: str, at: str) -> None:
    r = await api.put(f"/v1/customers/{customer_id}/consents/{channel}",
                      json={"status": status, "source": "form", "occurred_at": at}, headers=tenant.auth)
    assert r.status_code == 200, r.text


async def _all(api, tenant, customer_id: str, **params) -> list[dict[str, Any]]:
    entries, cursor = [], None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        r = await api.get(f"/v1/customers/{customer_id}/timeline", params=query, headers=tenant.auth)
        assert r.status_code == 200, r.text
        entries += r.json()["data"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return entries


async def test_every_kind_newest_first_across_pages(api, tenant_a, engine):
    c = await _customer(api, tenant_a)
    cid = c["id"]
    order = await _order(engine, tenant_a, cid, "2026-03-05T12:00:00+09:00", total=12800)
    await _events(api, tenant_a, cid, "2026-03-01T00:00:00Z", "2026-03-06T00:00:00Z", "2026-03-04T00:00:00Z")
    await _consent(api, tenant_a, cid, "email", "granted", "2026-03-02T00:00:00Z")
    await _consent(api, tenant_a, cid, "line", "denied", "2026-03-07T00:00:00Z")

    whole = (await api.get(f"/v1/customers/{cid}/timeline", headers=tenant_a.auth)).json()
    kinds_and_days = [(e["kind"], e["occurred_at"][:10]) for e in whole["data"]]
    assert kinds_and_days == [("consent", "2026-03-07"), ("event", "2026-03-06"), ("order", "2026-03-05"),
                              ("event", "2026-03-04"), ("consent", "2026-03-02"), ("event", "2026-03-01")]
    assert whole["next_cursor"] is None
    by_kind = {e["kind"]: e for e in reversed(whole["data"])}  # the newest of each kind
    assert by_kind["order"]["id"] == order and by_kind["order"]["data"]["total"] == 12800
    assert by_kind["order"]["data"]["order_number"].startswith("ORD-")
    assert by_kind["consent"]["data"]["channel"] == "line" and by_kind["consent"]["data"]["status"] == "denied"
    assert by_kind["event"]["data"]["type"] == "page_viewed"
    assert by_kind["event"]["data"]["touchpoint"] == {"channel": None, "stage": None, "campaign_id": None}
    assert all(e["customer_id"] == cid for e in whole["data"])

    for limit in (1, 2, 4):
        paged = await _all(api, tenant_a, cid, limit=limit)
        assert paged == whole["data"], limit


async def test_ties_on_occurred_at_page_without_loss_or_repeats(api, tenant_a):
    c = await _customer(api, tenant_a)
    await _events(api, tenant_a, c["id"], *["2026-04-01T00:00:00Z"] * 7)
    paged = await _all(api, tenant_a, c["id"], limit=3)
    ids = [e["id"] for e in paged]
    assert len(ids) == 7 == len(set(ids)) and ids == sorted(ids, reverse=True)


async def test_kind_and_period_filters(api, tenant_a, engine):
    c = await _customer(api, tenant_a)
    cid = c["id"]
    await _order(engine, tenant_a, cid, "2026-05-10T00:00:00Z")
    await _order(engine, tenant_a, cid, "2026-05-20T00:00:00Z")
    await _events(api, tenant_a, cid, "2026-05-15T00:00:00Z", "2026-05-25T00:00:00Z")
    await _consent(api, tenant_a, cid, "sms", "granted", "2026-05-12T00:00:00Z")

    orders = await _all(api, tenant_a, cid, kind="order")
    assert [e["kind"] for e in orders] == ["order", "order"]
    orders_and_events = await _all(api, tenant_a, cid, kind=["order", "event"])
    assert {e["kind"] for e in orders_and_events} == {"order", "event"} and len(orders_and_events) == 4
    may_mid = await _all(api, tenant_a, cid, **{"from": "2026-05-12T00:00:00Z", "to": "2026-05-20T00:00:00Z"})
    assert [(e["kind"], e["occurred_at"][:10]) for e in may_mid] == [("event", "2026-05-15"),
                                                                     ("consent", "2026-05-12")]
    bad_kind = await api.get(f"/v1/customers/{cid}/timeline", params={"kind": "tweet"}, headers=tenant_a.auth)
    assert bad_kind.status_code == 422
    backwards = await api.get(f"/v1/customers/{cid}/timeline", headers=tenant_a.auth,
                              params={"from": "2026-06-01T00:00:00Z", "to": "2026-05-01T00:00:00Z"})
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "to"
    bad_cursor = await api.get(f"/v1/customers/{cid}/timeline", params={"cursor": "x"}, headers=tenant_a.auth)
    assert bad_cursor.status_code == 422


async def test_merged_customers_share_one_timeline(api, tenant_a, engine):
    target = await _customer(api, tenant_a)
    source = await _customer(api, tenant_a)
    older = await _customer(api, tenant_a)
    await _order(engine, tenant_a, source["id"], "2026-06-01T00:00:00Z")
    await _events(api, tenant_a, older["id"], "2026-06-02T00:00:00Z")
    await _consent(api, tenant_a, target["id"], "email", "granted", "2026-06-03T00:00:00Z")
    # older into source, then source into target: a chain
    for into, what in ((source, older), (target, source)):
        r = await api.post(f"/v1/customers/{into['id']}/merge", json={"source_customer_id": what["id"]},
                           headers=tenant_a.auth)
        assert r.status_code == 200, r.text
    # a row that still carries a merged id (written concurrently with the merge) is not lost
    await _order(engine, tenant_a, older["id"], "2026-06-04T00:00:00Z")

    timeline = await _all(api, tenant_a, target["id"])
    kinds = [e["kind"] for e in timeline]
    assert kinds.count("merge") == 2 and kinds.count("order") == 2
    assert kinds.count("event") == 1 and kinds.count("consent") == 1
    merges = {(e["data"]["source_customer_id"], e["data"]["target_customer_id"]) for e in timeline
              if e["kind"] == "merge"}
    assert merges == {(older["id"], source["id"]), (source["id"], target["id"])}
    via_source = await api.get(f"/v1/customers/{older['id']}/timeline", headers=tenant_a.auth)
    assert via_source.status_code == 200
    assert via_source.headers["content-location"] == f"/v1/customers/{target['id']}/timeline"
    assert via_source.json()["data"] == timeline


async def test_other_tenants_and_unknown_customers_are_404(api, tenant_a, tenant_b):
    c = await _customer(api, tenant_a)
    await _events(api, tenant_a, c["id"], "2026-07-01T00:00:00Z")
    assert (await api.get(f"/v1/customers/{c['id']}/timeline", headers=tenant_b.auth)).status_code == 404
    unknown = f"/v1/customers/{new_id()}/timeline"
    assert (await api.get(unknown, headers=tenant_a.auth)).status_code == 404
    assert (await api.get(f"/v1/customers/{c['id']}/timeline", headers=tenant_a.auth)).status_code == 200


async def test_needs_customers_read(api, tenant_a):
    c = await _customer(api, tenant_a)
    events_only = bearer(await get_token(api, tenant_a.client_id, tenant_a.client_secret, "events:read"))
    r = await api.get(f"/v1/customers/{c['id']}/timeline", headers=events_only)
    assert r.status_code == 403
    customers_read = bearer(await get_token(api, tenant_a.client_id, tenant_a.client_secret, "customers:read"))
    assert (await api.get(f"/v1/customers/{c['id']}/timeline", headers=customers_read)).status_code == 200
