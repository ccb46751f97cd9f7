"""Order use cases: record orders (one or a batch), read them, refund them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from uuid import UUID

from domain.customers.model import CustomerRef
from domain.customers.services import resolve_customer
from domain.orders.events import OrderPlaced, OrderRefunded
from domain.orders.model import Order, OrderDraft, Refund, RefundDraft, ValidOrder, validate_order
from domain.orders.ports import OrderFilter
from domain.shared.batch import MAX_BATCH, ItemError
from domain.shared.clock import Clock
from domain.shared.errors import Conflict, DomainError, InvalidInput, NotFound
from domain.shared.ids import new_id
from domain.shared.pagination import Page, PageRequest, page_from
from domain.shared.ports import UnitOfWork
from domain.shared.text import clean_text


@dataclass
class PlaceReport:
    accepted: list[tuple[int, Order]] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)


def _duplicate(order_number: str, order_id: UUID | None, detail: str | None = None) -> Conflict:
    extra: dict[str, object] = {"code": "duplicate_order_number"}
    if order_id is not None:
        extra["order_id"] = str(order_id)
    return Conflict(detail or f"order_number {order_number!r} is already recorded", extra=extra)


async def place_order(*, uow: UnitOfWork, clock: Clock, tenant_currency: str, draft: OrderDraft) -> Order:
    """Record one order: checked (totals against lines, dates, currency), its customer resolved
    (an unknown identity creates the customer), OrderPlaced published. A recorded order_number is
    409 naming the stored order."""
    report = await place_orders(uow=uow, clock=clock, tenant_currency=tenant_currency,
                                drafts=[(0, draft)])
    if report.errors:
        raise report.errors[0].error
    return report.accepted[0][1]


async def place_orders(*, uow: UnitOfWork, clock: Clock, tenant_currency: str,
                       drafts: Sequence[tuple[int, OrderDraft]]) -> PlaceReport:
    """Record a batch in one transaction and a constant number of statements (plus a few for
    each customer the batch creates). `drafts` are (index in the request, draft).

    Each item stands alone: one that fails validation, names an unknown customer id or repeats an
    order_number (earlier in the batch, or already recorded) is refused with its reason and the
    others are stored. So re-sending a batch stores nothing twice: its items come back as
    `duplicate_order_number` errors naming the stored orders.
    """
    if len(drafts) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} orders per batch", field="orders")
    now = clock.now()
    report = PlaceReport()
    valid: list[tuple[int, ValidOrder]] = []
    first_index: dict[str, int] = {}
    for index, draft in drafts:
        try:
            checked = validate_order(draft, now=now, tenant_currency=tenant_currency)
        except InvalidInput as exc:
            report.errors.append(ItemError(index, exc))
            continue
        if checked.order_number in first_index:
            report.errors.append(ItemError(index, _duplicate(
                checked.order_number, None,
                f"order_number {checked.order_number!r} is already in this batch at index "
                f"{first_index[checked.order_number]}")))
            continue
        first_index[checked.order_number] = index
        valid.append((index, checked))

    async with uow:
        taken = await uow.orders.ids_by_number(sorted(first_index))
        pending: list[tuple[int, ValidOrder]] = []
        for index, checked in valid:
            if checked.order_number in taken:
                report.errors.append(ItemError(index, _duplicate(checked.order_number,
                                                                 taken[checked.order_number])))
            else:
                pending.append((index, checked))
        # Customers are resolved only for orders that will be stored, so a refused order never
        # leaves a new customer behind.
        customers = await _resolve_all(uow, clock, [checked.customer for _, checked in pending])
        skus = sorted({sku for _, checked in pending for sku in checked.skus_without_cost()})
        costs = await uow.products.costs_by_sku(skus)
        orders: list[tuple[int, Order]] = []
        for index, checked in pending:
            customer = customers[checked.customer]
            if isinstance(customer, DomainError):
                report.errors.append(ItemError(index, customer))
                continue
            orders.append((index, checked.to_order(id=new_id(), customer_id=customer,
                                                   catalogue_costs=costs, now=now)))
        inserted = await uow.orders.add_many([order for _, order in orders])
        for index, order in orders:
            if order.id not in inserted:  # a concurrent request recorded this number meanwhile
                report.errors.append(ItemError(index, _duplicate(order.order_number, None)))
                continue
            report.accepted.append((index, order))
            uow.publish(OrderPlaced(order_id=order.id, customer_id=order.customer_id,
                                    order_number=order.order_number, total=order.total,
                                    currency=order.currency, ordered_at=order.ordered_at,
                                    channel=order.channel.value, status=order.status.value))
        await uow.commit()
    report.errors.sort(key=lambda e: e.index)
    return report


async def _resolve_all(uow: UnitOfWork, clock: Clock,
                       refs: Sequence[CustomerRef]) -> dict[CustomerRef, UUID | DomainError]:
    """Each distinct reference once. Known active ids and known identities come from one look-up;
    the rest (unknown identities, which create customers; merged or missing ids) go through
    resolve_customer, the documented rule. A concurrent creation of the same customer (Conflict)
    fails the whole request: retrying it is safe, as nothing was stored."""
    distinct = list(dict.fromkeys(refs))
    known = await uow.orders.known_customers(
        [r.id for r in distinct if r.id is not None],
        [(r.identity_type, r.identity_value) for r in distinct
         if r.identity_type is not None and r.identity_value is not None])
    resolved: dict[CustomerRef, UUID | DomainError] = {}
    for ref in distinct:
        if ref.id is not None and ref.id in known.active_ids:
            resolved[ref] = ref.id
            continue
        holder = known.by_identity.get((ref.identity_type or "", ref.identity_value or ""))
        if holder is not None:
            resolved[ref] = holder
            continue
        try:
            resolved[ref] = await resolve_customer(uow=uow, clock=clock, ref=ref)
        except NotFound as exc:
            resolved[ref] = exc
    return resolved


async def get_order(*, uow: UnitOfWork, order_id: UUID) -> Order:
    async with uow:
        order = await uow.orders.get(order_id)
    if order is None:
        raise NotFound("order", order_id)
    return order


async def list_orders(*, uow: UnitOfWork, filters: OrderFilter, page: PageRequest) -> Page[Order]:
    for name in ("ordered_after", "ordered_before"):
        value = getattr(filters, name)
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} needs a UTC offset", field=name)
    if filters.order_number is not None:
        filters = replace(filters, order_number=clean_text(filters.order_number, field="order_number",
                                                           max_length=128))
    async with uow:
        rows = await uow.orders.search(filters, page)
    return page_from(rows, page)


async def refund_order(*, uow: UnitOfWork, clock: Clock, order_id: UUID,
                       draft: RefundDraft) -> tuple[Order, Refund]:
    """Refund money and/or returned units (docs/orders.md). The order row is locked, so two
    concurrent refunds can never together exceed what remains."""
    now = clock.now()
    async with uow:
        order = await uow.orders.lock(order_id)
        if order is None:
            raise NotFound("order", order_id)
        updated, refund = order.refund(draft, refund_id=new_id(), now=now)
        await uow.orders.add_refund(refund, updated)
        uow.publish(OrderRefunded(order_id=order.id, customer_id=order.customer_id, refund_id=refund.id,
                                  amount=refund.amount, refunded_total=updated.refunded_total,
                                  total=updated.total, currency=updated.currency,
                                  status=updated.status.value, refunded_at=refund.refunded_at))
        await uow.commit()
    return updated, refund
