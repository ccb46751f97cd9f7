"""Tenant use cases: provisioning, reading, renaming, suspending."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.auth.model import TENANT_SCOPES, IssuedClient, new_client
from domain.shared.clock import Clock
from domain.shared.errors import Conflict, NotFound, PreconditionFailed
from domain.shared.ids import new_id
from domain.shared.pagination import Page, PageRequest, page_from
from domain.shared.ports import UnitOfWork
from domain.shared.text import clean_text
from domain.tenants.model import (
    DEFAULT_CURRENCY,
    DEFAULT_TIMEZONE,
    Tenant,
    TenantStatus,
    schema_for,
    validate_currency,
    validate_slug,
    validate_timezone,
)


@dataclass(frozen=True)
class ProvisionedTenant:
    tenant: Tenant
    initial_client: IssuedClient


async def create_tenant(*, uow: UnitOfWork, clock: Clock, slug: str, name: str,
                        timezone: str = DEFAULT_TIMEZONE,
                        currency: str = DEFAULT_CURRENCY) -> ProvisionedTenant:
    """Create the tenant row, its schema at the migration head and an initial client holding every
    tenant scope, all in one transaction: a failure leaves no schema and no row behind."""
    now = clock.now()
    tenant = Tenant(
        id=new_id(), slug=validate_slug(slug), name=clean_text(name, field="name", max_length=200),
        timezone=validate_timezone(timezone), currency=validate_currency(currency),
        status=TenantStatus.ACTIVE, schema=schema_for(slug), created_at=now, updated_at=now)
    async with uow:
        if await uow.tenants.get_by_slug(tenant.slug) is not None:
            raise Conflict(f"a tenant with slug {tenant.slug!r} already exists")
        await uow.tenants.add(tenant)
        await uow.schemas.provision(tenant.schema)
        issued = new_client(tenant_id=tenant.id, name="initial", scopes=TENANT_SCOPES, now=now)
        await uow.clients.add(issued.client)
        await uow.commit()
    return ProvisionedTenant(tenant=tenant, initial_client=issued)


async def get_tenant(*, uow: UnitOfWork, tenant_id: UUID) -> Tenant:
    async with uow:
        tenant = await uow.tenants.get(tenant_id)
    if tenant is None:
        raise NotFound("tenant", tenant_id)
    return tenant


async def list_tenants(*, uow: UnitOfWork, page: PageRequest) -> Page[Tenant]:
    async with uow:
        rows = await uow.tenants.list(page)
    return page_from(rows, page)


async def update_tenant(*, uow: UnitOfWork, clock: Clock, tenant_id: UUID, name: str | None = None,
                        timezone: str | None = None, status: TenantStatus | None = None,
                        expected_version: int | None = None) -> Tenant:
    """Change name, timezone or status. `expected_version` carries If-Match."""
    async with uow:
        current = await uow.tenants.get_for_update(tenant_id)
        if current is None:
            raise NotFound("tenant", tenant_id)
        if expected_version is not None and expected_version != current.version:
            raise PreconditionFailed("the tenant changed since it was read (If-Match does not match)")
        updated = current.changed(name=name, timezone=timezone, status=status, now=clock.now())
        await uow.tenants.update(updated)
        await uow.commit()
    return updated
