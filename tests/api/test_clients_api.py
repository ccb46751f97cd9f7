"""A tenant's OAuth clients through HTTP, with two tenants: the other tenant's ids are 404."""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy import text

from tests.conftest import bearer, get_token


async def _create(api, tenant, scopes=("orders:read",), headers=None):
    return await api.post("/v1/clients", json={"name": "sync", "scopes": list(scopes)},
                          headers=tenant.auth | (headers or {}))


async def test_create_list_rotate_delete(api, tenant_a):
    made = await _create(api, tenant_a, ("orders:read", "customers:read"))
    assert made.status_code == 201, made.text
    client = made.json()
    token = await get_token(api, client["client_id"], client["client_secret"])
    assert token
    listed = (await api.get("/v1/clients", headers=tenant_a.auth)).json()["data"]
    assert client["id"] in [c["id"] for c in listed] and all("client_secret" not in c for c in listed)
    rotated = await api.post(f"/v1/clients/{client['id']}/rotate-secret", json={"overlap_seconds": 0},
                             headers=tenant_a.auth)
    assert rotated.status_code == 200 and rotated.json()["client_secret"] != client["client_secret"]
    old = await api.post("/oauth/token", data={"grant_type": "client_credentials"},
                         auth=(client["client_id"], client["client_secret"]))
    assert old.status_code == 401
    await get_token(api, client["client_id"], rotated.json()["client_secret"])
    assert (await api.delete(f"/v1/clients/{client['id']}", headers=tenant_a.auth)).status_code == 204
    gone = await api.post("/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(client["client_id"], rotated.json()["client_secret"]))
    assert gone.status_code == 401
    assert (await api.delete(f"/v1/clients/{client['id']}", headers=tenant_a.auth)).status_code == 404


async def test_other_tenants_clients_are_404_and_invisible(api, tenant_a, tenant_b):
    a_client = (await _create(api, tenant_a)).json()
    for call in (
        api.delete(f"/v1/clients/{a_client['id']}", headers=tenant_b.auth),
        api.post(f"/v1/clients/{a_client['id']}/rotate-secret", json={}, headers=tenant_b.auth),
    ):
        r = await call
        assert r.status_code == 404, r.text
        assert r.json()["code"] == "not_found"
    b_ids = [c["id"] for c in (await api.get("/v1/clients", headers=tenant_b.auth)).json()["data"]]
    assert a_client["id"] not in b_ids
    # and A's client still works: B's attempts changed nothing
    await get_token(api, a_client["client_id"], a_client["client_secret"])


async def test_scope_checks(api, tenant_a):
    reader = (await _create(api, tenant_a, ("clients:read",))).json()
    token = await get_token(api, reader["client_id"], reader["client_secret"])
    assert (await api.get("/v1/clients", headers=bearer(token))).status_code == 200
    denied = await api.post("/v1/clients", json={"name": "x", "scopes": ["clients:read"]},
                            headers=bearer(token))
    assert denied.status_code == 403 and denied.json()["required_scopes"] == ["clients:write"]
    narrow = (await _create(api, tenant_a, ("clients:write", "orders:read"))).json()
    narrow_token = await get_token(api, narrow["client_id"], narrow["client_secret"])
    escalate = await api.post("/v1/clients", json={"name": "x", "scopes": ["customers:write"]},
                              headers=bearer(narrow_token))
    assert escalate.status_code == 403
    unknown = await _create(api, tenant_a, ("orders:fly",))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "scopes"


async def test_concurrent_duplicates_with_one_idempotency_key_create_one_client(api, tenant_a, engine):
    key = {"Idempotency-Key": secrets.token_hex(8)}
    results = await asyncio.gather(*(_create(api, tenant_a, headers=key) for _ in range(6)))
    statuses = sorted(r.status_code for r in results)
    assert set(statuses) <= {201, 409} and 201 in statuses
    bodies = {r.json()["id"] for r in results if r.status_code == 201}
    assert len(bodies) == 1  # every 201 is the same client (first, or a replay)
    async with engine.connect() as conn:
        count = (await conn.execute(text(
            "SELECT count(*) FROM control.oauth_clients WHERE tenant_id = :t AND name = 'sync'"),
            {"t": tenant_a.id})).scalar()
    assert count == 1
    replay = await _create(api, tenant_a, headers=key)
    assert replay.status_code == 201 and replay.json()["id"] in bodies


async def test_idempotency_keys_are_per_tenant(api, tenant_a, tenant_b):
    key = {"Idempotency-Key": "same-key-in-two-tenants"}
    a = await _create(api, tenant_a, headers=key)
    b = await _create(api, tenant_b, headers=key)
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]


async def test_failed_request_releases_its_idempotency_key(api, tenant_a):
    key = {"Idempotency-Key": secrets.token_hex(8)}
    bad = await api.post("/v1/clients", json={"name": "x", "scopes": ["nope:read"]},
                         headers=tenant_a.auth | key)
    assert bad.status_code == 422
    good = await api.post("/v1/clients", json={"name": "x", "scopes": ["nope:read"]},
                          headers=tenant_a.auth | key)
    assert good.status_code == 422 and "idempotent-replayed" not in good.headers


async def test_deleting_a_client_kills_its_live_tokens(api, tenant_a):
    made = (await _create(api, tenant_a, ("clients:read",))).json()
    token = await get_token(api, made["client_id"], made["client_secret"])
    assert (await api.get("/v1/clients", headers=bearer(token))).status_code == 200
    assert (await api.delete(f"/v1/clients/{made['id']}", headers=tenant_a.auth)).status_code == 204
    after = await api.get("/v1/clients", headers=bearer(token))
    assert after.status_code == 401 and "deleted" in after.json()["detail"]
    assert (await api.get("/v1/clients", headers=tenant_a.auth)).status_code == 200


async def test_problem_responses_carry_cors_headers(api, tenant_a):
    r = await api.post("/v1/clients", content=b"x", headers=tenant_a.auth | {
        "Origin": "https://app.example", "Content-Type": "text/plain"})
    assert r.status_code == 415
    assert r.headers["access-control-allow-origin"] == "https://app.example"
