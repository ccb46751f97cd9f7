"""Entry campaigns (キャンペーン応募): campaigns, purchase codes, entries, the lottery."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, Response, Security

from api.deps import Caller, tenant_caller
from api.http.etag import etag, expected_version
from api.http.idempotency import idempotent
from api.http.pagination import Page, encode_cursor, page_request
from api.http.problems import problem_responses
from api.schemas.loyalty_campaigns import (
    CampaignCreate,
    CampaignRead,
    CampaignUpdate,
    CodeUploadBody,
    CodeUploadRead,
    DrawBody,
    DrawRead,
    EntryCreate,
    EntryRead,
    Kind,
    Status,
    entries_page,
)
from domain.loyalty.campaign_model import CampaignKind, CampaignStatus
from domain.loyalty.campaign_ports import CampaignFilter
from domain.loyalty.campaign_services import (
    create_campaign,
    draw_lottery,
    enter_campaign,
    get_campaign,
    get_draw,
    list_campaigns,
    list_entries,
    update_campaign,
    upload_codes,
)
from domain.shared.pagination import PageRequest

router = APIRouter(prefix="/v1/loyalty/campaigns", tags=["loyalty"])
Reader = Annotated[Caller, Security(tenant_caller, scopes=["loyalty:read"])]
Writer = Annotated[Caller, Security(tenant_caller, scopes=["loyalty:write"])]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _tz(caller: Caller) -> str:
    assert caller.tenant is not None
    return caller.tenant.timezone


@router.post("", status_code=201, operation_id="loyalty_campaigns_create", response_model=CampaignRead,
             summary="Create an entry campaign (open or must_buy)", responses=problem_responses(409))
async def create(request: Request, body: CampaignCreate, caller: Writer,
                 idempotency_key: IdempotencyKey = None) -> Response:
    async def action() -> CampaignRead:
        campaign = await create_campaign(uow=caller.uow, clock=caller.clock, fields=body.given())
        return CampaignRead.from_domain(campaign)

    return await idempotent(request, caller, status_code=201, action=action, headers=lambda c: {
        "Location": f"/v1/loyalty/campaigns/{c.id}", "ETag": etag(1)})


@router.get("", operation_id="loyalty_campaigns_list", response_model=Page[CampaignRead],
            summary="List entry campaigns", responses=problem_responses())
async def list_(caller: Reader, page: Annotated[PageRequest, Depends(page_request)],
                status: Status | None = None, kind: Kind | None = None) -> Page[CampaignRead]:
    filters = CampaignFilter(status=CampaignStatus(status) if status else None,
                             kind=CampaignKind(kind) if kind else None)
    result = await list_campaigns(uow=caller.uow, filters=filters, page=page)
    return Page[CampaignRead](data=[CampaignRead.from_domain(c) for c in result.items],
                              next_cursor=encode_cursor(result.next_after))


@router.get("/{campaign_id}", operation_id="loyalty_campaigns_get", response_model=CampaignRead,
            summary="Get an entry campaign", responses=problem_responses(404))
async def get(campaign_id: UUID, caller: Reader, response: Response) -> CampaignRead:
    campaign = await get_campaign(uow=caller.uow, campaign_id=campaign_id)
    response.headers["ETag"] = etag(campaign.version)
    return CampaignRead.from_domain(campaign)


@router.patch("/{campaign_id}", operation_id="loyalty_campaigns_update", response_model=CampaignRead,
              summary="Change some fields or the status (draft -> active -> closed)",
              responses=problem_responses(404, 409, 412))
async def update(campaign_id: UUID, body: CampaignUpdate, caller: Writer, response: Response,
                 if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> CampaignRead:
    campaign = await update_campaign(uow=caller.uow, clock=caller.clock, campaign_id=campaign_id,
                                     fields=body.given(), expected_version=expected_version(if_match))
    response.headers["ETag"] = etag(campaign.version)
    return CampaignRead.from_domain(campaign)


@router.post("/{campaign_id}/codes", operation_id="loyalty_campaigns_upload_codes",
             response_model=CodeUploadRead, responses=problem_responses(404, 409),
             summary="Upload up to 10,000 one-time purchase codes (stored hashed)")
async def codes(request: Request, campaign_id: UUID, body: CodeUploadBody, caller: Writer,
                idempotency_key: IdempotencyKey = None) -> Response:
    async def action() -> CodeUploadRead:
        report = await upload_codes(uow=caller.uow, clock=caller.clock, campaign_id=campaign_id,
                                    codes=body.codes)
        return CodeUploadRead.from_report(report)

    return await idempotent(request, caller, status_code=200, action=action)


@router.post("/{campaign_id}/entries", status_code=201, operation_id="loyalty_campaigns_enter",
             response_model=EntryRead, responses=problem_responses(404, 409),
             summary="Enter a campaign (409 campaign_not_open, entry_limit_reached, code_already_used, ...)")
async def enter(request: Request, campaign_id: UUID, body: EntryCreate, caller: Writer,
                idempotency_key: IdempotencyKey = None) -> Response:
    async def action() -> EntryRead:
        entry = await enter_campaign(uow=caller.uow, clock=caller.clock, timezone=_tz(caller),
                                     actor=caller.principal.client_id, campaign_id=campaign_id,
                                     draft=body.to_draft())
        return EntryRead.from_domain(entry)

    return await idempotent(request, caller, status_code=201, action=action)


@router.get("/{campaign_id}/entries", operation_id="loyalty_campaigns_list_entries",
            response_model=Page[EntryRead], summary="A campaign's entries, oldest first",
            responses=problem_responses(404))
async def entries(campaign_id: UUID, caller: Reader, page: Annotated[PageRequest, Depends(page_request)],
                  customer_id: UUID | None = None) -> Page[EntryRead]:
    result = await list_entries(uow=caller.uow, campaign_id=campaign_id, customer_id=customer_id, page=page)
    return Page[EntryRead](data=entries_page(result.items), next_cursor=encode_cursor(result.next_after))


@router.post("/{campaign_id}/draw", status_code=201, operation_id="loyalty_campaigns_draw",
             response_model=DrawRead, responses=problem_responses(404, 409),
             summary="Draw the lottery after the end, with a recorded seed (409 if drawn, unless redraw)")
async def draw(request: Request, campaign_id: UUID, caller: Writer, body: DrawBody | None = None,
               idempotency_key: IdempotencyKey = None) -> Response:
    async def action() -> DrawRead:
        made = await draw_lottery(uow=caller.uow, clock=caller.clock, actor=caller.principal.client_id,
                                  campaign_id=campaign_id, seed=body.seed if body else None,
                                  redraw=body.redraw if body else False)
        return DrawRead.from_domain(made)

    return await idempotent(request, caller, status_code=201, action=action)


@router.get("/{campaign_id}/draw", operation_id="loyalty_campaigns_get_draw", response_model=DrawRead,
            summary="The latest draw: seed, algorithm, pool and winners", responses=problem_responses(404))
async def get_draw_(campaign_id: UUID, caller: Reader) -> DrawRead:
    return DrawRead.from_domain(await get_draw(uow=caller.uow, campaign_id=campaign_id))
