"""The per-process caches against a real database: past the TTL an entry is served while one
background query refreshes it, unknown entries are loaded once for all concurrent requests, and
an eviction (NOTIFY) during a load is not undone by it."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.auth.keys import KeyStore, ensure_signing_key
from infra.caches import RevokedTokens, TenantRegistry
from infra.db.engine import make_engine
from infra.settings import Settings


class Counted:
    """An engine whose statements on the given table are counted."""

    def __init__(self, database_url: str, table: str) -> None:
        self.engine: AsyncEngine = make_engine(database_url, Settings(), pool_size=4)
        self.count = 0

        @event.listens_for(self.engine.sync_engine, "before_cursor_execute")
        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if table in statement:
                self.count += 1


async def _a_tenant(db: AsyncEngine, slug: str) -> UUID:
    async with db.begin() as conn:
        return (await conn.execute(text(
            "INSERT INTO control.tenants (id, slug, name, schema_name, status, timezone, currency,"
            " created_at, updated_at) VALUES (gen_random_uuid(), :s, :n, :schema, 'active', 'Asia/Tokyo',"
            " 'JPY', now(), now()) RETURNING id"), {"s": slug, "n": slug, "schema": f"t_{slug}"})).scalar_one()


async def _drop_tenant(db: AsyncEngine, tenant_id: UUID) -> None:
    # A catalog row without a schema would fail `kizuna migrate` and the purge job in later tests.
    async with db.begin() as conn:
        await conn.execute(text("DELETE FROM control.tenants WHERE id = :id"), {"id": tenant_id})


async def _set_status(db: AsyncEngine, tenant_id: UUID, status: str) -> None:
    async with db.begin() as conn:
        await conn.execute(text("UPDATE control.tenants SET status = :st WHERE id = :id"),
                           {"st": status, "id": tenant_id})


async def test_stale_tenant_entries_are_served_while_one_query_refreshes_them(db, database_url):
    tenant_id = await _a_tenant(db, "cache_stale")
    counted = Counted(database_url, "control.tenants")
    registry = TenantRegistry(counted.engine, ttl=0.2)
    try:
        first = await asyncio.gather(*[registry.get(tenant_id) for _ in range(20)])
        assert {e.status for e in first if e} == {"active"} and counted.count == 1  # one shared load
        await _set_status(db, tenant_id, "suspended")
        await asyncio.sleep(0.25)  # past the TTL
        stale = await asyncio.gather(*[registry.get(tenant_id) for _ in range(20)])
        assert {e.status for e in stale if e} == {"active"}  # served while refreshing
        for _ in range(50):
            await asyncio.sleep(0.02)
            if counted.count == 2:
                break
        assert counted.count == 2  # one background query for the twenty requests
        await asyncio.sleep(0.05)
        refreshed = await registry.get(tenant_id)
        assert refreshed is not None and refreshed.status == "suspended"
    finally:
        await counted.engine.dispose()
        await _drop_tenant(db, tenant_id)


async def test_an_eviction_during_a_load_is_not_undone_by_it(db, database_url):
    tenant_id = await _a_tenant(db, "cache_evict")
    counted = Counted(database_url, "control.tenants")
    registry = TenantRegistry(counted.engine, ttl=60)
    try:
        loading = asyncio.ensure_future(registry.get(tenant_id))
        await asyncio.sleep(0)  # the load has started (its query may still run)
        registry.evict(tenant_id)
        await _set_status(db, tenant_id, "suspended")  # what the eviction announced
        after = await registry.get(tenant_id)  # a load of its own, not the one begun before
        assert after is not None and after.status == "suspended"
        assert (await loading) is not None
        again = await registry.get(tenant_id)  # the older load did not overwrite the newer entry
        assert again is not None and again.status == "suspended" and counted.count == 2
    finally:
        await counted.engine.dispose()
        await _drop_tenant(db, tenant_id)


async def test_revoked_tokens_reload_once_in_the_background_past_the_ttl(db, database_url):
    counted = Counted(database_url, "control.revoked_tokens")
    revoked = RevokedTokens(counted.engine, ttl=0.2)
    try:
        assert not any(await asyncio.gather(*[revoked.contains("jti-x") for _ in range(10)]))
        assert counted.count == 1  # the first load is waited for, once
        async with db.begin() as conn:
            await conn.execute(text(
                "INSERT INTO control.revoked_tokens (jti, expires_at) VALUES ('jti-x', now() + interval '1 hour')"))
        await asyncio.sleep(0.25)
        assert not any(await asyncio.gather(*[revoked.contains("jti-x") for _ in range(10)]))  # stale
        for _ in range(50):
            await asyncio.sleep(0.02)
            if await revoked.contains("jti-x"):
                break
        assert await revoked.contains("jti-x") and counted.count == 2
    finally:
        await counted.engine.dispose()


async def test_stale_signing_keys_reload_once_in_the_background(db, database_url):
    await ensure_signing_key(db)
    counted = Counted(database_url, "control.signing_keys")
    keys = KeyStore(counted.engine, ttl=60)
    try:
        await asyncio.gather(*[keys.refresh_if_stale() for _ in range(10)])  # nothing held: waits
        assert counted.count == 1 and keys.fresh
        held = keys.signing_key()
        keys.mark_stale()  # as a NOTIFY about keys does
        await asyncio.gather(*[keys.refresh_if_stale() for _ in range(30)])
        assert keys.signing_key() is held  # the requests went on with the keys held
        for _ in range(50):
            if keys.fresh:
                break
            await asyncio.sleep(0.02)
        assert keys.fresh and counted.count == 2  # one reload for the thirty requests
    finally:
        await counted.engine.dispose()
