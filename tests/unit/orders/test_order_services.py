"""Order use cases with fakes: customers resolved, catalogue costs, batches, refunds, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.customers.events import CustomerCreated
from domain.customers.model import Customer
from domain.orders.events import OrderPlaced, OrderRefunded
from domain.orders.model import LineDraft, OrderDraft, OrderStatus, RefundDraft, expected_total
from domain.orders.ports import OrderFilter
from domain.orders.services import get_order, list_orders, place_order, place_orders, refund_order
from domain.products.model import Product
from domain.shared.errors import Conflict, InvalidInput, NotFound
from domain.shared.pagination import PageRequest
from tests.fakes import FixedClock
from tests.unit.orders.fakes import CommerceUnitOfWork

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def draft(number: str = "N-1", customer=None, lines=None, **fields) -> OrderDraft:
    lines = lines or [LineDraft("A", 2, 1000), LineDraft("B", 1, 500, 100)]
    values = {"order_number": number, "customer": customer or {"email": "hanako@example.jp"},
              "ordered_at": NOW - timedelta(hours=1), "lines": lines, "channel": "ec",
              "total": expected_total(lines, fields.get("discount_total", 0), fields.get("shipping_total", 0))}
    return OrderDraft(**(values | fields))


def customer(**fields) -> Customer:
    return Customer(id=uuid4(), created_at=NOW, updated_at=NOW, **fields)


async def place(uow, d, currency="JPY"):
    return await place_order(uow=uow, clock=FixedClock(NOW), tenant_currency=currency, draft=d)


async def test_an_unknown_identity_creates_the_customer_and_both_facts_are_published():
    uow = CommerceUnitOfWork()
    uow.data.products[uuid4()] = Product(id=uuid4(), sku="A", name="a", currency="JPY", created_at=NOW,
                                         updated_at=NOW, cost=300)
    order = await place(uow, draft())
    assert [x.unit_cost for x in order.lines] == [300, 100]  # A from the catalogue
    assert order.gross_profit == 2500 - 700
    assert uow.data.identities[("email", "hanako@example.jp")] == order.customer_id
    assert [type(e) for e in uow.published] == [CustomerCreated, OrderPlaced]
    placed = uow.published[1]
    assert isinstance(placed, OrderPlaced)
    assert (placed.order_id, placed.customer_id, placed.total, placed.ordered_at) == (
        order.id, order.customer_id, 2500, NOW - timedelta(hours=1))
    again = await place(uow, draft("N-2", customer={"email": "HANAKO@example.jp"}))
    assert again.customer_id == order.customer_id
    assert (await get_order(uow=uow, order_id=order.id)) == order


async def test_refused_orders_leave_nothing_behind():
    uow = CommerceUnitOfWork()
    with pytest.raises(InvalidInput):
        await place(uow, draft(total=1))
    with pytest.raises(InvalidInput):
        await place(uow, draft(currency="USD"))
    with pytest.raises(NotFound):
        await place(uow, draft(customer={"id": str(uuid4())}))
    assert (uow.data.orders, uow.data.customers, uow.published) == ({}, {}, [])


async def test_a_duplicate_number_is_a_conflict_naming_the_order():
    uow = CommerceUnitOfWork()
    first = await place(uow, draft())
    with pytest.raises(Conflict) as caught:
        await place(uow, draft(customer={"email": "other@example.jp"}))
    assert caught.value.extra == {"code": "duplicate_order_number", "order_id": str(first.id)}
    assert len(uow.data.customers) == 1  # the second order's new customer was not created


async def test_a_merged_customer_id_resolves_to_the_survivor():
    uow = CommerceUnitOfWork()
    source, target = customer(external_id="s"), customer(external_id="t")
    uow.add_customer(source)
    uow.add_customer(target)
    uow.merge(source.id, target.id)
    order = await place(uow, draft(customer={"id": str(source.id)}))
    assert order.customer_id == target.id


async def test_a_batch_stores_the_valid_items_and_reports_the_rest():
    uow = CommerceUnitOfWork()
    known = customer(external_id="known")
    uow.add_customer(known)
    recorded = await place(uow, draft("OLD", customer={"id": str(known.id)}))
    uow.published.clear()
    drafts = [draft("B-1", customer={"external_id": "known"}), draft("B-2", total=3),
              draft("B-1", customer={"external_id": "x"}), draft("OLD"),
              draft("B-3", customer={"id": str(uuid4())}), draft("B-4", customer={"line_user_id": "U1"}),
              draft("B-5", customer={"line_user_id": "U1"})]
    report = await place_orders(uow=uow, clock=FixedClock(NOW), tenant_currency="JPY",
                                drafts=list(enumerate(drafts)))
    assert [i for i, _ in report.accepted] == [0, 5, 6]
    assert [e.index for e in report.errors] == [1, 2, 3, 4]
    kinds = [(type(e.error).__name__, e.error.extra.get("code")) for e in report.errors]
    assert kinds == [("InvalidInput", None), ("Conflict", "duplicate_order_number"),
                     ("Conflict", "duplicate_order_number"), ("NotFound", None)]
    assert report.errors[2].error.extra["order_id"] == str(recorded.id)
    assert report.accepted[0][1].customer_id == known.id
    assert report.accepted[1][1].customer_id == report.accepted[2][1].customer_id  # created once
    assert len(uow.data.orders) == 4 and uow.committed == 2
    placed = [e for e in uow.published if isinstance(e, OrderPlaced)]
    assert [e.order_number for e in placed] == ["B-1", "B-4", "B-5"]
    assert sum(isinstance(e, CustomerCreated) for e in uow.published) == 1


async def test_a_batch_over_the_limit_is_refused_whole():
    uow = CommerceUnitOfWork()
    with pytest.raises(InvalidInput) as caught:
        await place_orders(uow=uow, clock=FixedClock(NOW), tenant_currency="JPY",
                           drafts=[(i, draft(f"N-{i}")) for i in range(1001)])
    assert caught.value.problems[0].field == "orders"
    assert uow.data.orders == {}


async def test_refund_is_stored_and_published():
    uow = CommerceUnitOfWork()
    order = await place(uow, draft())
    updated, refund = await refund_order(uow=uow, clock=FixedClock(NOW), order_id=order.id,
                                         draft=RefundDraft(amount=2500))
    assert updated.status is OrderStatus.REFUNDED and uow.data.orders[order.id] == updated
    event = uow.published[-1]
    assert isinstance(event, OrderRefunded)
    assert (event.refund_id, event.amount, event.refunded_total, event.status) == (refund.id, 2500, 2500, "refunded")
    with pytest.raises(Conflict):
        await refund_order(uow=uow, clock=FixedClock(NOW), order_id=order.id, draft=RefundDraft(amount=1))
    with pytest.raises(NotFound):
        await refund_order(uow=uow, clock=FixedClock(NOW), order_id=uuid4(), draft=RefundDraft(amount=1))


async def test_list_filters_need_offsets():
    uow = CommerceUnitOfWork()
    o = await place(uow, draft())
    page = await list_orders(uow=uow, filters=OrderFilter(order_number="Ｎ－１"), page=PageRequest())
    assert [x.id for x in page.items] == [o.id]
    with pytest.raises(InvalidInput):
        await list_orders(uow=uow, filters=OrderFilter(ordered_after=datetime(2026, 1, 1)), page=PageRequest())
