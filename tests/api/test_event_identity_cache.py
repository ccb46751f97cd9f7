"""Events name customers by identity; the owners looked up are kept in memory per worker
(infra.caches.IdentityOwners) under the tenant's identity generation. Every way an owner can change
(a merge moves an identity, an erasure or a changed email releases one) must be seen by the very
next batch: each test first makes the cache hold the old owner, then changes it through the API,
then checks where the next event lands. Without the generation check each of them fails."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import text


def _id() -> str:
    return secrets.token_hex(6)


def _event(customer: dict[str, str]) -> dict[str, Any]:
    return {"type": "product_viewed", "customer": customer, "occurred_at": "2026-11-01T10:00:00+09:00",
            "properties": {"sku": "TEA-001"}, "event_id": "cache-" + _id()}


async def _owner(api, tenant, customer: dict[str, str]) -> str:
    """Send one event in a batch (the path that uses the cache); the customer it was stored on."""
    event = _event(customer)
    r = await api.post("/v1/events/batch", json={"events": [event]}, headers=tenant.auth)
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    listed = await api.get("/v1/events", headers=tenant.auth, params={"type": "product_viewed", "limit": 50})
    (stored,) = [e for e in listed.json()["data"] if e["event_id"] == event["event_id"]]
    return str(stored["customer_id"])


def _held(app, tenant) -> dict[Any, Any]:
    """What this process's cache holds for the tenant, whatever generation it is under."""
    held = app.state.caches.identities._held.get(tenant.id)
    return held[1] if held else {}


async def _create(api, tenant, **body: Any) -> dict[str, Any]:
    r = await api.post("/v1/customers", json=body, headers=tenant.auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_a_merge_moves_the_identity_and_the_next_batch_follows_it(api, app, tenant_a):
    ext = "shop-" + _id()
    source = await _create(api, tenant_a, external_id=ext)
    target = await _create(api, tenant_a, email=f"t-{_id()}@example.jp")
    assert await _owner(api, tenant_a, {"external_id": ext}) == source["id"]
    assert _held(app, tenant_a).get(("external_id", ext)) is not None  # the owner is remembered
    assert await _owner(api, tenant_a, {"external_id": ext}) == source["id"]  # and served from memory
    r = await api.post(f"/v1/customers/{target['id']}/merge", json={"source_customer_id": source["id"]},
                       headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    assert await _owner(api, tenant_a, {"external_id": ext}) == target["id"]


async def test_after_an_erasure_the_identity_names_a_new_customer(api, app, tenant_a):
    email = f"gone-{_id()}@example.jp"
    erased = await _create(api, tenant_a, email=email)
    assert await _owner(api, tenant_a, {"email": email}) == erased["id"]
    assert (await api.post(f"/v1/customers/{erased['id']}/erasure", json={},
                           headers=tenant_a.auth)).status_code == 200
    fresh = await _owner(api, tenant_a, {"email": email})
    assert fresh != erased["id"]  # never re-attached to the erased person


async def test_a_changed_email_frees_the_old_one(api, app, tenant_a):
    old = f"old-{_id()}@example.jp"
    c = await _create(api, tenant_a, email=old)
    assert await _owner(api, tenant_a, {"email": old}) == c["id"]
    r = await api.patch(f"/v1/customers/{c['id']}", json={"email": f"new-{_id()}@example.jp"},
                        headers=tenant_a.auth | {"If-Match": '"v1"'})
    assert r.status_code == 200, r.text
    assert await _owner(api, tenant_a, {"email": old}) != c["id"]


async def test_the_same_identity_in_two_tenants_names_each_tenants_own_customer(api, app, tenant_a, tenant_b):
    ext = "shop-" + _id()
    a = await _create(api, tenant_a, external_id=ext)
    b = await _create(api, tenant_b, external_id=ext)
    for _ in range(2):  # the second round is served from memory
        assert await _owner(api, tenant_a, {"external_id": ext}) == a["id"]
        assert await _owner(api, tenant_b, {"external_id": ext}) == b["id"]


async def test_the_generation_rises_with_each_statement_that_updates_or_deletes_identities(engine, tenant_a):
    schema = f'"t_{tenant_a.slug}"'
    async with engine.connect() as conn:
        async def generation() -> int:
            return int((await conn.execute(text(f"SELECT n FROM {schema}.identity_generation"))).scalar_one())

        before = await generation()
        await conn.execute(text(f"INSERT INTO {schema}.customer_identities (type, value, customer_id, created_at)"
                                " VALUES ('device_id', :v, gen_random_uuid(), now())"), {"v": _id()})
        assert await generation() == before  # a new identity changes no owner
        await conn.execute(text(f"UPDATE {schema}.customer_identities SET customer_id = gen_random_uuid()"
                                " WHERE type = 'device_id'"))
        assert await generation() == before + 1
        await conn.execute(text(f"DELETE FROM {schema}.customer_identities WHERE type = 'device_id'"))
        assert await generation() == before + 2
        await conn.rollback()
