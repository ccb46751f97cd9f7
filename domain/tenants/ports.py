"""What the tenant use cases need from the outside world."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from domain.shared.pagination import PageRequest
from domain.tenants.model import Tenant


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> None:
        """Insert; raises Conflict when the slug is taken."""
        ...

    async def get(self, tenant_id: UUID) -> Tenant | None: ...

    async def get_by_slug(self, slug: str) -> Tenant | None: ...

    async def get_for_update(self, tenant_id: UUID) -> Tenant | None: ...

    async def update(self, tenant: Tenant) -> None: ...

    async def list(self, page: PageRequest) -> list[Tenant]:
        """Up to page.limit + 1 tenants after page.after, by id."""
        ...


class SchemaProvisioner(Protocol):
    async def provision(self, schema: str) -> None:
        """Create the tenant schema at the tenant migration head, inside the current transaction."""
        ...
