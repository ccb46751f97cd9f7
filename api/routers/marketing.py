"""Marketing costs: what was spent, by channel and/or campaign and period (CPO and ROMI read them)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response, Security

from api.deps import Caller, tenant_caller
from api.http.etag import etag, expected_version
from api.http.idempotency import idempotent
from api.http.pagination import Page, encode_cursor, page_request
from api.http.problems import problem_responses
from api.schemas.common import Day
from api.schemas.marketing import MarketingCostCreate, MarketingCostRead, MarketingCostUpdate
from domain.marketing.model import CAMPAIGN_MAX_LENGTH, CHANNEL_MAX_LENGTH
from domain.marketing.ports import CostFilter
from domain.marketing.services import create_cost, delete_cost, get_cost, list_costs, update_cost
from domain.shared.pagination import PageRequest

router = APIRouter(prefix="/v1/marketing-costs", tags=["marketing"])
Reader = Annotated[Caller, Security(tenant_caller, scopes=["analytics:read"])]
Writer = Annotated[Caller, Security(tenant_caller, scopes=["analytics:write"])]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _currency(caller: Caller) -> str:
    assert caller.tenant is not None
    return caller.tenant.currency


@router.post("", status_code=201, operation_id="marketing_costs_create", response_model=MarketingCostRead,
             summary="Record a marketing cost (channel and/or campaign, period, amount)",
             responses=problem_responses(409))
async def create(request: Request, body: MarketingCostCreate, caller: Writer,
                 idempotency_key: IdempotencyKey = None) -> Response:
    async def action() -> MarketingCostRead:
        cost = await create_cost(uow=caller.uow, clock=caller.clock, tenant_currency=_currency(caller),
                                 fields=body.given())
        return MarketingCostRead.from_domain(cost)

    return await idempotent(request, caller, status_code=201, action=action,
                            headers=lambda c: {"Location": f"/v1/marketing-costs/{c.id}", "ETag": etag(1)})


@router.get("", operation_id="marketing_costs_list", response_model=Page[MarketingCostRead],
            summary="List marketing costs (filters combine with AND)", responses=problem_responses())
async def list_(caller: Reader, page: Annotated[PageRequest, Depends(page_request)],
                channel: Annotated[str | None, Query(max_length=CHANNEL_MAX_LENGTH)] = None,
                campaign_id: Annotated[str | None, Query(max_length=CAMPAIGN_MAX_LENGTH)] = None,
                from_: Annotated[Day | None, Query(alias="from", description=(
                    "Costs whose period ends on or after this tenant-local day"))] = None,
                to: Annotated[Day | None, Query(description=(
                    "Costs whose period starts on or before this tenant-local day"))] = None,
                ) -> Page[MarketingCostRead]:
    filters = CostFilter(channel=channel, campaign_id=campaign_id, overlaps_from=from_, overlaps_to=to)
    result = await list_costs(uow=caller.uow, filters=filters, page=page)
    return Page[MarketingCostRead](data=[MarketingCostRead.from_domain(c) for c in result.items],
                                   next_cursor=encode_cursor(result.next_after))


@router.get("/{cost_id:uuid}", operation_id="marketing_costs_get", response_model=MarketingCostRead,
            summary="Get a marketing cost", responses=problem_responses(404))
async def get(cost_id: UUID, caller: Reader, response: Response) -> MarketingCostRead:
    cost = await get_cost(uow=caller.uow, cost_id=cost_id)
    response.headers["ETag"] = etag(cost.version)
    return MarketingCostRead.from_domain(cost)


@router.patch("/{cost_id:uuid}", operation_id="marketing_costs_update", response_model=MarketingCostRead,
              summary="Change some fields (null clears channel, campaign_id or note)",
              responses=problem_responses(404, 412))
async def update(cost_id: UUID, body: MarketingCostUpdate, caller: Writer, response: Response,
                 if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> MarketingCostRead:
    cost = await update_cost(uow=caller.uow, clock=caller.clock, tenant_currency=_currency(caller),
                             cost_id=cost_id, fields=body.given(),
                             expected_version=expected_version(if_match))
    response.headers["ETag"] = etag(cost.version)
    return MarketingCostRead.from_domain(cost)


@router.delete("/{cost_id:uuid}", status_code=204, operation_id="marketing_costs_delete",
               summary="Delete a marketing cost", responses=problem_responses(404))
async def delete(cost_id: UUID, caller: Writer) -> Response:
    await delete_cost(uow=caller.uow, cost_id=cost_id)
    return Response(status_code=204)
