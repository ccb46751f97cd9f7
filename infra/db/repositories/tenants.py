"""Tenants in the control plane."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.shared.errors import Conflict
from domain.shared.pagination import PageRequest
from domain.tenants.model import Tenant, TenantStatus
from infra.db.migrate import migrate_tenant_schema
from infra.db.notify import notify
from infra.db.tables.control import tenants


def _to_domain(row: Any) -> Tenant:
    return Tenant(id=row.id, slug=row.slug, name=row.name, timezone=row.timezone,
                  currency=row.currency, status=TenantStatus(row.status), schema=row.schema_name,
                  created_at=row.created_at, updated_at=row.updated_at, version=row.version)


class SqlTenantRepository:
    def __init__(self, conn: AsyncConnection, on_commit: list[Any], evict: Any) -> None:
        self._conn = conn
        self._on_commit = on_commit
        self._evict = evict

    async def add(self, tenant: Tenant) -> None:
        inserted = (await self._conn.execute(
            insert(tenants).values(
                id=tenant.id, slug=tenant.slug, name=tenant.name, timezone=tenant.timezone,
                currency=tenant.currency, status=tenant.status.value, schema_name=tenant.schema,
                version=tenant.version, created_at=tenant.created_at, updated_at=tenant.updated_at)
            .on_conflict_do_nothing().returning(tenants.c.id))).first()
        if inserted is None:
            raise Conflict(f"a tenant with slug {tenant.slug!r} already exists")

    async def get(self, tenant_id: UUID) -> Tenant | None:
        row = (await self._conn.execute(select(tenants).where(tenants.c.id == tenant_id))).first()
        return _to_domain(row) if row else None

    async def get_by_slug(self, slug: str) -> Tenant | None:
        row = (await self._conn.execute(select(tenants).where(tenants.c.slug == slug))).first()
        return _to_domain(row) if row else None

    async def get_for_update(self, tenant_id: UUID) -> Tenant | None:
        row = (await self._conn.execute(
            select(tenants).where(tenants.c.id == tenant_id).with_for_update())).first()
        return _to_domain(row) if row else None

    async def update(self, tenant: Tenant) -> None:
        await self._conn.execute(tenants.update().where(tenants.c.id == tenant.id).values(
            name=tenant.name, timezone=tenant.timezone, status=tenant.status.value,
            version=tenant.version, updated_at=tenant.updated_at))
        # Every worker drops its cached copy when this commits (a suspension holds everywhere).
        await notify(self._conn, f"tenant:{tenant.id}")
        self._on_commit.append(lambda: self._evict(tenant.id))

    async def list(self, page: PageRequest) -> list[Tenant]:
        query = select(tenants).order_by(tenants.c.id).limit(page.limit + 1)
        if page.after is not None:
            query = query.where(tenants.c.id > page.after)
        return [_to_domain(row) for row in await self._conn.execute(query)]


class SqlSchemaProvisioner:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def provision(self, schema: str) -> None:
        await migrate_tenant_schema(self._conn, schema, current=None, create=True)
