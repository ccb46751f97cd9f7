"""Marketing costs through HTTP with two tenants: record, list, read, change, delete."""

from __future__ import annotations

from typing import Any

from tests.conftest import bearer, get_token

BASE = "/v1/marketing-costs"


def _cost(**fields: Any) -> dict[str, Any]:
    return {"channel": "instagram_ad", "period_from": "2026-10-01", "period_to": "2026-10-31",
            "amount": 300000, **fields}


async def _create(api, tenant, **fields) -> dict[str, Any]:
    r = await api.post(BASE, json=_cost(**fields), headers=tenant.auth)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_create_read_patch_delete(api, tenant_a):
    created = await _create(api, tenant_a, campaign_id="autumn-sale", note="10月")
    assert created["currency"] == "JPY" and created["amount"] == 300000
    r = await api.get(f"{BASE}/{created['id']}", headers=tenant_a.auth)
    assert r.status_code == 200 and r.headers["ETag"] == '"v1"'
    assert r.json() == created
    r = await api.patch(f"{BASE}/{created['id']}", json={"amount": 250000, "note": None},
                        headers={**tenant_a.auth, "If-Match": '"v1"'})
    assert r.status_code == 200, r.text
    assert r.json()["amount"] == 250000 and r.json()["note"] is None and r.headers["ETag"] == '"v2"'
    r = await api.patch(f"{BASE}/{created['id']}", json={"amount": 1}, headers={**tenant_a.auth, "If-Match": '"v1"'})
    assert r.status_code == 412
    assert (await api.delete(f"{BASE}/{created['id']}", headers=tenant_a.auth)).status_code == 204
    assert (await api.get(f"{BASE}/{created['id']}", headers=tenant_a.auth)).status_code == 404
    assert (await api.delete(f"{BASE}/{created['id']}", headers=tenant_a.auth)).status_code == 404


async def test_bad_input_is_422_listing_every_field(api, tenant_a):
    r = await api.post(BASE, json={"amount": "12", "period_from": "2026/10/01", "extra": 1}, headers=tenant_a.auth)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"amount", "period_from", "period_to", "extra"} <= fields
    r = await api.post(BASE, json=_cost(channel=None), headers=tenant_a.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "channel"
    r = await api.post(BASE, json=_cost(period_from="2026-11-01"), headers=tenant_a.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "period_to"
    r = await api.post(BASE, json=_cost(currency="USD"), headers=tenant_a.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "currency"
    assert (await api.post(BASE, json=_cost(currency="jpy"), headers=tenant_a.auth)).status_code == 201
    r = await api.post(BASE, json=_cost(amount=-1), headers=tenant_a.auth)
    assert r.status_code == 422
    r = await api.get(BASE, params={"from": "2026-11-02", "to": "2026-11-01"}, headers=tenant_a.auth)
    assert r.status_code == 422


async def test_list_filters_and_cursor(api, tenant_a):
    ids = [(await _create(api, tenant_a, channel="web", amount=i))["id"] for i in range(3)]
    await _create(api, tenant_a, channel="line", period_from="2026-12-01", period_to="2026-12-31")
    await _create(api, tenant_a, channel=None, campaign_id="winter")
    seen, cursor = [], None
    while True:
        params = {"channel": "web", "limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await api.get(BASE, params=params, headers=tenant_a.auth)
        assert r.status_code == 200
        seen += [c["id"] for c in r.json()["data"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    r = await api.get(BASE, params={"from": "2026-11-15", "to": "2026-12-05"}, headers=tenant_a.auth)
    assert [c["channel"] for c in r.json()["data"]] == ["line"]
    r = await api.get(BASE, params={"to": "2026-10-01"}, headers=tenant_a.auth)
    assert len(r.json()["data"]) == 4
    r = await api.get(BASE, params={"campaign_id": "winter"}, headers=tenant_a.auth)
    assert [c["campaign_id"] for c in r.json()["data"]] == ["winter"]


async def test_other_tenant_cannot_see_or_touch_a_cost(api, tenant_a, tenant_b):
    cost = await _create(api, tenant_a)
    url = f"{BASE}/{cost['id']}"
    assert (await api.get(url, headers=tenant_b.auth)).status_code == 404
    assert (await api.patch(url, json={"amount": 1}, headers=tenant_b.auth)).status_code == 404
    assert (await api.delete(url, headers=tenant_b.auth)).status_code == 404
    assert (await api.get(BASE, headers=tenant_b.auth)).json()["data"] == []
    assert (await api.get(url, headers=tenant_a.auth)).json()["amount"] == cost["amount"]


async def test_scopes(api, tenant_a):
    token = await get_token(api, tenant_a.client_id, tenant_a.client_secret, scope="analytics:read")
    assert (await api.get(BASE, headers=bearer(token))).status_code == 200
    assert (await api.post(BASE, json=_cost(), headers=bearer(token))).status_code == 403


async def test_idempotency_key_replays(api, tenant_a):
    headers = {**tenant_a.auth, "Idempotency-Key": "cost-1"}
    first = await api.post(BASE, json=_cost(), headers=headers)
    again = await api.post(BASE, json=_cost(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert len((await api.get(BASE, headers=tenant_a.auth)).json()["data"]) == 1
