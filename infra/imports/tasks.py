"""The imports job on procrastinate: running an HTTP import. A run whose worker died is put back
by the general recovery (infra/job_recovery.py) and resumes from the import's recorded progress.
"""

from __future__ import annotations

from collections.abc import Callable
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
