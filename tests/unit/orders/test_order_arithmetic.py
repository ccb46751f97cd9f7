"""Totals, profit and refunds: the money rules of docs/orders.md, with properties where they hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domain.orders.model import (
    LineDraft,
    Order,
    OrderDraft,
    OrderStatus,
    RefundDraft,
    RefundLineDraft,
    expected_total,
    validate_order,
)
from domain.shared.errors import Conflict, InvalidInput

NOW = datetime(2026, 11, 22, tzinfo=UTC)
CUSTOMER = uuid4()


def draft(lines=None, discount=0, shipping=0, total=None, **fields) -> OrderDraft:
    lines = lines or [LineDraft("A", 2, 1000, 400), LineDraft("B", 1, 500)]
    if total is None:
        total = expected_total(lines, discount, shipping)
    values = {"order_number": "N-1", "customer": {"external_id": "c1"}, "ordered_at": NOW - timedelta(days=1),
              "lines": lines, "total": total, "channel": "ec", "discount_total": discount,
              "shipping_total": shipping} | fields
    return OrderDraft(**values)


def order_of(d: OrderDraft, costs=None) -> Order:
    return validate_order(d, now=NOW, tenant_currency="JPY").to_order(
        id=uuid4(), customer_id=CUSTOMER, catalogue_costs=costs or {}, now=NOW)


def fields_of(exc: InvalidInput) -> set[str]:
    return {p.field for p in exc.problems}


def test_profit_definitions():
    o = order_of(draft(discount=300, shipping=600), costs={"B": 200})
    assert (o.subtotal, o.revenue, o.total) == (2500, 2500, 2800)
    assert (o.cost_total, o.cost_complete) == (1000, True)  # B's cost from the catalogue
    assert o.gross_profit == 2500 - 1000 - 300
    unknown = order_of(draft())
    assert (unknown.cost_total, unknown.cost_complete) == (800, False)


def test_totals_that_disagree_name_the_total():
    with pytest.raises(InvalidInput) as caught:
        validate_order(draft(discount=100, shipping=50, total=1), now=NOW, tenant_currency="JPY")
    assert caught.value.problems[0].field == "total"
    assert "= 2450" in caught.value.problems[0].message


def test_all_problems_are_reported_at_once():
    bad = draft(lines=[LineDraft("", -1, -5)], total=0, customer={}, channel="fax", currency="USD",
                ordered_at=NOW + timedelta(days=1), discount=-1)
    with pytest.raises(InvalidInput) as caught:
        validate_order(bad, now=NOW, tenant_currency="JPY")
    assert fields_of(caught.value) == {"lines.0.sku", "lines.0.quantity", "lines.0.unit_price", "customer",
                                       "channel", "currency", "ordered_at", "discount_total"}


@pytest.mark.parametrize("ordered_at,ok", [
    (NOW + timedelta(minutes=4), True), (NOW + timedelta(minutes=6), False),
    (datetime(1899, 12, 31, tzinfo=UTC), False), (datetime(2026, 1, 1), False)])
def test_ordered_at_allows_a_small_clock_skew_only(ordered_at, ok):
    try:
        validate_order(draft(ordered_at=ordered_at), now=NOW, tenant_currency="JPY")
    except InvalidInput as exc:
        assert not ok and fields_of(exc) == {"ordered_at"}
    else:
        assert ok


def test_ordered_at_is_stored_in_utc():
    jst = datetime(2026, 1, 15, 10, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert order_of(draft(ordered_at=jst)).ordered_at.tzinfo is UTC


def test_currency_is_the_tenants():
    assert validate_order(draft(), now=NOW, tenant_currency="JPY").currency == "JPY"
    assert validate_order(draft(currency="jpy"), now=NOW, tenant_currency="JPY").currency == "JPY"
    for code in ("USD", "XYZ"):
        with pytest.raises(InvalidInput) as caught:
            validate_order(draft(currency=code), now=NOW, tenant_currency="JPY")
        assert fields_of(caught.value) == {"currency"}


def test_imported_refund_states():
    assert order_of(draft(status="refunded")).refunded_total == 2500
    assert order_of(draft(status="partially_refunded", refunded_total=10)).refunded_total == 10
    for status, refunded in (("partially_refunded", None), ("partially_refunded", 2500), ("placed", 5),
                             ("refunded", 3)):
        with pytest.raises(InvalidInput) as caught:
            validate_order(draft(status=status, refunded_total=refunded), now=NOW, tenant_currency="JPY")
        assert fields_of(caught.value) == {"refunded_total"}


def test_refunds_move_the_status_and_refuse_more_than_remains():
    o = order_of(draft(discount=300, shipping=600), costs={"B": 200})
    o, r = o.refund(RefundDraft(lines=[RefundLineDraft(1, sku="A")]), refund_id=uuid4(), now=NOW)
    assert (r.amount, o.status, o.refunded_total) == (880, OrderStatus.PARTIALLY_REFUNDED, 880)
    with pytest.raises(Conflict) as caught:
        o.refund(RefundDraft(amount=1921), refund_id=uuid4(), now=NOW)
    assert caught.value.extra == {"code": "refund_exceeds_remaining", "remaining": 1920}
    with pytest.raises(Conflict):
        o.refund(RefundDraft(lines=[RefundLineDraft(2, line_no=1)]), refund_id=uuid4(), now=NOW)
    o, r = o.refund(RefundDraft(amount=1920, lines=[RefundLineDraft(1, line_no=1), RefundLineDraft(1, sku="B")]),
                    refund_id=uuid4(), now=NOW)
    assert (o.status, o.refunded_total, o.net_gross_profit, o.version) == (OrderStatus.REFUNDED, 2800, 0, 3)


def test_a_cancelled_order_cannot_be_refunded():
    o = order_of(draft(status="cancelled"))
    with pytest.raises(Conflict) as caught:
        o.refund(RefundDraft(amount=1), refund_id=uuid4(), now=NOW)
    assert caught.value.extra["code"] == "order_cancelled"


def test_a_free_order_is_refunded_when_its_goods_come_back():
    o = order_of(draft(lines=[LineDraft("GIFT", 2, 0)]))
    o, r = o.refund(RefundDraft(lines=[RefundLineDraft(1, line_no=1)]), refund_id=uuid4(), now=NOW)
    assert (r.amount, o.status) == (0, OrderStatus.PARTIALLY_REFUNDED)
    o, _ = o.refund(RefundDraft(lines=[RefundLineDraft(1, line_no=1)]), refund_id=uuid4(), now=NOW)
    assert o.status is OrderStatus.REFUNDED


# -- properties -----------------------------------------------------------------------------------

lines_st = st.lists(st.builds(LineDraft, sku=st.sampled_from(["A", "B", "C", "D"]),
                              quantity=st.integers(1, 5), unit_price=st.integers(0, 10_000),
                              unit_cost=st.none() | st.integers(0, 10_000)), min_size=1, max_size=5)


@st.composite
def orders(draw, max_discount_share: float = 1.0) -> Order:
    lines = draw(lines_st)
    subtotal = sum(x.quantity * x.unit_price for x in lines)
    discount = draw(st.integers(0, int(subtotal * max_discount_share)))
    shipping = draw(st.integers(0, 2_000))
    return order_of(draft(lines=lines, discount=discount, shipping=shipping))


@given(lines=lines_st, discount=st.integers(0, 50_000), shipping=st.integers(0, 5_000),
       error=st.integers(-1000, 1000))
def test_the_total_must_be_lines_minus_discount_plus_shipping(lines, discount, shipping, error):
    expected = expected_total(lines, discount, shipping)
    assume(expected + error >= 0)
    d = draft(lines=lines, discount=discount, shipping=shipping, total=expected + error)
    if error == 0:
        o = order_of(d)
        assert o.total == o.subtotal - o.discount_total + o.shipping_total
        assert o.gross_profit == o.revenue - o.cost_total - o.discount_total
        assert o.revenue == sum(x.quantity * x.unit_price for x in lines)  # shipping is not revenue
    else:
        with pytest.raises(InvalidInput) as caught:
            validate_order(d, now=NOW, tenant_currency="JPY")
        assert fields_of(caught.value) == {"total"}


refund_st = st.one_of(
    st.builds(RefundDraft, amount=st.integers(0, 30_000)),
    st.builds(RefundDraft, lines=st.lists(st.builds(RefundLineDraft, quantity=st.integers(1, 3),
                                                    line_no=st.integers(1, 5)), max_size=3)),
    st.builds(RefundDraft, amount=st.integers(0, 5_000),
              lines=st.lists(st.builds(RefundLineDraft, quantity=st.integers(1, 2), line_no=st.integers(1, 5)),
                             min_size=1, max_size=2)))


@settings(max_examples=300)
@given(order=orders(), requests=st.lists(refund_st, max_size=8))
def test_refunds_never_exceed_the_total_and_add_up(order, requests):
    for request in requests:
        try:
            order, refund = order.refund(request, refund_id=uuid4(), now=NOW)
        except (InvalidInput, Conflict):
            continue  # refused requests change nothing (the order is immutable)
        assert refund.amount >= 0
    assert 0 <= order.refunded_total <= order.total
    assert sum(r.amount for r in order.refunds) == order.refunded_total
    assert all(0 <= x.refunded_quantity <= x.quantity for x in order.lines)
    for line in order.lines:
        assert line.refunded_quantity == sum(r.quantity for refund in order.refunds for r in refund.lines
                                             if r.line_no == line.line_no)
    if order.refunds:
        assert order.status in (OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)
        assert (order.status is OrderStatus.REFUNDED) == (
            order.refunded_total == order.total
            and (order.total > 0 or all(x.refunded_quantity == x.quantity for x in order.lines)))
    assert order.version == 1 + len(order.refunds)


@settings(max_examples=300)
@given(data=st.data(), order=orders(max_discount_share=1.0))
def test_returning_every_unit_refunds_exactly_the_goods_net_of_discount(data, order):
    """In any number of line refunds without amounts; then the shipping leaves nothing to profit."""
    while any(x.returnable for x in order.lines):
        open_lines = [x for x in order.lines if x.returnable]
        chosen = data.draw(st.lists(st.sampled_from(open_lines), min_size=1, unique_by=lambda x: x.line_no))
        returned = [RefundLineDraft(data.draw(st.integers(1, x.returnable)), line_no=x.line_no) for x in chosen]
        order, _ = order.refund(RefundDraft(lines=returned), refund_id=uuid4(), now=NOW)
    assert order.refunded_total == order.subtotal - order.discount_total
    if order.refundable:
        order, _ = order.refund(RefundDraft(amount=order.refundable), refund_id=uuid4(), now=NOW)
    assert order.status is OrderStatus.REFUNDED
    assert order.net_gross_profit == 0
