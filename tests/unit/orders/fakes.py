"""In-memory twins of the products, orders and (as much as orders need) customers ports.

They live here, not in tests/fakes.py, while that file is shared work in progress; they extend its
FakeUnitOfWork, so the copy-on-enter / write-back-on-commit behaviour is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.customers.model import Customer, CustomerStatus
from domain.orders.model import Order, Refund
from domain.orders.ports import KnownCustomers, OrderFilter
from domain.products.model import Product
from domain.products.ports import ProductFilter
from domain.shared.events import DomainEvent
from domain.shared.pagination import PageRequest
from tests.fakes import FakeUnitOfWork, _Store


class CommerceStore(_Store):
    def __init__(self) -> None:
        super().__init__()
        self.products: dict[UUID, Product] = {}
        self.orders: dict[UUID, Order] = {}
        self.customers: dict[UUID, Customer] = {}
        self.identities: dict[tuple[str, str], UUID] = {}


def _page(rows: list[Any], page: PageRequest) -> list[Any]:
    rows = sorted(rows, key=lambda x: x.id)
    if page.after is not None:
        rows = [x for x in rows if x.id > page.after]
    return rows[: page.limit + 1]


class FakeProductRepository:
    def __init__(self, data: CommerceStore) -> None:
        self.data = data

    def _by_sku(self) -> dict[str, Product]:
        return {p.sku: p for p in self.data.products.values()}

    async def add_many(self, products: Sequence[Product]) -> set[UUID]:
        taken, inserted = self._by_sku(), set()
        for p in products:
            if p.sku not in taken:
                self.data.products[p.id] = taken[p.sku] = p
                inserted.add(p.id)
        return inserted

    async def get(self, product_id: UUID) -> Product | None:
        return self.data.products.get(product_id)

    lock = get

    async def lock_by_skus(self, skus: Sequence[str]) -> dict[str, Product]:
        return {s: p for s, p in self._by_sku().items() if s in set(skus)}

    async def update_many(self, products: Sequence[Product]) -> None:
        for p in products:
            self.data.products[p.id] = p

    async def search(self, filters: ProductFilter, page: PageRequest) -> list[Product]:
        rows = [p for p in self.data.products.values()
                if (filters.status is None or p.status == filters.status)
                and (filters.category is None or filters.category in p.category_path)
                and (filters.sku is None or p.sku == filters.sku)]
        return _page(rows, page)

    async def costs_by_sku(self, skus: Sequence[str]) -> dict[str, int]:
        return {s: p.cost for s, p in self._by_sku().items() if s in set(skus) and p.cost is not None}


class FakeOrderRepository:
    def __init__(self, data: CommerceStore) -> None:
        self.data = data

    async def add_many(self, orders: Sequence[Order]) -> set[UUID]:
        numbers, inserted = {o.order_number for o in self.data.orders.values()}, set()
        for o in orders:
            if o.order_number not in numbers:
                numbers.add(o.order_number)
                self.data.orders[o.id] = o
                inserted.add(o.id)
        return inserted

    async def get(self, order_id: UUID) -> Order | None:
        return self.data.orders.get(order_id)

    lock = get

    async def ids_by_number(self, order_numbers: Sequence[str]) -> dict[str, UUID]:
        return {o.order_number: o.id for o in self.data.orders.values() if o.order_number in set(order_numbers)}

    async def search(self, filters: OrderFilter, page: PageRequest) -> list[Order]:
        f = filters
        rows = [o for o in self.data.orders.values()
                if (f.customer_id is None or o.customer_id == f.customer_id)
                and (f.status is None or o.status == f.status)
                and (f.channel is None or o.channel == f.channel)
                and (f.order_number is None or o.order_number == f.order_number)
                and (f.ordered_after is None or o.ordered_at >= f.ordered_after)
                and (f.ordered_before is None or o.ordered_at < f.ordered_before)]
        return _page(rows, page)

    async def add_refund(self, refund: Refund, order: Order) -> None:
        assert order.refunds[-1] == refund
        self.data.orders[order.id] = order

    async def known_customers(self, ids: Sequence[UUID],
                              identities: Sequence[tuple[str, str]]) -> KnownCustomers:
        active = {i for i in ids if i in self.data.customers
                  and self.data.customers[i].status is CustomerStatus.ACTIVE}
        held = {k: self.data.identities[k] for k in identities if k in self.data.identities}
        return KnownCustomers(active_ids=active, by_identity=held)


class FakeCustomerRepository:
    """The part of CustomerRepository that resolve_customer uses."""

    def __init__(self, data: CommerceStore) -> None:
        self.data = data

    async def add(self, customer: Customer) -> None:
        self.data.customers[customer.id] = customer

    async def get(self, customer_id: UUID) -> Customer | None:
        return self.data.customers.get(customer_id)

    async def find_by_identity(self, kind: str, value: str) -> UUID | None:
        return self.data.identities.get((kind, value))

    async def claim_identities(self, customer_id: UUID, pairs: Sequence[tuple[str, str]],
                               now: datetime) -> list[tuple[str, str, UUID]]:
        taken = []
        for pair in pairs:
            owner = self.data.identities.setdefault(pair, customer_id)
            if owner != customer_id:
                taken.append((*pair, owner))
        return taken


class CommerceUnitOfWork(FakeUnitOfWork):
    """FakeUnitOfWork with products, orders and customers, and events delivered on commit."""

    def __init__(self, store: CommerceStore | None = None) -> None:
        super().__init__(store or CommerceStore())
        self.published: list[DomainEvent] = []
        self._pending: list[DomainEvent] = []

    async def __aenter__(self) -> CommerceUnitOfWork:
        await super().__aenter__()
        if self._depth == 1:
            assert isinstance(self._work, CommerceStore)
            self._pending = []
            self.products = FakeProductRepository(self._work)
            self.orders = FakeOrderRepository(self._work)
            self.customers = FakeCustomerRepository(self._work)
        return self

    def publish(self, event: DomainEvent) -> None:
        self._pending.append(event)

    def _apply(self) -> None:
        super()._apply()
        self.published += self._pending
        self._pending = []

    @property
    def data(self) -> CommerceStore:
        assert isinstance(self.store, CommerceStore)
        return self.store

    def add_customer(self, customer: Customer) -> None:
        """Seed a stored customer and its identities."""
        self.data.customers[customer.id] = customer
        for pair in customer.identities():
            self.data.identities[pair] = customer.id

    def merge(self, source: UUID, target: UUID) -> None:
        self.data.customers[source] = replace(self.data.customers[source], status=CustomerStatus.MERGED,
                                              merged_into=target)
