"""`kizuna demo`: a tenant `demo` with sample data and a client whose fresh secret is printed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from api.demo_data import seed_demo
from domain.auth.model import TENANT_SCOPES, TenantRef, new_client
from domain.shared.clock import SystemClock
from domain.tenants.services import create_tenant

DEMO_SLUG = "demo"
DEMO_CLIENT = "demo"


@dataclass(frozen=True)
class DemoCredentials:
    client_id: str
    client_secret: str
    scopes: list[str]


async def ensure_demo(rt: Any) -> DemoCredentials:
    clock = SystemClock()
    async with rt.uow_factory(None) as uow:
        tenant = await uow.tenants.get_by_slug(DEMO_SLUG)
    if tenant is None:
        made = await create_tenant(uow=rt.uow_factory(None), clock=clock, slug=DEMO_SLUG,
                                   name="デモ株式会社 (Demo)")
        tenant = made.tenant
    ref = TenantRef(id=tenant.id, slug=tenant.slug, schema=tenant.schema, timezone=tenant.timezone,
                    currency=tenant.currency)
    await seed_demo(rt.uow_factory, clock, ref)
    # Secrets are stored as digests, so each run issues the demo client a fresh one.
    async with rt.uow_factory(None) as uow:
        from domain.shared.pagination import PageRequest
        clients = await uow.clients.list(tenant_id=tenant.id, page=PageRequest(limit=200))
        demo = next((c for c in clients if c.name == DEMO_CLIENT), None)
        if demo is None:
            issued = new_client(tenant_id=tenant.id, name=DEMO_CLIENT, scopes=TENANT_SCOPES,
                                now=clock.now())
            await uow.clients.add(issued.client)
            client, secret = issued.client, issued.client_secret
        else:
            client, secret = demo.with_new_secret(now=clock.now(), overlap=timedelta(0))
            await uow.clients.update_secret(client)
        await uow.commit()
    return DemoCredentials(client_id=client.client_id, client_secret=secret, scopes=list(client.scopes))
