"""What the products use cases need from storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.products.model import Product, ProductStatus
from domain.shared.pagination import PageRequest


@dataclass(frozen=True)
class ProductFilter:
    status: ProductStatus | None = None
    category: str | None = None  # matches any level of category_path
    sku: str | None = None


class ProductRepository(Protocol):
    """Storage of the products area. `sku` is unique per tenant."""

    async def add_many(self, products: Sequence[Product]) -> set[UUID]:
        """Insert in one statement; a product whose sku exists already (a concurrent insert) is
        skipped. Returns the ids actually inserted."""
        ...

    async def get(self, product_id: UUID) -> Product | None: ...

    async def lock(self, product_id: UUID) -> Product | None:
        """SELECT ... FOR UPDATE."""
        ...

    async def lock_by_skus(self, skus: Sequence[str]) -> dict[str, Product]:
        """The existing products among `skus`, locked (in sku order, so two batches cannot
        deadlock)."""
        ...

    async def update_many(self, products: Sequence[Product]) -> None: ...

    async def search(self, filters: ProductFilter, page: PageRequest) -> list[Product]: ...

    async def costs_by_sku(self, skus: Sequence[str]) -> dict[str, int]:
        """Unit cost of the catalogue's products among `skus` (those with a known cost)."""
        ...
