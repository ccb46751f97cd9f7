"""Cross-cutting pipeline behaviour: request ids, metrics, CORS, readiness."""

from __future__ import annotations

import re


async def test_metrics_count_requests_by_route_template(api, tenant_a):
    for _ in range(2):
        await api.get("/v1/clients", headers=tenant_a.auth)
    text = (await api.get("/metrics")).text
    line = next(line for line in text.splitlines()
                if line.startswith("kizuna_http_requests_total{") and 'route="/v1/clients"' in line
                and 'method="GET"' in line and 'status="200"' in line)
    assert float(line.rsplit(" ", 1)[1]) >= 2
    assert re.search(r'kizuna_http_request_duration_seconds_bucket\{.*route="/v1/clients"', text)
    assert "kizuna_db_pool_checked_out" in text


async def test_cors_preflight_allows_only_configured_origins(api):
    allowed = await api.options("/v1/clients", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "idempotency-key" in allowed.headers["access-control-allow-headers"].lower()
    denied = await api.options("/v1/clients", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in denied.headers


async def test_readiness_reports_heads(api):
    body = (await api.get("/readyz")).json()
    assert body["control_revision"] == body["control_head"] and body["tenants_behind"] == 0


async def test_readiness_is_not_ready_behind_and_stays_ready_ahead(api, engine, tenant_a):
    from sqlalchemy import text

    async def set_revision(rev):
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE control.tenants SET schema_revision = :r WHERE id = :i"),
                               {"r": rev, "i": tenant_a.id})

    try:
        await set_revision("t0001")  # behind this code's head
        behind = await api.get("/readyz")
        assert behind.status_code == 503 and behind.json()["tenants_behind"] == 1
        await set_revision("t9999_from_a_newer_deploy")  # ahead: a newer version migrated first
        assert (await api.get("/readyz")).status_code == 200
    finally:
        from infra.db.migrate import head
        await set_revision(head("tenant"))
    assert (await api.get("/readyz")).status_code == 200


async def test_nul_in_any_query_parameter_is_422(api, tenant_a):
    for url in ("/v1/products?sku=a%00b", "/v1/orders?order_number=%00", "/v1/events?type=x%00",
                "/v1/customers?tag=%00"):
        r = await api.get(url, headers=tenant_a.auth)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", url
