"""The request pipeline end to end through HTTP: token -> tenant -> unit of work -> use case."""

from __future__ import annotations

from tests.conftest import TenantHandle


async def test_health_and_readiness(api):
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"


async def test_tenant_token_lists_own_clients(api, tenant_a: TenantHandle):
    response = await api.get("/v1/clients", headers=tenant_a.auth)
    assert response.status_code == 200
    assert [c["client_id"] for c in response.json()["data"]] == [tenant_a.client_id]
    assert response.headers["x-request-id"]


async def test_each_tenant_sees_only_its_own_clients(api, tenant_a: TenantHandle, tenant_b: TenantHandle):
    a = [c["client_id"] for c in (await api.get("/v1/clients", headers=tenant_a.auth)).json()["data"]]
    b = [c["client_id"] for c in (await api.get("/v1/clients", headers=tenant_b.auth)).json()["data"]]
    assert a == [tenant_a.client_id] and b == [tenant_b.client_id]
    assert (await api.get("/v1/me", headers=tenant_b.auth)).json()["tenant"]["slug"] == tenant_b.slug


async def test_me_names_the_client_tenant_and_scopes(api, tenant_a: TenantHandle, platform):
    r = await api.get("/v1/me", headers=tenant_a.auth)
    assert r.status_code == 200
    body = r.json()
    assert body["client_id"] == tenant_a.client_id and body["tenant"]["slug"] == tenant_a.slug
    assert "clients:read" in body["scopes"] and body["tenant"]["timezone"] == "Asia/Tokyo"
    assert (await api.get("/v1/me", headers=platform)).status_code == 403
    assert (await api.get("/v1/me")).status_code == 401


async def test_remembered_tokens_still_honour_revocation_and_suspension(api, tenant_a: TenantHandle, platform):
    from tests.conftest import bearer, get_token
    token = await get_token(api, tenant_a.client_id, tenant_a.client_secret)
    assert (await api.get("/v1/me", headers=bearer(token))).status_code == 200  # now remembered
    r = await api.post("/oauth/revoke", data={"token": token}, auth=(tenant_a.client_id, tenant_a.client_secret))
    assert r.status_code == 200
    assert (await api.get("/v1/me", headers=bearer(token))).status_code == 401
    other = await get_token(api, tenant_a.client_id, tenant_a.client_secret)
    assert (await api.get("/v1/me", headers=bearer(other))).status_code == 200
    await api.patch(f"/v1/tenants/{tenant_a.id}", json={"status": "suspended"}, headers=platform)
    assert (await api.get("/v1/me", headers=bearer(other))).status_code == 403
    await api.patch(f"/v1/tenants/{tenant_a.id}", json={"status": "active"}, headers=platform)
