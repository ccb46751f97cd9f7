"""The analytics jobs on procrastinate: full recompute, CLV fit, the nightly schedule, and the
per-customer refresh that order events are routed to (infra/event_routes.py).

Every task binds its unit of work to the tenant the job names, as a request does, and is
idempotent: a recompute or refresh computes from the orders, so running it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import procrastinate
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.analytics.services import (
    recompute_metrics,
    refresh_customer_metrics,
    request_recompute,
    run_clv_fit,
)
from domain.auth.model import TenantRef
from domain.shared.clock import SystemClock
from infra.analytics.queue import ANALYTICS_QUEUE, CLV_FIT_TASK, NIGHTLY_TASK, RECOMPUTE_TASK, REFRESH_TASK
from infra.analytics.refresh import SqlMetricsRefresh
from infra.caches import Caches
from infra.db.uow import SqlUnitOfWork
from infra.events import EventBus
from infra.job_tenants import active_tenants, job_tenant

NIGHTLY_LOCAL_HOUR = 3  # each tenant's recompute is queued at 03:00 in its own timezone
NIGHTLY_ACTOR = "kizuna:nightly"


def register(app: procrastinate.App, engine: Callable[[], AsyncEngine], caches: Callable[[], Caches],
             bus: EventBus) -> None:
    async def tenant(tenant_id: str) -> TenantRef | None:
        return await job_tenant(caches(), tenant_id)

    def factory(t: TenantRef) -> Callable[[], SqlUnitOfWork]:
        return lambda: SqlUnitOfWork(engine(), caches(), tenant=t, bus=bus)

    @app.task(name=RECOMPUTE_TASK, queue=ANALYTICS_QUEUE,
              retry=procrastinate.RetryStrategy(max_attempts=3, wait=60))
    async def recompute_task(tenant_id: str, job_id: str) -> dict[str, Any]:
        t = await tenant(tenant_id)
        if t is None:
            return {"job_id": job_id, "status": "tenant not found"}
        return await recompute_metrics(uow_factory=factory(t), clock=SystemClock(), timezone=t.timezone,
                                       job_id=UUID(job_id))

    @app.task(name=CLV_FIT_TASK, queue=ANALYTICS_QUEUE,
              retry=procrastinate.RetryStrategy(max_attempts=2, wait=60))
    async def clv_fit_task(tenant_id: str, job_id: str) -> dict[str, Any]:
        t = await tenant(tenant_id)
        if t is None:
            return {"job_id": job_id, "status": "tenant not found"}
        return await run_clv_fit(uow_factory=factory(t), clock=SystemClock(), timezone=t.timezone,
                                 job_id=UUID(job_id))

    # Order events (routed in infra/event_routes.py): refresh the one customer's row.
    @app.task(name=REFRESH_TASK, queue=ANALYTICS_QUEUE,
              retry=procrastinate.RetryStrategy(max_attempts=5, wait=5))
    async def refresh_task(tenant_id: str, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        t = await tenant(tenant_id)
        if t is None:
            return {"status": "tenant not found"}
        customer_ids = [payload[k] for k in ("customer_id", "source_id", "target_id")
                        if payload.get(k)]
        for customer_id in customer_ids:
            await refresh_customer_metrics(session=SqlMetricsRefresh(engine(), t.schema), clock=SystemClock(),
                                           timezone=t.timezone, customer_id=UUID(str(customer_id)))
        return {"event": event, "customers": len(customer_ids)}

    @app.periodic(cron="0 * * * *", periodic_id="analytics_nightly")
    @app.task(name=NIGHTLY_TASK, queue=ANALYTICS_QUEUE, queueing_lock="analytics_nightly")
    async def nightly_task(timestamp: int) -> dict[str, int]:
        return await queue_nightly(engine(), caches(), bus, datetime.fromtimestamp(timestamp, UTC))


async def queue_nightly(engine: AsyncEngine, caches: Caches, bus: EventBus, now: datetime) -> dict[str, int]:
    """Queue a recompute for every active tenant for which it is now NIGHTLY_LOCAL_HOUR o'clock
    (the task runs hourly, so each tenant gets one a night in its own timezone)."""
    active = await active_tenants(engine)
    queued = 0
    for t in active:
        if now.astimezone(ZoneInfo(t.timezone)).hour != NIGHTLY_LOCAL_HOUR:
            continue
        await request_recompute(uow=SqlUnitOfWork(engine, caches, tenant=t, bus=bus), clock=SystemClock(),
                                tenant_id=t.id, created_by=NIGHTLY_ACTOR)
        queued += 1
    return {"tenants": len(active), "queued": queued}
