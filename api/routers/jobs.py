"""Background jobs a caller started (analytics recompute, CLV fits): status and progress."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Security

from api.deps import Caller, tenant_caller
from api.http.problems import problem_responses
from api.schemas.jobs import JobRead
from domain.analytics.services import get_job

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
Reader = Annotated[Caller, Security(tenant_caller, scopes=["analytics:read"])]


@router.get("/{job_id}", operation_id="jobs_get", response_model=JobRead,
            summary="A job: status (queued, running, succeeded, failed), progress, result or error",
            responses=problem_responses(404))
async def get(job_id: UUID, caller: Reader) -> JobRead:
    return JobRead.from_domain(await get_job(uow=caller.uow, job_id=job_id))
