"""Background jobs (analytics recompute and CLV fits) as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from api.schemas.common import ResponseBody
from domain.analytics.model import AnalyticsJob


class JobRead(ResponseBody):
    id: UUID
    kind: Literal["recompute", "clv_fit"] = Field(description="recompute: every customer's metrics;"
                                                              " clv_fit: the CLV model")
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float = Field(ge=0, le=1, description="0 to 1", examples=[0.6])
    stage: str = Field(description="What the job is doing: aggregating, predicting, publishing, fitting,"
                                   " done",
                       examples=["predicting"])
    params: dict[str, Any] = Field(description="What the job was asked to do",
                                   examples=[{"observation_end": "2026-09-30", "time_unit": "week"}])
    result: dict[str, Any] | None = Field(description="When succeeded: what it did",
                                          examples=[{"customers": 120345, "as_of": "2026-11-23"}])
    error: dict[str, Any] | None = Field(description="When failed: why (detail, and the problem's code and"
                                                     " numbers for a fit the data cannot support)")
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_domain(cls, job: AnalyticsJob) -> JobRead:
        return cls(id=job.id, kind=job.kind.value, status=job.status.value, progress=job.progress,
                   stage=job.stage, params=job.params, result=job.result, error=job.error,
                   created_by=job.created_by, created_at=job.created_at, started_at=job.started_at,
                   finished_at=job.finished_at)
