"""The products area in a tenant schema (Core SQL; bulk writes are one statement each)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, Integer, Text, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import BigInteger, Uuid

from domain.products.model import Product, ProductStatus
from domain.products.ports import ProductFilter
from domain.shared.pagination import PageRequest
from infra.db.tables.tenant import products

p = products.c


def to_row(x: Product) -> dict[str, Any]:
    return {"id": x.id, "sku": x.sku, "name": x.name, "category_path": list(x.category_path),
            "price": x.price, "cost": x.cost, "currency": x.currency, "stock_quantity": x.stock_quantity,
            "status": x.status.value, "attributes": x.attributes, "version": x.version,
            "created_at": x.created_at, "updated_at": x.updated_at}


def to_domain(r: Any) -> Product:
    return Product(id=r.id, sku=r.sku, name=r.name, currency=r.currency, created_at=r.created_at,
                   updated_at=r.updated_at, category_path=tuple(r.category_path or ()), price=r.price,
                   cost=r.cost, stock_quantity=r.stock_quantity, status=ProductStatus(r.status),
                   attributes=dict(r.attributes or {}), version=r.version)


# Columns written in bulk, with their array types: a batch is passed as one array per column and
# unnested server-side, so the SQL text is the same for 1 or 1,000 rows (one prepared statement)
# and there is no bind-parameter limit to page around.
_COLUMNS: dict[str, Any] = {
    "id": Uuid(), "sku": Text(), "name": Text(), "price": BigInteger(), "cost": BigInteger(),
    "currency": Text(), "stock_quantity": Integer(), "status": Text(), "attributes": Text(),
    "version": Integer(), "created_at": DateTime(timezone=True), "updated_at": DateTime(timezone=True),
    "category_path": Text(),
}


_SEPARATOR = "\x1f"  # a control character: clean_text refuses them inside category names


def _unnest(rows: list[dict[str, Any]]) -> Any:
    """`unnest($1::uuid[], $2::text[], ...) AS t(id, sku, ...)` over the rows' columns.

    Arrays of arrays and of JSON do not unnest, so category_path travels joined by a control
    character (see _categories) and attributes as JSON text (see _attributes)."""

    def column(name: str) -> list[Any]:
        if name == "category_path":
            assert all(_SEPARATOR not in c for r in rows for c in r[name])
            return [_SEPARATOR.join(r[name]) for r in rows]
        if name == "attributes":
            return [json.dumps(r[name], ensure_ascii=False) for r in rows]
        return [r[name] for r in rows]

    args = [bindparam(f"u_{name}", column(name), type_=ARRAY(type_)) for name, type_ in _COLUMNS.items()]
    return func.unnest(*args).table_valued(*_COLUMNS).render_derived()


def _columns(t: Any, names: Sequence[str]) -> dict[str, Any]:
    """The unnested columns, with category_path and attributes turned back into their types."""
    values = {name: t.c[name] for name in names}
    if "category_path" in values:
        # string_to_array('', sep) is an empty array, as an empty path should be
        values["category_path"] = func.string_to_array(t.c.category_path, _SEPARATOR)
    if "attributes" in values:
        values["attributes"] = func.cast(t.c.attributes, JSONB)
    return values


class SqlProductRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add_many(self, items: Sequence[Product]) -> set[UUID]:
        if not items:
            return set()
        t = _unnest([to_row(x) for x in items])
        values = _columns(t, list(_COLUMNS))
        query = (insert(products).from_select(list(values), select(*values.values()))
                 .on_conflict_do_nothing(index_elements=["sku"]).returning(p.id))
        return set((await self._conn.execute(query)).scalars())

    async def get(self, product_id: UUID) -> Product | None:
        row = (await self._conn.execute(select(products).where(p.id == product_id))).first()
        return to_domain(row) if row else None

    async def lock(self, product_id: UUID) -> Product | None:
        row = (await self._conn.execute(
            select(products).where(p.id == product_id).with_for_update())).first()
        return to_domain(row) if row else None

    async def lock_by_skus(self, skus: Sequence[str]) -> dict[str, Product]:
        if not skus:
            return {}
        rows = await self._conn.execute(select(products).where(
            p.sku == func.any(bindparam("skus", sorted(set(skus)), type_=ARRAY(Text))))
            .order_by(p.sku).with_for_update())
        return {r.sku: to_domain(r) for r in rows}

    async def update_many(self, items: Sequence[Product]) -> None:
        if not items:
            return
        t = _unnest([to_row(x) for x in items])
        changed = _columns(t, [name for name in _COLUMNS if name not in ("id", "sku", "created_at")])
        await self._conn.execute(update(products).where(p.id == t.c.id).values(**changed))

    async def search(self, filters: ProductFilter, page: PageRequest) -> list[Product]:
        query = select(products)
        if filters.status is not None:
            query = query.where(p.status == filters.status.value)
        if filters.category:
            query = query.where(p.category_path.contains([filters.category]))
        if filters.sku:
            query = query.where(p.sku == filters.sku)
        if page.after is not None:
            query = query.where(p.id > page.after)
        rows = await self._conn.execute(query.order_by(p.id).limit(page.limit + 1))
        return [to_domain(r) for r in rows]

    async def costs_by_sku(self, skus: Sequence[str]) -> dict[str, int]:
        if not skus:
            return {}
        rows = await self._conn.execute(select(p.sku, p.cost).where(
            p.sku == func.any(bindparam("skus", sorted(set(skus)), type_=ARRAY(Text))),
            p.cost.is_not(None)))
        return {r.sku: int(r.cost) for r in rows}
