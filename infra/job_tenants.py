"""The tenants a background job works for: the one named in a job's arguments, or every active
one for scheduled sweeps. Shared by every area's tasks so that they resolve tenants alike."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.auth.model import TenantRef
from infra.caches import Caches
from infra.db.tables.control import tenants


async def job_tenant(caches: Caches, tenant_id: str) -> TenantRef | None:
    """The tenant a queued job names, or None when it no longer exists (the job then does nothing:
    a tenant deleted after the job was queued is not an error to retry)."""
    entry = await caches.tenants.get(UUID(tenant_id))
    return entry.ref() if entry is not None else None


async def active_tenants(engine: AsyncEngine) -> list[TenantRef]:
    """Every active tenant, read now (not from the cache: a sweep must not miss a new tenant)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(tenants.c.id, tenants.c.slug, tenants.c.schema_name,
                                          tenants.c.timezone, tenants.c.currency)
                                   .where(tenants.c.status == "active").order_by(tenants.c.slug))).all()
    return [TenantRef(id=r.id, slug=r.slug, schema=r.schema_name, timezone=r.timezone, currency=r.currency)
            for r in rows]
