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

import procrastinate

from infra.analytics.tasks import register as register_analytics_tasks
from infra.auth.keys import KeyStore
from infra.caches import Caches, RevokedTokens, TenantRegistry
from infra.db.engine import make_engine
from infra.db.maintenance import purge_expired
from infra.db.urls import libpq_url
from infra.event_routes import build_event_bus
from infra.imports.tasks import register as register_import_tasks
from infra.job_recovery import RECOVERY_TASK, retry_stalled_jobs
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

    @app.periodic(cron="* * * * *", periodic_id="recover_stalled_jobs")
    @app.task(name=RECOVERY_TASK, queue=MAINTENANCE_QUEUE, queueing_lock="recover_stalled_jobs")
    async def recover_stalled_jobs_task(timestamp: int) -> dict[str, list[int]]:
        return {"retried_jobs": await retry_stalled_jobs(app.job_manager)}

    bus = build_event_bus()
    register_analytics_tasks(app, engine, caches, bus)
    register_loyalty_tasks(app, engine, caches, bus)

    register_import_tasks(app, engine, caches, bus)

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
