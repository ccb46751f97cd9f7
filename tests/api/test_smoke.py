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
