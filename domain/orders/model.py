"""Orders, their lines and refunds, and the money arithmetic on them (docs/orders.md).

All amounts are integers in the currency's minor unit. Definitions:

- subtotal (= revenue) = sum of quantity x unit_price over the lines; shipping is not revenue
- total = subtotal - discount_total + shipping_total (checked, never computed for the caller)
- cost_total = sum of quantity x unit_cost over the lines whose cost is known
- gross_profit = revenue - cost_total - discount_total
- net_gross_profit = gross_profit - refunded merchandise + cost of returned units, where refunded
  merchandise is the part of refunded_total not above subtotal - discount_total (the rest refunded
  shipping, which was never revenue)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.customers.model import CustomerRef
from domain.products.model import MAX_AMOUNT, money, normalise_sku
from domain.shared.errors import Conflict, FieldProblem, InvalidInput
from domain.shared.text import clean_text
from domain.tenants.model import validate_currency

FUTURE_SKEW = timedelta(minutes=5)  # clocks of shops and POS terminals run a little fast
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
MAX_LINES = 1000
MAX_QUANTITY = 1_000_000


class OrderStatus(StrEnum):
    PLACED = "placed"
    CANCELLED = "cancelled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class SalesChannel(StrEnum):
    """Where the order was taken (docs/orders.md describes each)."""

    EC = "ec"  # the brand's own online shop (自社EC)
    APP = "app"  # the brand's own mobile app
    STORE = "store"  # a physical shop, POS; name it with store_id
    PHONE = "phone"  # telephone orders (call centre)
    CATALOG = "catalog"  # mail, fax or postcard orders from a printed catalogue (カタログ通販)
    MARKETPLACE = "marketplace"  # Rakuten, Amazon, Yahoo! Shopping, ...
    SOCIAL = "social"  # LINE, Instagram and other social commerce
    WHOLESALE = "wholesale"  # to a business customer
    OTHER = "other"


# -- input ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineDraft:
    sku: str
    quantity: int
    unit_price: int
    unit_cost: int | None = None


@dataclass(frozen=True)
class OrderDraft:
    """An order as the caller sent it (types checked, nothing else)."""

    order_number: str
    customer: Mapping[str, Any]
    ordered_at: datetime
    lines: Sequence[LineDraft]
    total: int
    channel: str
    currency: str | None = None
    discount_total: int = 0
    shipping_total: int = 0
    store_id: str | None = None
    status: str = OrderStatus.PLACED.value
    refunded_total: int | None = None


@dataclass(frozen=True)
class RefundLineDraft:
    quantity: int
    line_no: int | None = None
    sku: str | None = None


@dataclass(frozen=True)
class RefundDraft:
    amount: int | None = None
    lines: Sequence[RefundLineDraft] = ()
    reason: str | None = None
    refunded_at: datetime | None = None


# -- stored ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderLine:
    line_no: int  # 1-based position in the order as sent
    sku: str
    quantity: int
    unit_price: int
    unit_cost: int | None = None  # as sent, else the catalogue's cost when recorded, else unknown
    refunded_quantity: int = 0

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price

    @property
    def cost(self) -> int:
        return self.quantity * (self.unit_cost or 0)

    @property
    def returnable(self) -> int:
        return self.quantity - self.refunded_quantity


@dataclass(frozen=True)
class RefundLine:
    line_no: int
    sku: str
    quantity: int


@dataclass(frozen=True)
class Refund:
    id: UUID
    order_id: UUID
    amount: int
    lines: tuple[RefundLine, ...]
    reason: str | None
    refunded_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class Order:
    id: UUID
    order_number: str
    customer_id: UUID
    ordered_at: datetime
    currency: str
    lines: tuple[OrderLine, ...]
    discount_total: int
    shipping_total: int
    total: int
    channel: SalesChannel
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    store_id: str | None = None
    refunded_total: int = 0
    refunds: tuple[Refund, ...] = ()
    version: int = 1

    @property
    def subtotal(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def revenue(self) -> int:
        """What the goods sold for before the order's discount; shipping is not revenue."""
        return self.subtotal

    @property
    def cost_total(self) -> int:
        return sum(line.cost for line in self.lines)

    @property
    def cost_complete(self) -> bool:
        """False when some line's unit cost is unknown (counted as 0, so profit is overstated)."""
        return all(line.unit_cost is not None for line in self.lines)

    @property
    def gross_profit(self) -> int:
        return self.revenue - self.cost_total - self.discount_total

    @property
    def refundable(self) -> int:
        """Money that can still be refunded."""
        return self.total - self.refunded_total

    @property
    def net_gross_profit(self) -> int:
        merchandise = max(0, self.subtotal - self.discount_total)
        refunded_merchandise = min(self.refunded_total, merchandise)
        returned_cost = sum(line.refunded_quantity * (line.unit_cost or 0) for line in self.lines)
        return self.gross_profit - refunded_merchandise + returned_cost

    def refund(self, draft: RefundDraft, *, refund_id: UUID, now: datetime) -> tuple[Order, Refund]:
        """Apply a refund: the changed order and the refund record. Raises InvalidInput for a
        malformed request and Conflict when it asks for more than remains (docs/orders.md)."""
        if self.status is OrderStatus.CANCELLED:
            raise Conflict("a cancelled order cannot be refunded", extra={"code": "order_cancelled"})
        refunded_at = _refund_time(draft.refunded_at, ordered_at=self.ordered_at, now=now)
        reason = clean_text(draft.reason, field="reason", max_length=500) if draft.reason else None
        returned = self._returned_lines(draft.lines)
        if draft.amount is None and not returned:
            raise InvalidInput("send amount, lines or both", field="amount")
        if draft.amount is not None:
            amount = money(draft.amount, field="amount")
            if amount == 0 and not returned:
                raise InvalidInput("must be positive when no lines are returned", field="amount")
            if amount > self.refundable:
                raise Conflict(f"the refund of {amount} exceeds the {self.refundable} that remains "
                               "refundable", extra={"code": "refund_exceeds_remaining",
                                                    "remaining": self.refundable})
        else:
            amount = min(self.default_refund(returned), self.refundable)
        by_no = {r.line_no: r.quantity for r in returned}
        lines = tuple(replace(line, refunded_quantity=line.refunded_quantity + by_no[line.line_no])
                      if line.line_no in by_no else line for line in self.lines)
        refunded_total = self.refunded_total + amount
        everything_back = all(line.returnable == 0 for line in lines)
        fully = refunded_total == self.total and (self.total > 0 or everything_back)
        refund = Refund(id=refund_id, order_id=self.id, amount=amount, lines=returned, reason=reason,
                        refunded_at=refunded_at, created_at=now)
        order = replace(self, lines=lines, refunded_total=refunded_total,
                        status=OrderStatus.REFUNDED if fully else OrderStatus.PARTIALLY_REFUNDED,
                        refunds=(*self.refunds, refund), updated_at=now, version=self.version + 1)
        return order, refund

    def default_refund(self, returned: Sequence[RefundLine]) -> int:
        """The money for returned units when the caller names no amount: their value less their
        share of the order's discount. The share is computed on all units returned so far, so
        returning every unit, in any number of refunds, refunds exactly subtotal - discount_total."""
        by_no = {r.line_no: r.quantity for r in returned}
        before = sum(line.refunded_quantity * line.unit_price for line in self.lines)
        after = before + sum(by_no.get(line.line_no, 0) * line.unit_price for line in self.lines)
        return _net_of_discount(after, self.subtotal, self.discount_total) - _net_of_discount(
            before, self.subtotal, self.discount_total)

    def _returned_lines(self, drafts: Sequence[RefundLineDraft]) -> tuple[RefundLine, ...]:
        problems: list[FieldProblem] = []
        found: dict[int, int] = {}
        for i, d in enumerate(drafts):
            where = f"lines.{i}"
            line = self._find_line(d, where, problems)
            if line is None:
                continue
            if isinstance(d.quantity, bool) or not isinstance(d.quantity, int) or d.quantity <= 0:
                problems.append(FieldProblem(f"{where}.quantity", "must be a positive integer"))
                continue
            if line.line_no in found:
                problems.append(FieldProblem(where, f"line {line.line_no} is named twice"))
                continue
            found[line.line_no] = d.quantity
        if problems:
            raise InvalidInput("the refund has invalid lines", problems=problems)
        for line_no, quantity in found.items():
            line = self.lines[line_no - 1]
            if quantity > line.returnable:
                raise Conflict(f"line {line_no} has {line.returnable} units left to refund, not {quantity}",
                               extra={"code": "refund_exceeds_remaining", "line_no": line_no,
                                      "remaining_quantity": line.returnable})
        return tuple(RefundLine(line_no=n, sku=self.lines[n - 1].sku, quantity=q)
                     for n, q in sorted(found.items()))

    def _find_line(self, d: RefundLineDraft, where: str, problems: list[FieldProblem]) -> OrderLine | None:
        if (d.line_no is None) == (d.sku is None):
            problems.append(FieldProblem(where, "name the line with exactly one of line_no, sku"))
            return None
        if d.line_no is not None:
            if not 1 <= d.line_no <= len(self.lines):
                problems.append(FieldProblem(f"{where}.line_no", f"the order has lines 1-{len(self.lines)}"))
                return None
            return self.lines[d.line_no - 1]
        assert d.sku is not None
        sku = normalise_sku(d.sku, field=f"{where}.sku")
        matching = [line for line in self.lines if line.sku == sku]
        if len(matching) != 1:
            problems.append(FieldProblem(f"{where}.sku", "no line has this sku" if not matching else
                                         "several lines have this sku; name the line with line_no"))
            return None
        return matching[0]


def _net_of_discount(value: int, subtotal: int, discount: int) -> int:
    """`value` of goods less its pro-rata share of the order discount, rounded in the customer's
    favour (the share is rounded down), never negative."""
    if subtotal == 0:
        return 0
    share = min(value, discount * value // subtotal)
    return value - share


def _refund_time(value: datetime | None, *, ordered_at: datetime, now: datetime) -> datetime:
    if value is None:
        return now
    if value.tzinfo is None:
        raise InvalidInput("refunded_at needs a UTC offset", field="refunded_at")
    if value > now + FUTURE_SKEW:
        raise InvalidInput("refunded_at is in the future", field="refunded_at")
    if value < ordered_at:
        raise InvalidInput("refunded_at is before the order was placed", field="refunded_at")
    return value.astimezone(UTC)


# -- validation of new orders ---------------------------------------------------------------------


@dataclass(frozen=True)
class ValidOrder:
    """A draft that passed every check: normalised values, the customer still to be resolved."""

    order_number: str
    customer: CustomerRef
    ordered_at: datetime
    currency: str
    lines: tuple[OrderLine, ...]
    discount_total: int
    shipping_total: int
    total: int
    channel: SalesChannel
    store_id: str | None
    status: OrderStatus
    refunded_total: int

    def skus_without_cost(self) -> set[str]:
        return {line.sku for line in self.lines if line.unit_cost is None}

    def to_order(self, *, id: UUID, customer_id: UUID, catalogue_costs: Mapping[str, int],
                 now: datetime) -> Order:
        """The order to store. Lines sent without unit_cost take the catalogue's current cost
        for their sku (a snapshot: later price changes do not rewrite past profit)."""
        lines = tuple(line if line.unit_cost is not None else
                      replace(line, unit_cost=catalogue_costs.get(line.sku)) for line in self.lines)
        return Order(id=id, order_number=self.order_number, customer_id=customer_id,
                     ordered_at=self.ordered_at, currency=self.currency, lines=lines,
                     discount_total=self.discount_total, shipping_total=self.shipping_total,
                     total=self.total, channel=self.channel, status=self.status, created_at=now,
                     updated_at=now, store_id=self.store_id, refunded_total=self.refunded_total)


def expected_total(lines: Sequence[LineDraft | OrderLine], discount_total: int, shipping_total: int) -> int:
    return sum(line.quantity * line.unit_price for line in lines) - discount_total + shipping_total


def validate_order(draft: OrderDraft, *, now: datetime, tenant_currency: str) -> ValidOrder:
    """Every check a new order must pass, all problems reported at once (InvalidInput)."""
    problems: list[FieldProblem] = []

    def attempt(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InvalidInput as exc:
            problems.extend(exc.problems)
            return None

    number = attempt(clean_text, draft.order_number, field="order_number", max_length=128)
    customer = attempt(CustomerRef.parse, dict(draft.customer), field="customer")
    ordered_at = attempt(_order_time, draft.ordered_at, now=now)
    currency = attempt(_currency, draft.currency, tenant_currency)
    discount = attempt(money, draft.discount_total, field="discount_total")
    shipping = attempt(money, draft.shipping_total, field="shipping_total")
    total = attempt(money, draft.total, field="total")
    channel = attempt(_enum, SalesChannel, draft.channel, field="channel")
    status = attempt(_enum, OrderStatus, draft.status, field="status")
    store_id = (attempt(clean_text, draft.store_id, field="store_id", max_length=128)
                if draft.store_id else None)
    lines = attempt(_lines, draft.lines)
    if lines is not None and sum(line.amount for line in lines) > MAX_AMOUNT:
        problems.append(FieldProblem("lines", f"the lines add up to more than {MAX_AMOUNT}"))
        lines = None
    if None not in (lines, discount, shipping, total):
        expected = expected_total(lines, discount, shipping)
        if total != expected:
            problems.append(FieldProblem("total", (
                f"total {total} does not equal the lines ({expected - shipping + discount}) - discount_total "
                f"({discount}) + shipping_total ({shipping}) = {expected}")))
    refunded = 0
    if status is not None and total is not None:
        refunded = attempt(_initial_refunded, status, draft.refunded_total, total) or 0
    elif draft.refunded_total is not None:
        attempt(money, draft.refunded_total, field="refunded_total")
    if problems:
        raise InvalidInput("the order has invalid fields", problems=problems)
    return ValidOrder(order_number=number, customer=customer, ordered_at=ordered_at, currency=currency,
                      lines=lines, discount_total=discount, shipping_total=shipping, total=total,
                      channel=channel, store_id=store_id, status=status, refunded_total=refunded)


def _order_time(value: datetime, *, now: datetime) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput("ordered_at needs a UTC offset", field="ordered_at")
    if value > now + FUTURE_SKEW:
        raise InvalidInput("ordered_at is in the future", field="ordered_at")
    if value < EARLIEST:
        raise InvalidInput("ordered_at is before 1900", field="ordered_at")
    return value.astimezone(UTC)


def _currency(value: str | None, tenant_currency: str) -> str:
    """Orders are in the tenant's currency: revenue, LTV and ROMI add orders up, and Kizuna does
    not convert currencies. Omitted means the tenant's currency."""
    if value is None:
        return tenant_currency
    code = validate_currency(value.strip().upper())
    if code != tenant_currency:
        raise InvalidInput(f"orders of this tenant are in {tenant_currency}; convert before sending",
                           field="currency")
    return code


def _enum(kind: type[StrEnum], value: str, *, field: str) -> Any:
    try:
        return kind(value)
    except ValueError as exc:
        raise InvalidInput(f"{field} is one of {', '.join(m.value for m in kind)}", field=field) from exc


def _lines(drafts: Sequence[LineDraft]) -> tuple[OrderLine, ...]:
    if not 1 <= len(drafts) <= MAX_LINES:
        raise InvalidInput(f"an order has 1-{MAX_LINES} lines", field="lines")
    problems: list[FieldProblem] = []
    lines: list[OrderLine] = []
    for i, d in enumerate(drafts):
        where = f"lines.{i}"
        try:
            sku = normalise_sku(d.sku, field=f"{where}.sku")
        except InvalidInput as exc:
            problems.extend(exc.problems)
            sku = ""
        quantity = d.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= MAX_QUANTITY:
            problems.append(FieldProblem(f"{where}.quantity", f"must be an integer from 1 to {MAX_QUANTITY}"))
        for name in ("unit_price", "unit_cost"):
            value = getattr(d, name)
            if value is not None:
                try:
                    money(value, field=f"{where}.{name}")
                except InvalidInput as exc:
                    problems.extend(exc.problems)
        lines.append(OrderLine(line_no=i + 1, sku=sku, quantity=d.quantity, unit_price=d.unit_price,
                               unit_cost=d.unit_cost))
    if problems:
        raise InvalidInput("the order has invalid lines", problems=problems)
    return tuple(lines)


def _initial_refunded(status: OrderStatus, refunded_total: int | None, total: int) -> int:
    """Historical orders may arrive already refunded (imports): their refunded_total is sent."""
    if status is OrderStatus.REFUNDED:
        if refunded_total is not None and refunded_total != total:
            raise InvalidInput("a refunded order has refunded_total equal to total", field="refunded_total")
        return total
    if status is OrderStatus.PARTIALLY_REFUNDED:
        if refunded_total is None or not 0 < refunded_total < total:
            raise InvalidInput("a partially refunded order needs refunded_total between 0 and total "
                               "(exclusive)", field="refunded_total")
        return refunded_total
    if refunded_total:
        raise InvalidInput(f"a {status.value} order has no refunds; refund it with POST "
                           "/v1/orders/{id}/refunds", field="refunded_total")
    return 0
