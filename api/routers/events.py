"""Events: ingest one or a batch (COPY, per-item results), read them back."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response, Security
from fastapi.routing import APIRoute

from api.deps import Caller, tenant_caller
from api.http.idempotency import idempotent, idempotent_with_status
from api.http.pagination import Page
from api.http.problems import problem_responses
from api.schemas.event_records import DecodedEventBatch, decode_event_batch
from api.schemas.events import (
    EventBatchCreate,
    EventBatchRead,
    EventCreate,
    EventRead,
    Instant,
    encode_position,
    keyset_page,
)
from domain.events.keyset import KeysetPage
from domain.events.ports import EventFilter
from domain.events.services import get_event, ingest_events, list_events, record_event


class OrjsonRequest(Request):
    """Batches are up to a thousand events (hundreds of KB): orjson decodes them several times
    faster than the standard library. It refuses what JSON does not allow (NaN, invalid UTF-8),
    which FastAPI reports as a malformed body like any other decoding error."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


class EventBatchRequest(OrjsonRequest):
    """A batch is first decoded into typed records (api.schemas.event_records); a body they do
    not fit is decoded as plain JSON, as on every other route."""

    typed: DecodedEventBatch | None = None

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            self.typed = decode_event_batch(body)
            self._json = {"events": self.typed.typed} if self.typed is not None else orjson.loads(body)
        return self._json


class OrjsonRoute(APIRoute):
    request_class: type[OrjsonRequest] = OrjsonRequest

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        request_class = self.request_class

        async def decode_with_orjson(request: Request) -> Response:
            return await handler(request_class(request.scope, request.receive))

        return decode_with_orjson


class EventBatchRoute(OrjsonRoute):
    request_class = EventBatchRequest


router = APIRouter(prefix="/v1/events", tags=["events"], route_class=OrjsonRoute)
Reader = Annotated[Caller, Security(tenant_caller, scopes=["events:read"])]
Writer = Annotated[Caller, Security(tenant_caller, scopes=["events:write"])]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


@router.post("", status_code=201, operation_id="events_create", response_model=EventRead,
             summary="Record one event (a re-sent event_id returns the event stored first, with 200)",
             responses=problem_responses(404, 409) | {
                 200: {"model": EventRead, "description": "A duplicate of a stored event_id"}})
async def create(request: Request, body: EventCreate, caller: Writer,
                 idempotency_key: IdempotencyKey = None) -> Response:
    async def action() -> tuple[int, EventRead]:
        event, stored = await record_event(uow=caller.uow, clock=caller.clock, item=body.given())
        return (201 if stored else 200), EventRead.from_domain(event)

    return await idempotent_with_status(request, caller, action=action,
                                        headers=lambda e: {"Location": f"/v1/events/{e.id}"})


async def create_batch(request: Request, body: EventBatchCreate, caller: Writer,
                       idempotency_key: IdempotencyKey = None) -> Response:
    typed = request.typed if isinstance(request, EventBatchRequest) else None
    items: Sequence[Any] | DecodedEventBatch = typed if typed is not None else body.events

    async def action() -> EventBatchRead:
        report = await ingest_events(uow=caller.uow, clock=caller.clock, items=items)
        return EventBatchRead.from_report(report)

    return await idempotent(request, caller, status_code=200, action=action)


router.add_api_route(
    "/batch", create_batch, methods=["POST"], route_class_override=EventBatchRoute,
    operation_id="events_create_batch", response_model=EventBatchRead,
    summary="Record up to 1,000 events; valid items are stored, the others reported by index",
    responses=problem_responses(409))


@router.get("", operation_id="events_list", response_model=Page[EventRead],
            summary="List events, newest first (filters combine with AND)", responses=problem_responses())
async def list_(caller: Reader, page: Annotated[KeysetPage, Depends(keyset_page)],
                customer_id: Annotated[UUID | None, Query(
                    description="A merged customer's id lists the customer it was merged into")] = None,
                type: Annotated[str | None, Query(max_length=80)] = None,
                occurred_after: Instant | None = None,
                occurred_before: Instant | None = None) -> Page[EventRead]:
    filters = EventFilter(customer_id=customer_id, type=type, occurred_after=occurred_after,
                          occurred_before=occurred_before)
    result = await list_events(uow=caller.uow, filters=filters, page=page)
    return Page[EventRead](data=[EventRead.from_domain(e) for e in result.items],
                           next_cursor=encode_position(result.next_before))


@router.get("/{event_id:uuid}", operation_id="events_get", response_model=EventRead, summary="Get an event",
            responses=problem_responses(404))
async def get(event_id: UUID, caller: Reader) -> EventRead:
    return EventRead.from_domain(await get_event(uow=caller.uow, event_id=event_id))

