"""Background and scheduled jobs on procrastinate (PostgreSQL-backed: no other server).

Its tables live in schema `control` (migration c0002); the connector's search_path points there.
Jobs that act for a tenant carry the tenant id and bind their unit of work to it as requests do;
every job is idempotent because a job may run twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import procrastinate

from domain.auth.model import TenantRef
from domain.shared.clock import SystemClock
from infra.analytics.tasks import register as register_analytics_tasks
from infra.auth.keys import KeyStore
from infra.caches import Caches, RevokedTokens, TenantRegistry
from infra.db.engine import make_engine
from infra.db.maintenance import purge_expired
from infra.db.uow import SqlUnitOfWork
from infra.db.urls import libpq_url
from infra.event_routes import build_event_bus
from infra.imports.queue import IMPORT_TASK, IMPORTS_QUEUE
from infra.imports.runner import run_stored_import
from infra.loyalty.tasks import register as register_loyalty_tasks
from infra.settings import Settings

MAINTENANCE_QUEUE = "maintenance"


def build_job_app(settings: Settings, url: str) -> tuple[procrastinate.App, dict[str, Any]]:
    connector = procrastinate.PsycopgConnector(
        conninfo=libpq_url(url), kwargs={"options": "-c search_path=control"})
    app = procrastinate.App(connector=connector)
    resources: dict[str, Any] = {}

    def engine() -> Any:
        if "engine" not in resources:
            resources["engine"] = make_engine(url, settings, pool_size=2)
        return resources["engine"]

    def caches() -> Caches:
        if "caches" not in resources:
            ttl = settings.cache_ttl_seconds
            resources["caches"] = Caches(
                tenants=TenantRegistry(engine(), ttl),
                revoked=RevokedTokens(engine(), ttl, settings.token_ttl_seconds),
                keys=KeyStore(engine(), ttl))
        return resources["caches"]  # type: ignore[no-any-return]

    @app.periodic(cron="17 * * * *", periodic_id="purge_expired")
    @app.task(name="kizuna.purge_expired", queue=MAINTENANCE_QUEUE, queueing_lock="purge_expired")
    async def purge_expired_task(timestamp: int) -> dict[str, int]:
        return await purge_expired(engine(), datetime.now(UTC))

    bus = build_event_bus()
    register_analytics_tasks(app, engine, caches, bus)
    register_loyalty_tasks(app, engine, caches, bus)

    # An HTTP import (POST /v1/imports), queued with its import in one transaction. Idempotent: a
    # run continues from the progress the import recorded, and a finished import is left alone;
    # a failed run is retried and resumes where it stopped.
    @app.task(name=IMPORT_TASK, queue=IMPORTS_QUEUE,
              retry=procrastinate.RetryStrategy(max_attempts=3, wait=30))
    async def run_import_task(tenant_id: str, import_id: str) -> dict[str, Any]:
        entry = await caches().tenants.get(UUID(tenant_id))
        if entry is None:
            return {"import_id": import_id, "status": "tenant not found"}
        tenant = TenantRef(id=entry.id, slug=entry.slug, schema=entry.schema, timezone=entry.timezone,
                           currency=entry.currency)
        return await run_stored_import(
            lambda t: SqlUnitOfWork(engine(), caches(), tenant=t, bus=bus), SystemClock(), tenant,
            UUID(import_id))

    return app, resources


@contextlib.asynccontextmanager
async def job_app(settings: Settings, url: str) -> AsyncIterator[procrastinate.App]:
    app, resources = build_job_app(settings, url)
    try:
        async with app.open_async():
            yield app
    finally:
        if "engine" in resources:
            await resources["engine"].dispose()
