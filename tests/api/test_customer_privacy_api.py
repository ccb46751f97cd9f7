"""Personal data rights through HTTP: export everything, erase what identifies the person."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text


async def _customer(api, tenant, **fields):
    r = await api.post("/v1/customers", json=fields, headers=tenant.auth)
    assert r.status_code == 201, r.text
    return r.json()


async def _order_and_event(engine, tenant, customer_id):
    schema = f"t_{tenant.slug}"
    order_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(text(
            f'INSERT INTO "{schema}".orders (id, order_number, customer_id, ordered_at, currency, subtotal,'
            " discount_total, shipping_total, total, cost_total, channel, status, created_at, updated_at)"
            " VALUES (:id, :n, :c, :t, 'JPY', 5000, 0, 500, 5500, 3000, 'ec', 'placed', :t, :t)"),
            {"id": order_id, "n": f"N-{order_id.hex[:8]}", "c": customer_id, "t": now})
        await conn.execute(text(
            f'INSERT INTO "{schema}".order_lines (order_id, line_no, sku, quantity, unit_price, unit_cost)'
            " VALUES (:id, 1, 'SKU-1', 1, 5000, 3000)"), {"id": order_id})
        await conn.execute(text(
            f'INSERT INTO "{schema}".events (id, type, customer_id, occurred_at, received_at, properties)'
            " VALUES (:id, 'product_viewed', :c, :t, :t, CAST(:p AS jsonb))"),
            {"id": uuid.uuid4(), "c": customer_id, "t": now, "p": '{"sku": "SKU-1", "note": "山田 花子"}'})
    return order_id


async def test_export_contains_profile_identities_consents_orders_events_and_merged_history(api, engine, tenant_a, tenant_b):
    target = await _customer(api, tenant_a, email="export@example.jp", family_name="山田")
    source = await _customer(api, tenant_a, phone="090-2345-6789")
    await api.put(f"/v1/customers/{source['id']}/consents/email", json={"status": "granted"}, headers=tenant_a.auth)
    order_id = await _order_and_event(engine, tenant_a, source["id"])
    merged = await api.post(f"/v1/customers/{target['id']}/merge", json={"source_customer_id": source["id"]},
                            headers=tenant_a.auth)
    assert merged.status_code == 200
    r = await api.get(f"/v1/customers/{target['id']}/export", headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["format"] == "kizuna.customer_export.v1"
    assert doc["customer"]["family_name"] == "山田" and doc["merged_customer_ids"] == [source["id"]]
    assert {(i["type"], i["value"]) for i in doc["identities"]} == {("email", "export@example.jp"),
                                                                  ("phone", "+819023456789")}
    assert [c["channel"] for c in doc["consents"]] == ["email"]
    assert len(doc["consent_history"]) >= 2  # the original decision and the one the merge carried over
    assert [o["id"] for o in doc["orders"]] == [str(order_id)] and doc["orders"][0]["lines"][0]["sku"] == "SKU-1"
    assert doc["events"][0]["properties"]["note"] == "山田 花子"
    assert (await api.get(f"/v1/customers/{target['id']}/export", headers=tenant_b.auth)).status_code == 404


async def test_erasure_removes_personal_data_keeps_orders_and_cannot_be_reidentified(api, engine, tenant_a, tenant_b):
    c = await _customer(api, tenant_a, email="erase.me@example.jp", phone="080-1111-2222", family_name="消去",
                        attributes={"note": "likes cats"}, tags=["vip"])
    await api.put(f"/v1/customers/{c['id']}/consents/line", json={"status": "granted"}, headers=tenant_a.auth)
    await _order_and_event(engine, tenant_a, c["id"])
    assert (await api.post(f"/v1/customers/{c['id']}/erasure", json={}, headers=tenant_b.auth)).status_code == 404
    r = await api.post(f"/v1/customers/{c['id']}/erasure", json={"reason": "本人からの削除依頼"}, headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    assert r.json()["removed"]["identities"] == 2
    for url in (f"/v1/customers/{c['id']}", f"/v1/customers/{c['id']}/export",
                f"/v1/customers/{c['id']}/consents"):
        assert (await api.get(url, headers=tenant_a.auth)).status_code == 404, url
    again = await api.post(f"/v1/customers/{c['id']}/erasure", json={}, headers=tenant_a.auth)
    assert again.status_code == 404
    into_erased = await _customer(api, tenant_a)
    merge = await api.post(f"/v1/customers/{c['id']}/merge", json={"source_customer_id": into_erased["id"]},
                           headers=tenant_a.auth)
    assert merge.status_code == 409
    # the same email now names nobody: a new customer can take it
    fresh = await _customer(api, tenant_a, email="erase.me@example.jp")
    assert fresh["id"] != c["id"]
    found = (await api.get("/v1/customers", params={"q": "消去"}, headers=tenant_a.auth)).json()["data"]
    assert found == []
    schema = f"t_{tenant_a.slug}"
    async with engine.connect() as conn:
        row = (await conn.execute(text(f'SELECT * FROM "{schema}".customers WHERE id = :i'), {"i": c["id"]})).one()
        assert (row.email, row.phone, row.family_name, row.attributes, row.tags, row.status) == (
            None, None, None, {}, [], "erased")
        orders = (await conn.execute(text(f'SELECT total FROM "{schema}".orders WHERE customer_id = :i'),
                                     {"i": c["id"]})).scalars().all()
        assert orders == [5500]  # revenue figures stay right
        props = (await conn.execute(text(f'SELECT properties FROM "{schema}".events WHERE customer_id = :i'),
                                    {"i": c["id"]})).scalars().all()
        assert props == [{}]
        consents = (await conn.execute(text(
            f'SELECT count(*) FROM "{schema}".consent_events WHERE customer_id = :i'), {"i": c["id"]})).scalar()
        assert consents == 0
        record = (await conn.execute(text(f'SELECT reason FROM "{schema}".erasures WHERE customer_id = :i'),
                                     {"i": c["id"]})).scalar()
        assert record == "本人からの削除依頼"
