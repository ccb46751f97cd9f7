"""Orders: record (one or a batch), read, list, refund."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response, Security

from api.deps import Caller, tenant_caller
from api.http.batch import parse_items
from api.http.etag import etag
from api.http.idempotency import idempotent
from api.http.pagination import Page, encode_cursor, page_request
from api.http.problems import problem_responses
from api.schemas.orders import (
    Channel,
    Instant,
    OrderBatch,
    OrderBatchResult,
    OrderCreate,
    OrderRead,
    RefundCreate,
    RefundRead,
    RefundResult,
    Status,
)
from domain.orders.model import OrderStatus, SalesChannel
from domain.orders.ports import OrderFilter
from domain.orders.services import get_order, list_orders, place_order, place_orders, refund_order
from domain.shared.pagination import PageRequest

router = APIRouter(prefix="/v1/orders", tags=["orders"])
Reader = Annotated[Caller, Security(tenant_caller, scopes=["orders:read"])]
Writer = Annotated[Caller, Security(tenant_caller, scopes=["orders:write"])]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _currency(caller: Caller) -> str:
    assert caller.tenant is not None
    return caller.tenant.currency


@router.post("", status_code=201, operation_id="orders_create", response_model=OrderRead,
             summary="Record an order (totals are checked against the lines)",
             responses=problem_responses(404, 409))
async def create(request: Request, body: OrderCreate, caller: Writer,
                 idempotency_key: IdempotencyKey = None) -> Response:
    async def action() -> OrderRead:
        order = await place_order(uow=caller.uow, clock=caller.clock, tenant_currency=_currency(caller),
                                  draft=body.to_draft())
        return OrderRead.from_domain(order)

    return await idempotent(request, caller, status_code=201, action=action,
                            headers=lambda o: {"Location": f"/v1/orders/{o.id}", "ETag": etag(1)})


@router.post("/batch", operation_id="orders_create_batch", response_model=OrderBatchResult,
             summary="Record up to 1,000 orders; valid ones are stored, the others reported by index",
             responses=problem_responses(409))
async def create_batch(request: Request, body: OrderBatch, caller: Writer,
                       idempotency_key: IdempotencyKey = None) -> Response:
    items, refused = parse_items(OrderCreate, body.orders)

    async def action() -> OrderBatchResult:
        report = await place_orders(uow=caller.uow, clock=caller.clock, tenant_currency=_currency(caller),
                                    drafts=[(i, item.to_draft()) for i, item in items])
        return OrderBatchResult.from_report(report, refused)

    return await idempotent(request, caller, status_code=200, action=action)


@router.get("", operation_id="orders_list", response_model=Page[OrderRead],
            summary="List orders (filters combine with AND)", responses=problem_responses())
async def list_(caller: Reader, page: Annotated[PageRequest, Depends(page_request)],
                customer_id: UUID | None = None, status: Status | None = None,
                ordered_after: Annotated[Instant | None, Query(
                    description="ordered_at >= this (RFC 3339, with a UTC offset)")] = None,
                ordered_before: Annotated[Instant | None, Query(
                    description="ordered_at < this (RFC 3339, with a UTC offset)")] = None,
                channel: Channel | None = None,
                order_number: Annotated[str | None, Query(max_length=128)] = None) -> Page[OrderRead]:
    filters = OrderFilter(customer_id=customer_id, status=OrderStatus(status) if status else None,
                          ordered_after=ordered_after, ordered_before=ordered_before,
                          channel=SalesChannel(channel) if channel else None, order_number=order_number)
    result = await list_orders(uow=caller.uow, filters=filters, page=page)
    return Page[OrderRead](data=[OrderRead.from_domain(o) for o in result.items],
                           next_cursor=encode_cursor(result.next_after))


@router.get("/{order_id:uuid}", operation_id="orders_get", response_model=OrderRead,
            summary="Get an order with its lines and refunds", responses=problem_responses(404))
async def get(order_id: UUID, caller: Reader, response: Response) -> OrderRead:
    order = await get_order(uow=caller.uow, order_id=order_id)
    response.headers["ETag"] = etag(order.version)
    return OrderRead.from_domain(order)


@router.post("/{order_id:uuid}/refunds", status_code=201, operation_id="orders_refund",
             response_model=RefundResult, responses=problem_responses(404, 409),
             summary="Refund money and/or returned units (409 beyond what remains)")
async def refund(request: Request, order_id: UUID, body: RefundCreate, caller: Writer,
                 idempotency_key: IdempotencyKey = None) -> Response:
    async def action() -> RefundResult:
        order, made = await refund_order(uow=caller.uow, clock=caller.clock, order_id=order_id,
                                         draft=body.to_draft())
        return RefundResult(refund=RefundRead.from_domain(made), order=OrderRead.from_domain(order))

    return await idempotent(request, caller, status_code=201, action=action)
