"""Tenant provisioning through HTTP on real PostgreSQL."""

from __future__ import annotations

import secrets

from sqlalchemy import text

from tests.conftest import get_token


def _slug(prefix: str = "p") -> str:
    return f"{prefix}_{secrets.token_hex(5)}"


async def test_create_returns_tenant_initial_client_location_and_etag(api, platform, engine):
    slug = _slug()
    r = await api.post("/v1/tenants", json={"slug": slug, "name": "ｱｸﾒ化粧品", "timezone": "Europe/Paris",
                                            "currency": "EUR"}, headers=platform)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["slug"], body["name"], body["timezone"], body["currency"], body["status"]) == (
        slug, "アクメ化粧品", "Europe/Paris", "EUR", "active")
    assert r.headers["location"] == f"/v1/tenants/{body['id']}"
    client = body["initial_client"]
    assert client["client_secret"].startswith("ksec_") and "clients:write" in client["scopes"]
    async with engine.connect() as conn:
        tables = set((await conn.execute(text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
            {"s": f"t_{slug}"})).scalars())
        stored = (await conn.execute(text(
            "SELECT secret_hash FROM control.oauth_clients WHERE client_id = :c"),
            {"c": client["client_id"]})).scalar()
    assert {"alembic_version", "idempotency_keys", "audit_log"} <= tables
    assert stored != client["client_secret"] and len(stored) == 64
    got = await api.get(f"/v1/tenants/{body['id']}", headers=platform)
    assert got.status_code == 200 and "initial_client" not in got.json() and got.headers["etag"] == '"v1"'


async def test_defaults_are_tokyo_and_yen(api, platform):
    r = await api.post("/v1/tenants", json={"slug": _slug(), "name": "x"}, headers=platform)
    assert (r.json()["timezone"], r.json()["currency"]) == ("Asia/Tokyo", "JPY")


async def test_duplicate_slug_is_409_and_creates_nothing(api, platform, engine):
    slug = _slug()
    assert (await api.post("/v1/tenants", json={"slug": slug, "name": "a"}, headers=platform)).status_code == 201
    async with engine.connect() as conn:
        before = (await conn.execute(text("SELECT count(*) FROM control.oauth_clients"))).scalar()
    r = await api.post("/v1/tenants", json={"slug": slug, "name": "b"}, headers=platform)
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "conflict"
    async with engine.connect() as conn:
        after = (await conn.execute(text("SELECT count(*) FROM control.oauth_clients"))).scalar()
    assert after == before


async def test_list_paginates_with_a_stable_cursor(api, platform):
    made = []
    for _ in range(3):
        r = await api.post("/v1/tenants", json={"slug": _slug("pg"), "name": "x"}, headers=platform)
        made.append(r.json()["id"])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = await api.get("/v1/tenants", params=params, headers=platform)
        assert r.status_code == 200
        page = r.json()
        assert len(page["data"]) <= 2
        seen += [t["id"] for t in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages >= 2
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert set(made) <= set(seen)


async def test_patch_with_if_match_and_stale_etag(api, platform, tenant_a):
    url = f"/v1/tenants/{tenant_a.id}"
    etag = (await api.get(url, headers=platform)).headers["etag"]
    r = await api.patch(url, json={"name": "新しい名前"}, headers=platform | {"If-Match": etag})
    assert r.status_code == 200 and r.json()["name"] == "新しい名前"
    assert r.headers["etag"] != etag
    stale = await api.patch(url, json={"name": "lost update"}, headers=platform | {"If-Match": etag})
    assert stale.status_code == 412
    assert (await api.get(url, headers=platform)).json()["name"] == "新しい名前"
    tz = await api.patch(url, json={"timezone": "Not/AZone"}, headers=platform)
    assert tz.status_code == 422 and tz.json()["errors"][0]["field"] == "timezone"


async def test_suspension_blocks_tokens_and_new_tokens_until_resumed(api, platform, tenant_a):
    url = f"/v1/tenants/{tenant_a.id}"
    assert (await api.patch(url, json={"status": "suspended"}, headers=platform)).status_code == 200
    r = await api.get("/v1/clients", headers=tenant_a.auth)
    assert r.status_code == 403 and r.json()["type"].endswith("/tenant-suspended")
    denied = await api.post("/oauth/token", data={"grant_type": "client_credentials"},
                            auth=(tenant_a.client_id, tenant_a.client_secret))
    assert denied.status_code == 401 and denied.json()["error"] == "invalid_client"
    assert (await api.patch(url, json={"status": "active"}, headers=platform)).status_code == 200
    assert (await api.get("/v1/clients", headers=tenant_a.auth)).status_code == 200
    await get_token(api, tenant_a.client_id, tenant_a.client_secret)


async def test_unknown_tenant_is_404_and_tenant_tokens_cannot_manage_tenants(api, platform, tenant_a):
    missing = await api.get("/v1/tenants/01900000-0000-7000-8000-000000000000", headers=platform)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    forbidden = await api.get("/v1/tenants", headers=tenant_a.auth)
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "insufficient_scope"


async def test_idempotent_create_replays_and_refuses_a_different_body(api, platform, engine):
    slug = _slug("idem")
    key = {"Idempotency-Key": secrets.token_hex(8)}
    first = await api.post("/v1/tenants", json={"slug": slug, "name": "a"}, headers=platform | key)
    again = await api.post("/v1/tenants", json={"slug": slug, "name": "a"}, headers=platform | key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = await api.post("/v1/tenants", json={"slug": slug, "name": "b"}, headers=platform | key)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    async with engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM control.tenants WHERE slug = :s"),
                                    {"s": slug})).scalar()
    assert count == 1
