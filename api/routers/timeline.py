"""A customer's timeline: orders, events, consent decisions and merges, newest first."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, Security

from api.deps import Caller, tenant_caller
from api.http.pagination import Page
from api.http.problems import problem_responses
from api.schemas.events import Instant, encode_position, keyset_page
from api.schemas.timeline import Kind, TimelineEntryRead
from domain.events.keyset import KeysetPage
from domain.events.services import customer_timeline
from domain.events.timeline import TimelineFilter, TimelineKind

router = APIRouter(prefix="/v1/customers", tags=["customers"])
Reader = Annotated[Caller, Security(tenant_caller, scopes=["customers:read"])]


@router.get("/{customer_id}/timeline", operation_id="customers_get_timeline",
            response_model=Page[TimelineEntryRead], responses=problem_responses(404),
            summary="A customer's orders, events, consent decisions and merges, newest first")
async def timeline(customer_id: UUID, caller: Reader, response: Response,
                   page: Annotated[KeysetPage, Depends(keyset_page)],
                   kind: Annotated[list[Kind] | None, Query(
                       description="Only these kinds (repeat the parameter for several)")] = None,
                   start: Annotated[Instant | None, Query(
                       alias="from", description="From this instant (inclusive)")] = None,
                   end: Annotated[Instant | None, Query(
                       alias="to", description="Up to this instant (exclusive)")] = None,
                   ) -> Page[TimelineEntryRead]:
    kinds = frozenset(TimelineKind(k) for k in kind) if kind else frozenset(TimelineKind)
    filters = TimelineFilter(kinds=kinds, start=start, end=end)
    target, result = await customer_timeline(uow=caller.uow, customer_id=customer_id, filters=filters,
                                             page=page)
    if target != customer_id:
        response.headers["Content-Location"] = f"/v1/customers/{target}/timeline"
    return Page[TimelineEntryRead](data=[TimelineEntryRead.from_domain(e) for e in result.items],
                                   next_cursor=encode_position(result.next_before))
