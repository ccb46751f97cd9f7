"""What the orders use cases need from storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.orders.model import Order, OrderStatus, Refund, SalesChannel
from domain.shared.pagination import PageRequest


@dataclass(frozen=True)
class OrderFilter:
    customer_id: UUID | None = None
    status: OrderStatus | None = None
    ordered_after: datetime | None = None  # inclusive
    ordered_before: datetime | None = None  # exclusive
    channel: SalesChannel | None = None
    order_number: str | None = None


@dataclass(frozen=True)
class KnownCustomers:
    """What one look-up found for a batch's customer references."""

    active_ids: set[UUID]  # named ids that are active customers (others need resolve_customer)
    by_identity: dict[tuple[str, str], UUID]  # (type, value) -> customer holding it


class OrderRepository(Protocol):
    """Storage of the orders area. `order_number` is unique per tenant."""

    async def add_many(self, orders: Sequence[Order]) -> set[UUID]:
        """Insert orders and their lines in a constant number of statements. An order whose
        number is taken (a concurrent insert) is skipped with its lines; returns the ids
        inserted."""
        ...

    async def get(self, order_id: UUID) -> Order | None:
        """The order with its lines and refunds."""
        ...

    async def lock(self, order_id: UUID) -> Order | None:
        """As get(), holding the order row (SELECT ... FOR UPDATE) until the transaction ends."""
        ...

    async def ids_by_number(self, order_numbers: Sequence[str]) -> dict[str, UUID]:
        """The stored orders among these numbers."""
        ...

    async def search(self, filters: OrderFilter, page: PageRequest) -> list[Order]: ...

    async def add_refund(self, refund: Refund, order: Order) -> None:
        """Record the refund and store the order's new refunded totals, line quantities, status
        and version (`order` is the result of Order.refund)."""
        ...

    async def known_customers(self, ids: Sequence[UUID],
                              identities: Sequence[tuple[str, str]]) -> KnownCustomers:
        """A batch shortcut before resolve_customer: one look-up for many references. Read-only;
        everything it does not find goes through resolve_customer one by one."""
        ...
