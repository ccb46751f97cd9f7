"""Order bodies (contract names from the customer-data issue)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, WithJsonSchema

from api.http.batch import item_error_body
from api.http.problems import FieldError
from api.schemas.common import RequestBody, ResponseBody
from api.schemas.products import Int
from domain.orders.model import (
    MAX_LINES,
    MAX_QUANTITY,
    LineDraft,
    Order,
    OrderDraft,
    OrderLine,
    Refund,
    RefundDraft,
    RefundLineDraft,
)
from domain.orders.services import PlaceReport
from domain.products.model import MAX_AMOUNT
from domain.shared.batch import MAX_BATCH, ItemError


def _rfc3339(value: Any) -> Any:
    """Refuse what pydantic would otherwise read as a Unix timestamp ("0.5", 1700000000)."""
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("not an RFC 3339 date-time") from exc
        return value
    raise ValueError("not an RFC 3339 date-time")


# A query-string instant: RFC 3339 with an offset, never a number.
Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
Channel = Literal["ec", "app", "store", "phone", "catalog", "marketplace", "social", "wholesale", "other"]
Status = Literal["placed", "cancelled", "partially_refunded", "refunded"]


def _amount(description: str, **kwargs: Any) -> Any:
    return Field(ge=0, le=MAX_AMOUNT, description=description + " (minor units)", **kwargs)


class OrderCustomerRef(RequestBody):
    """Exactly one of the members names the customer. An identity nobody holds yet creates a
    customer holding it; an id must exist (404)."""

    id: UUID | None = None
    external_id: str | None = Field(default=None, max_length=256, examples=["shop-000123"])
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    line_user_id: str | None = Field(default=None, max_length=64)


class OrderLineBody(RequestBody):
    sku: str = Field(min_length=1, max_length=128, examples=["TEA-HOJI-100"])
    quantity: Int = Field(gt=0, le=MAX_QUANTITY, examples=[2])
    unit_price: Int = _amount("Price of one unit as charged, before the order's discount", examples=[1200])
    unit_cost: Int | None = _amount("Cost of one unit; the catalogue's cost when omitted", default=None)


class OrderCreate(RequestBody):
    order_number: str = Field(min_length=1, max_length=128, examples=["EC-2026-000123"],
                              description="Your order number, unique per tenant")
    customer: OrderCustomerRef
    ordered_at: AwareDatetime = Field(description="With a UTC offset; not in the future")
    currency: str | None = Field(default=None, min_length=3, max_length=3, examples=["JPY"],
                                 description="ISO 4217; must be the tenant's currency (default)")
    lines: list[OrderLineBody] = Field(min_length=1, max_length=MAX_LINES)
    discount_total: Int = _amount("Order-level discounts, coupons and points used", default=0)
    shipping_total: Int = _amount("Shipping and handling charged", default=0)
    total: Int = _amount("What the customer pays: lines - discount_total + shipping_total",
                         examples=[2900])
    channel: Channel
    store_id: str | None = Field(default=None, max_length=128, examples=["shibuya-01"])
    status: Status = "placed"
    refunded_total: Int | None = _amount(
        "Only for importing orders that were already refunded: required with partially_refunded",
        default=None)

    def to_draft(self) -> OrderDraft:
        return OrderDraft(
            order_number=self.order_number, customer=self.customer.model_dump(exclude_none=True),
            ordered_at=self.ordered_at, currency=self.currency,
            lines=[LineDraft(sku=x.sku, quantity=x.quantity, unit_price=x.unit_price, unit_cost=x.unit_cost)
                   for x in self.lines],
            discount_total=self.discount_total, shipping_total=self.shipping_total, total=self.total,
            channel=self.channel, store_id=self.store_id, status=self.status,
            refunded_total=self.refunded_total)


# Batch items are validated one by one (api.http.batch.parse_items, then the use case), so a
# bad item is reported by its index instead of refusing the batch; the document still says they are
# OrderCreate (POST /v1/orders puts it in the components).
OrderItem = Annotated[Any, WithJsonSchema({"$ref": "#/components/schemas/OrderCreate"})]


class OrderBatch(RequestBody):
    orders: list[OrderItem] = Field(max_length=MAX_BATCH, description=(
        f"Up to {MAX_BATCH} OrderCreate items; more is 422 for the whole request. Each item is "
        "validated alone: invalid ones are reported by index, the others stored."))


class RefundLineBody(RequestBody):
    """A returned line, named by exactly one of line_no or sku."""

    line_no: Int | None = Field(default=None, ge=1, le=MAX_LINES, description="1-based, as in `lines`")
    sku: str | None = Field(default=None, min_length=1, max_length=128)
    quantity: Int = Field(gt=0, le=MAX_QUANTITY)


class RefundCreate(RequestBody):
    amount: Int | None = _amount(
        "Money refunded. Omitted: the returned lines' value less their share of the discount",
        default=None)
    lines: list[RefundLineBody] = Field(default_factory=list, max_length=MAX_LINES,
                                        description="Units returned (optional)")
    reason: str | None = Field(default=None, max_length=500)
    refunded_at: AwareDatetime | None = Field(default=None, description="Now when omitted")

    def to_draft(self) -> RefundDraft:
        return RefundDraft(amount=self.amount, reason=self.reason, refunded_at=self.refunded_at,
                           lines=[RefundLineDraft(quantity=x.quantity, line_no=x.line_no, sku=x.sku)
                                  for x in self.lines])


class OrderLineRead(BaseModel):
    line_no: int
    sku: str
    quantity: int
    unit_price: int
    unit_cost: int | None = Field(description="As sent, else the catalogue's cost when recorded; "
                                              "null: unknown")
    amount: int = Field(description="quantity x unit_price")
    refunded_quantity: int

    @classmethod
    def from_domain(cls, x: OrderLine) -> OrderLineRead:
        return cls(line_no=x.line_no, sku=x.sku, quantity=x.quantity, unit_price=x.unit_price,
                   unit_cost=x.unit_cost, amount=x.amount, refunded_quantity=x.refunded_quantity)


class RefundLineRead(BaseModel):
    line_no: int
    sku: str
    quantity: int


class RefundRead(ResponseBody):
    id: UUID
    order_id: UUID
    amount: int
    lines: list[RefundLineRead]
    reason: str | None
    refunded_at: datetime
    created_at: datetime

    @classmethod
    def from_domain(cls, r: Refund) -> RefundRead:
        return cls(id=r.id, order_id=r.order_id, amount=r.amount, reason=r.reason,
                   refunded_at=r.refunded_at, created_at=r.created_at,
                   lines=[RefundLineRead(line_no=x.line_no, sku=x.sku, quantity=x.quantity)
                          for x in r.lines])


class OrderRead(ResponseBody):
    id: UUID
    order_number: str
    customer_id: UUID
    ordered_at: datetime
    currency: str
    lines: list[OrderLineRead]
    subtotal: int = Field(description="Sum of the lines' amounts")
    discount_total: int
    shipping_total: int
    total: int
    refunded_total: int
    channel: Channel
    store_id: str | None
    status: Status
    revenue: int = Field(description="= subtotal: goods before the order discount; shipping excluded")
    cost_total: int = Field(description="Sum of quantity x unit_cost over lines with a known cost")
    cost_complete: bool = Field(description="false when some line's cost is unknown (counted as 0)")
    gross_profit: int = Field(description="revenue - cost_total - discount_total")
    net_gross_profit: int = Field(description="gross_profit after refunds (docs/orders.md)")
    refunds: list[RefundRead]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, o: Order) -> OrderRead:
        return cls(id=o.id, order_number=o.order_number, customer_id=o.customer_id, ordered_at=o.ordered_at,
                   currency=o.currency, lines=[OrderLineRead.from_domain(x) for x in o.lines],
                   subtotal=o.subtotal, discount_total=o.discount_total, shipping_total=o.shipping_total,
                   total=o.total, refunded_total=o.refunded_total, channel=o.channel.value,
                   store_id=o.store_id, status=o.status.value, revenue=o.revenue, cost_total=o.cost_total,
                   cost_complete=o.cost_complete, gross_profit=o.gross_profit,
                   net_gross_profit=o.net_gross_profit,
                   refunds=[RefundRead.from_domain(r) for r in o.refunds], created_at=o.created_at,
                   updated_at=o.updated_at)


class RefundResult(BaseModel):
    refund: RefundRead
    order: OrderRead


class OrderBatchError(BaseModel):
    index: int = Field(description="Position of the item in `orders` (from 0)")
    detail: str
    code: str = Field(examples=["invalid_input", "duplicate_order_number", "not_found"],
                      description="invalid_input, duplicate_order_number (in the batch or recorded "
                                  "before), not_found (customer id)")
    errors: list[FieldError] = Field(description="Invalid fields; paths are relative to the item")
    order_id: UUID | None = Field(default=None,
                                  description="duplicate_order_number: the recorded order's id")


class OrderBatchResult(BaseModel):
    accepted: int
    rejected: int
    errors: list[OrderBatchError]

    @classmethod
    def from_report(cls, report: PlaceReport, refused: Sequence[ItemError]) -> OrderBatchResult:
        errors = sorted([*refused, *report.errors], key=lambda e: e.index)
        return cls(accepted=len(report.accepted), rejected=len(errors),
                   errors=[OrderBatchError(**item_error_body(e)) for e in errors])
