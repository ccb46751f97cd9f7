"""Product use cases: create, read, list, change, and bulk upsert by sku."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from domain.products.model import Product, normalise_product, normalise_sku
from domain.products.ports import ProductFilter
from domain.shared.batch import MAX_BATCH, ItemError
from domain.shared.clock import Clock
from domain.shared.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from domain.shared.ids import new_id
from domain.shared.pagination import Page, PageRequest, page_from
from domain.shared.ports import UnitOfWork
from domain.shared.text import clean_text


@dataclass
class UpsertReport:
    created: list[tuple[int, Product]] = field(default_factory=list)
    updated: list[tuple[int, Product]] = field(default_factory=list)
    unchanged: list[tuple[int, Product]] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged)


def _duplicate_sku(sku: str, product_id: UUID | None) -> Conflict:
    extra: dict[str, Any] = {"code": "duplicate_sku"}
    if product_id is not None:
        extra["product_id"] = str(product_id)
    return Conflict(f"a product with sku {sku!r} already exists", extra=extra)


async def create_product(*, uow: UnitOfWork, clock: Clock, default_currency: str,
                         fields: dict[str, Any]) -> Product:
    """A new product; `currency` defaults to the tenant's. A taken sku is 409 naming the product."""
    now = clock.now()
    values = normalise_product(fields, creating=True)
    product = Product.create(id=new_id(), values=values, default_currency=default_currency, now=now)
    async with uow:
        if not await uow.products.add_many([product]):
            existing = await uow.products.lock_by_skus([product.sku])
            found = existing.get(product.sku)
            raise _duplicate_sku(product.sku, found.id if found else None)
        await uow.commit()
    return product


async def get_product(*, uow: UnitOfWork, product_id: UUID) -> Product:
    async with uow:
        product = await uow.products.get(product_id)
    if product is None:
        raise NotFound("product", product_id)
    return product


async def list_products(*, uow: UnitOfWork, filters: ProductFilter, page: PageRequest) -> Page[Product]:
    """Filters are normalised as stored values are (NFKC), so full-width input matches."""
    filters = ProductFilter(
        status=filters.status, sku=normalise_sku(filters.sku) if filters.sku is not None else None,
        category=clean_text(filters.category, field="category", max_length=100)
        if filters.category is not None else None)
    async with uow:
        rows = await uow.products.search(filters, page)
    return page_from(rows, page)


async def update_product(*, uow: UnitOfWork, clock: Clock, product_id: UUID, fields: dict[str, Any],
                         expected_version: int | None = None) -> Product:
    """PATCH: only the given fields change; the sku is the product's identity and cannot."""
    values = normalise_product(fields, creating=False)
    async with uow:
        current = await uow.products.lock(product_id)
        if current is None:
            raise NotFound("product", product_id)
        if expected_version is not None and expected_version != current.version:
            raise PreconditionFailed("the product changed since it was read (If-Match does not match)")
        updated = current.changed(values, clock.now())
        if updated is not current:
            await uow.products.update_many([updated])
            await uow.commit()
    return updated


async def upsert_products(*, uow: UnitOfWork, clock: Clock, default_currency: str,
                          items: Sequence[tuple[int, Mapping[str, Any]]]) -> UpsertReport:
    """Bulk upsert by sku, in one transaction and a handful of statements whatever the size.

    `items` are (index in the request, fields). A new sku needs a name; an existing one changes only
    the fields the item holds (as PATCH does). An item is refused alone (invalid fields, a sku
    already named earlier in the batch); the valid ones are stored.
    """
    if len(items) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} products per batch", field="products")
    now = clock.now()
    report = UpsertReport()
    parsed: list[tuple[int, dict[str, Any]]] = []
    first_index: dict[str, int] = {}
    for index, raw in items:
        try:
            if raw.get("sku") is None:
                raise InvalidInput("is required", field="sku")
            values = normalise_product(dict(raw), creating=False)
        except InvalidInput as exc:
            report.errors.append(ItemError(index, exc))
            continue
        sku = values["sku"]
        if sku in first_index:
            report.errors.append(ItemError(index, Conflict(
                f"sku {sku!r} is already in this batch at index {first_index[sku]}",
                extra={"code": "duplicate_sku"})))
            continue
        first_index[sku] = index
        parsed.append((index, values))

    async with uow:
        existing = await uow.products.lock_by_skus(sorted(first_index))
        to_insert: list[tuple[int, Product]] = []
        to_update: list[Product] = []
        for index, values in parsed:
            current = existing.get(values["sku"])
            try:
                if current is None:
                    if values.get("name") is None:
                        raise InvalidInput("is required for a new sku", field="name")
                    product = Product.create(id=new_id(), values=values,
                                             default_currency=default_currency, now=now)
                    to_insert.append((index, product))
                    continue
                changed = current.changed(values, now)
            except InvalidInput as exc:
                report.errors.append(ItemError(index, exc))
                continue
            if changed is current:
                report.unchanged.append((index, current))
            else:
                to_update.append(changed)
                report.updated.append((index, changed))
        inserted = await uow.products.add_many([p for _, p in to_insert])
        for index, product in to_insert:
            if product.id in inserted:
                report.created.append((index, product))
            else:  # another request created this sku after we looked
                report.errors.append(ItemError(index, Conflict(
                    f"sku {product.sku!r} was created by a concurrent request; send the item again",
                    extra={"code": "retry"})))
        await uow.products.update_many(to_update)
        await uow.commit()
    report.errors.sort(key=lambda e: e.index)
    return report
