"""Infra objects for command-line use cases (the app builds its own in its lifespan)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from infra.auth.keys import KeyStore
from infra.caches import Caches, RevokedTokens, TenantRegistry
from infra.db.engine import make_engine
from infra.db.uow import SqlUnitOfWork
from infra.event_routes import build_event_bus
from infra.settings import Settings


@dataclass
class Runtime:
    engine: AsyncEngine
    caches: Caches
    uow_factory: Callable[..., SqlUnitOfWork]


@contextlib.asynccontextmanager
async def runtime(settings: Settings, url: str, *, pool_size: int | None = None) -> AsyncIterator[Runtime]:
    engine = make_engine(url, settings, pool_size=pool_size)
    caches = Caches(tenants=TenantRegistry(engine, settings.cache_ttl_seconds),
                    revoked=RevokedTokens(engine, settings.cache_ttl_seconds,
                                               settings.token_ttl_seconds),
                    keys=KeyStore(engine, settings.cache_ttl_seconds))
    ttl = timedelta(hours=settings.idempotency_ttl_hours)
    bus = build_event_bus()
    try:
        yield Runtime(engine=engine, caches=caches,
                      uow_factory=lambda tenant, read_only=False: SqlUnitOfWork(
                          engine, caches, tenant=tenant, idempotency_ttl=ttl, read_only=read_only,
                          bus=bus))
    finally:
        await engine.dispose()
