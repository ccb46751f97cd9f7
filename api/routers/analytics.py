"""Analytics: settings, per-customer metrics, RFM distribution, recompute, the CLV model."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Request, Response, Security

from api.deps import Caller, tenant_caller
from api.http.etag import etag, expected_version
from api.http.idempotency import idempotent
from api.http.problems import problem_responses
from api.schemas.analytics import (
    AnalyticsSettingsBody,
    AnalyticsSettingsRead,
    ClvFitBody,
    ClvModelRead,
    CustomerMetricsRead,
    RfmDistributionRead,
)
from api.schemas.jobs import JobRead
from domain.analytics.model import AnalyticsJob
from domain.analytics.services import (
    fit_clv,
    get_clv_model,
    get_customer_metrics,
    get_settings,
    put_settings,
    request_recompute,
    rfm_distribution,
)

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])
customer_metrics_router = APIRouter(prefix="/v1/customers", tags=["analytics"])
Reader = Annotated[Caller, Security(tenant_caller, scopes=["analytics:read"])]
Writer = Annotated[Caller, Security(tenant_caller, scopes=["analytics:write"])]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _tz(caller: Caller) -> str:
    assert caller.tenant is not None
    return caller.tenant.timezone


@router.get("/settings", operation_id="analytics_get_settings", response_model=AnalyticsSettingsRead,
            summary="The tenant's analytics settings (defaults until changed)", responses=problem_responses())
async def read_settings(caller: Reader, response: Response) -> AnalyticsSettingsRead:
    settings, version = await get_settings(uow=caller.uow)
    response.headers["ETag"] = etag(version)
    return AnalyticsSettingsRead.from_domain(settings)


@router.put("/settings", operation_id="analytics_put_settings", response_model=AnalyticsSettingsRead,
            summary="Replace the analytics settings (omitted fields take their defaults)",
            description="Send `If-Match` with the ETag of your read to avoid overwriting another change"
                        " (412 when it no longer matches). New values apply to metrics from the next"
                        " order or recompute.",
            responses=problem_responses(412))
async def write_settings(body: AnalyticsSettingsBody, caller: Writer, response: Response,
                         if_match: Annotated[str | None,
                                             Header(alias="If-Match")] = None) -> AnalyticsSettingsRead:
    settings, version = await put_settings(uow=caller.uow, clock=caller.clock, settings=body.to_domain(),
                                           expected_version=expected_version(if_match))
    response.headers["ETag"] = etag(version)
    return AnalyticsSettingsRead.from_domain(settings)


@customer_metrics_router.get(
    "/{customer_id}/metrics", operation_id="analytics_get_customer_metrics",
    response_model=CustomerMetricsRead,
    summary="A customer's metrics: purchases, RFM, historical, formula and predicted LTV, dormancy, F2",
    description="A merged customer's id returns the metrics of the customer it was merged into"
                " (`Content-Location` names it). A customer without counted orders has zeros and nulls.",
    responses=problem_responses(404))
async def customer_metrics(customer_id: UUID, caller: Reader, response: Response) -> CustomerMetricsRead:
    view = await get_customer_metrics(uow=caller.uow, clock=caller.clock, timezone=_tz(caller),
                                      customer_id=customer_id)
    if view.redirected:
        response.headers["Content-Location"] = f"/v1/customers/{view.customer_id}/metrics"
    return CustomerMetricsRead.from_view(view)


@router.get("/rfm", operation_id="analytics_get_rfm", response_model=RfmDistributionRead,
            summary="RFM distribution: customers, revenue and shares per segment and per score cell",
            responses=problem_responses())
async def rfm(caller: Reader) -> RfmDistributionRead:
    distribution, settings = await rfm_distribution(uow=caller.uow)
    return RfmDistributionRead.from_domain(distribution, settings)


@router.post("/recompute", status_code=202, operation_id="analytics_recompute", response_model=JobRead,
             summary="Recompute every customer's metrics (a job; poll GET /v1/jobs/{id})",
             description="While a recompute is queued or running, its job is returned instead of a new one."
                         " Reads keep serving the previous results until the new ones are complete.",
             responses=problem_responses())
async def recompute(request: Request, caller: Writer, idempotency_key: IdempotencyKey = None) -> Response:
    assert caller.tenant is not None
    tenant_id = caller.tenant.id

    async def action() -> JobRead:
        job = await request_recompute(uow=caller.uow, clock=caller.clock, tenant_id=tenant_id,
                                      created_by=caller.principal.client_id)
        return JobRead.from_domain(job)

    return await idempotent(request, caller, status_code=202, action=action,
                            headers=lambda j: {"Location": f"/v1/jobs/{j.id}"})


@router.post("/clv/fit", operation_id="analytics_fit_clv", response_model=ClvModelRead,
             summary="Fit the CLV model (BG/NBD + Gamma-Gamma): 200 with the model, or 202 with a job",
             description="Tenants with up to 50,000 buyers get the model (200); larger ones a job (202) after"
                         " which `GET /v1/analytics/clv/model` returns it. 422 `not_enough_data` names the"
                         " threshold; 422 `fit_did_not_converge` says why the optimum cannot be trusted.",
             responses=problem_responses() | {202: {"model": JobRead, "description": "Fitting as a job"}})
async def fit(body: ClvFitBody, caller: Writer) -> Response:
    assert caller.tenant is not None
    result = await fit_clv(uow=caller.uow, clock=caller.clock, timezone=_tz(caller),
                           tenant_id=caller.tenant.id,
                           created_by=caller.principal.client_id, observation_end=body.observation_end,
                           time_unit=body.time_unit)
    if isinstance(result, AnalyticsJob):
        return Response(JobRead.from_domain(result).model_dump_json(), status_code=202,
                        media_type="application/json", headers={"Location": f"/v1/jobs/{result.id}"})
    return Response(ClvModelRead.from_domain(result).model_dump_json(), status_code=200,
                    media_type="application/json")


@router.get("/clv/model", operation_id="analytics_get_clv_model", response_model=ClvModelRead,
            summary="The current CLV model (the latest fit); 404 before the first fit",
            responses=problem_responses(404))
async def model(caller: Reader) -> ClvModelRead:
    return ClvModelRead.from_domain(await get_clv_model(uow=caller.uow))
