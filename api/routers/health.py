"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from api.deps import wiring

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: bool
    control_revision: str | None = None
    control_head: str | None = None
    tenants_behind: int | None = None
    tenant_head: str | None = None


@router.get("/healthz", operation_id="health_live", response_model=Health,
            summary="The process is up (no dependencies checked)")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", operation_id="health_ready", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "Not ready"}},
            summary="Database reachable and every schema at its migration head")
async def readyz(request: Request) -> JSONResponse:
    report = await wiring(request).readiness()
    return JSONResponse(report, status_code=200 if report["status"] == "ready" else 503)


@router.get("/metrics", operation_id="health_metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    collect = getattr(request.app.state, "collect_metrics", None)
    if collect is not None:
        collect()
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
