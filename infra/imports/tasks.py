"""The imports jobs on procrastinate: running an HTTP import, and putting back the runs whose
worker died.

A worker that is killed (OOM, a lost machine, SIGKILL) leaves its job `doing` for ever: nothing
in procrastinate retries it, and the job's lock (`import:<id>`) keeps any other run of that
import waiting. Every minute a worker's periodic deferrer queues `kizuna.recover_stalled_imports`,
which returns to `todo` the import jobs held by workers whose heartbeat stopped (or that were
pruned). The next worker resumes the import from its recorded progress (`processed_rows`): the
chunks the dead worker committed are skipped, the one it was writing had rolled back.

Pick-up time: a worker's heartbeat is written every 10 s (procrastinate's default); a job counts
as stalled after STALLED_AFTER_SECONDS without one; the recovery runs at the next minute; a
worker fetches the job within its 5 s polling interval. So a dead worker's import continues about
1-2 minutes after the worker died (at most STALLED_AFTER_SECONDS + 60 s + 5 s).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import procrastinate
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.shared.clock import SystemClock
from infra.caches import Caches
from infra.db.uow import SqlUnitOfWork
from infra.events import EventBus
from infra.imports.queue import IMPORT_TASK, IMPORTS_QUEUE
from infra.imports.runner import run_stored_import
from infra.job_tenants import job_tenant

RECOVERY_TASK = "kizuna.recover_stalled_imports"
# Six missed heartbeats: a worker busy with a chunk still beats (the heartbeat is its own
# coroutine and chunks await the database), so only a dead or frozen worker goes this long.
STALLED_AFTER_SECONDS = 60


async def retry_stalled_imports(job_manager: procrastinate.JobManager, *,
                                stalled_after: float = STALLED_AFTER_SECONDS) -> list[int]:
    """Put the import jobs of dead workers back in the queue, due now; returns their job ids.
    Harmless if the worker was alive after all: a chunk commits only with the progress it
    expected, so two runs of one import never write the same rows."""
    stalled = await job_manager.get_stalled_jobs(task_name=IMPORT_TASK, seconds_since_heartbeat=stalled_after)
    retried = []
    for job in stalled:
        assert job.id is not None
        await job_manager.retry_job_by_id_async(job.id, retry_at=datetime.now(UTC))
        retried.append(job.id)
    return retried


def register(app: procrastinate.App, engine: Callable[[], AsyncEngine], caches: Callable[[], Caches],
             bus: EventBus) -> None:
    # An HTTP import (POST /v1/imports), queued with its import in one transaction. Idempotent: a
    # run continues from the progress the import recorded, and a finished import is left alone;
    # a failed run is retried and resumes where it stopped.
    @app.task(name=IMPORT_TASK, queue=IMPORTS_QUEUE,
              retry=procrastinate.RetryStrategy(max_attempts=3, wait=30))
    async def run_import_task(tenant_id: str, import_id: str) -> dict[str, Any]:
        tenant = await job_tenant(caches(), tenant_id)
        if tenant is None:
            return {"import_id": import_id, "status": "tenant not found"}
        return await run_stored_import(
            lambda t: SqlUnitOfWork(engine(), caches(), tenant=t, bus=bus), SystemClock(), tenant,
            UUID(import_id))

    @app.periodic(cron="* * * * *", periodic_id="recover_stalled_imports")
    @app.task(name=RECOVERY_TASK, queue=IMPORTS_QUEUE, queueing_lock="recover_stalled_imports")
    async def recover_task(timestamp: int) -> dict[str, list[int]]:
        return {"retried_jobs": await retry_stalled_imports(app.job_manager)}
