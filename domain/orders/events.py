"""Facts the orders area announces (loyalty points, scores and step mails listen to them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from domain.shared.events import DomainEvent


@dataclass(frozen=True)
class OrderPlaced(DomainEvent):
    """A new order was recorded, once per order (a re-sent order number is refused, not
    announced again). `status` is not always `placed`: imports may record cancelled or refunded
    orders, and subscribers that award value should skip those."""

    name: ClassVar[str] = "order.placed"
    order_id: UUID
    customer_id: UUID
    order_number: str
    total: int
    currency: str
    ordered_at: datetime
    channel: str
    status: str


@dataclass(frozen=True)
class OrderRefunded(DomainEvent):
    """Money (and perhaps goods) went back to the customer: `amount` this time, `refunded_total`
    so far, and the order's new `status` (partially_refunded or refunded)."""

    name: ClassVar[str] = "order.refunded"
    order_id: UUID
    customer_id: UUID
    refund_id: UUID
    amount: int
    refunded_total: int
    total: int
    currency: str
    status: str
    refunded_at: datetime
