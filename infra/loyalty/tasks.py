"""The loyalty jobs on procrastinate.

Routed from domain events (infra/event_routes.py): points for an order placed, their reversal on
a refund, fixed points for behaviour events. Scheduled, per active tenant: expiry (hourly),
reservation timeouts (every minute), tier downgrade evaluation (daily at 04:00 tenant-local),
birthday points (daily at 09:00 tenant-local).
Pending points need no job: a lot's `available_at` decides, so they become spendable on time
even when no worker runs. Every task is idempotent (ledger idempotency keys; expired lots hold
nothing; released reservations are not reserved any more), so a retry or a second run is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import procrastinate
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.auth.model import TenantRef
from domain.loyalty import redemptions, services
from domain.shared.clock import SystemClock
from infra.caches import Caches
from infra.db.uow import SqlUnitOfWork
from infra.events import EventBus
from infra.job_tenants import active_tenants, job_tenant

LOYALTY_QUEUE = "loyalty"
# Scheduled sweeps over every tenant get their own queue: a worker draining event jobs (the test
# suite's, or a dedicated one in production) is never held up by a sweep, and sweeps can be
# given their own worker.
SCHEDULE_QUEUE = "loyalty_schedule"
ORDER_PLACED_TASK = "kizuna.loyalty.order_placed"
ORDER_REFUNDED_TASK = "kizuna.loyalty.order_refunded"
EVENTS_TASK = "kizuna.loyalty.events_ingested"
DOWNGRADE_LOCAL_HOUR = 4
BIRTHDAY_LOCAL_HOUR = 9  # birthday points arrive in the morning, tenant-local
log = logging.getLogger(__name__)

Work = Callable[[SqlUnitOfWork, TenantRef], Awaitable[int]]


def register(app: procrastinate.App, engine: Callable[[], AsyncEngine], caches: Callable[[], Caches],
             bus: EventBus) -> None:
    async def tenant(tenant_id: str) -> TenantRef | None:
        return await job_tenant(caches(), tenant_id)

    def uow(t: TenantRef) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine(), caches(), tenant=t, bus=bus)

    @app.task(name=ORDER_PLACED_TASK, queue=LOYALTY_QUEUE,
              retry=procrastinate.RetryStrategy(max_attempts=5, wait=5))
    async def order_placed(tenant_id: str, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        t = await tenant(tenant_id)
        if t is None:
            return {"status": "tenant not found"}
        written = await services.earn_for_order(uow=uow(t), clock=SystemClock(),
                                                order_id=UUID(payload["order_id"]), timezone=t.timezone)
        return {"order_id": payload["order_id"], "entries": len(written)}

    @app.task(name=ORDER_REFUNDED_TASK, queue=LOYALTY_QUEUE,
              retry=procrastinate.RetryStrategy(max_attempts=5, wait=5))
    async def order_refunded(tenant_id: str, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        t = await tenant(tenant_id)
        if t is None:
            return {"status": "tenant not found"}
        written = await services.reverse_for_refund(uow=uow(t), clock=SystemClock(),
                                                    order_id=UUID(payload["order_id"]), timezone=t.timezone)
        return {"order_id": payload["order_id"], "entries": len(written)}

    @app.task(name=EVENTS_TASK, queue=LOYALTY_QUEUE,
              retry=procrastinate.RetryStrategy(max_attempts=5, wait=5))
    async def events_ingested(tenant_id: str, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        t = await tenant(tenant_id)
        if t is None:
            return {"status": "tenant not found"}
        written = await services.earn_for_events(
            uow=uow(t), clock=SystemClock(), received_at=datetime.fromisoformat(payload["received_at"]),
            customer_ids=[UUID(c) for c in payload["customer_ids"]], types=list(payload["types"]),
            timezone=t.timezone)
        return {"entries": len(written)}

    @app.periodic(cron="7 * * * *", periodic_id="loyalty_expiry")
    @app.task(name="kizuna.loyalty.expire_points", queue=SCHEDULE_QUEUE, queueing_lock="loyalty_expiry")
    async def expire_task(timestamp: int) -> dict[str, int]:
        return await for_each_tenant(
            engine(), lambda u, t: services.expire_points(uow=u, clock=SystemClock()), uow)

    @app.periodic(cron="* * * * *", periodic_id="loyalty_reservations")
    @app.task(name="kizuna.loyalty.release_reservations", queue=SCHEDULE_QUEUE,
              queueing_lock="loyalty_reservations")
    async def reservations_task(timestamp: int) -> dict[str, int]:
        return await for_each_tenant(
            engine(), lambda u, t: redemptions.release_lapsed_reservations(uow=u, clock=SystemClock()), uow)

    @app.periodic(cron="23 * * * *", periodic_id="loyalty_downgrades")
    @app.task(name="kizuna.loyalty.evaluate_downgrades", queue=SCHEDULE_QUEUE,
              queueing_lock="loyalty_downgrades")
    async def downgrade_task(timestamp: int) -> dict[str, int]:
        at = datetime.fromtimestamp(timestamp, UTC)

        async def evaluate(u: SqlUnitOfWork, t: TenantRef) -> int:
            if at.astimezone(ZoneInfo(t.timezone)).hour != DOWNGRADE_LOCAL_HOUR:
                return 0
            return await services.evaluate_downgrades(uow=u, clock=SystemClock(), timezone=t.timezone)

        return await for_each_tenant(engine(), evaluate, uow)

    @app.periodic(cron="3 * * * *", periodic_id="loyalty_birthdays")
    @app.task(name="kizuna.loyalty.birthdays", queue=SCHEDULE_QUEUE, queueing_lock="loyalty_birthdays")
    async def birthday_task(timestamp: int) -> dict[str, int]:
        at = datetime.fromtimestamp(timestamp, UTC)

        async def award(u: SqlUnitOfWork, t: TenantRef) -> int:
            if at.astimezone(ZoneInfo(t.timezone)).hour != BIRTHDAY_LOCAL_HOUR:
                return 0
            return await services.award_birthdays(uow=u, clock=SystemClock(), timezone=t.timezone)

        return await for_each_tenant(engine(), award, uow)


async def for_each_tenant(engine: AsyncEngine, work: Work,
                          uow: Callable[[TenantRef], SqlUnitOfWork]) -> dict[str, int]:
    """Run `work` for every active tenant; one failing tenant does not stop the others (it is
    retried by the next run, which is harmless: every piece of work is idempotent)."""
    active = await active_tenants(engine)
    done, failed = 0, 0
    for t in active:
        try:
            done += await work(uow(t), t)
        except Exception:
            log.exception("loyalty job failed for tenant %s", t.slug)
            failed += 1
    return {"tenants": len(active), "changed": done, "failed_tenants": failed}
