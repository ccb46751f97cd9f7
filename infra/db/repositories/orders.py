"""The orders area in a tenant schema (Core SQL; a batch is one statement per table).

Bulk statements pass one array per column and unnest them server-side: the SQL text is the same
for 1 or 1,000 rows (one prepared statement per tenant, DESIGN.md section 3) and no bind-parameter
limit needs paging around.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, Integer, SmallInteger, Text, and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import BigInteger, Uuid

from domain.customers.model import CustomerStatus
from domain.orders.model import Order, OrderLine, OrderStatus, Refund, RefundLine, SalesChannel
from domain.orders.ports import KnownCustomers, OrderFilter
from domain.shared.pagination import PageRequest
from infra.db.tables.tenant import customer_identities, customers, order_lines, orders, refunds

o = orders.c
ln = order_lines.c
rf = refunds.c

_ORDER_COLUMNS: dict[str, Any] = {
    "id": Uuid(), "order_number": Text(), "customer_id": Uuid(), "ordered_at": DateTime(timezone=True),
    "currency": Text(), "subtotal": BigInteger(), "discount_total": BigInteger(),
    "shipping_total": BigInteger(), "total": BigInteger(), "cost_total": BigInteger(),
    "refunded_total": BigInteger(), "channel": Text(), "store_id": Text(), "status": Text(),
    "version": Integer(), "created_at": DateTime(timezone=True), "updated_at": DateTime(timezone=True),
}
_LINE_COLUMNS: dict[str, Any] = {
    "order_id": Uuid(), "line_no": SmallInteger(), "sku": Text(), "quantity": Integer(),
    "unit_price": BigInteger(), "unit_cost": BigInteger(), "refunded_quantity": Integer(),
}


def _unnest(prefix: str, columns: dict[str, Any], rows: Sequence[dict[str, Any]]) -> Any:
    args = [bindparam(f"{prefix}_{name}", [r[name] for r in rows], type_=ARRAY(type_))
            for name, type_ in columns.items()]
    return func.unnest(*args).table_valued(*columns).render_derived()


def _order_row(x: Order) -> dict[str, Any]:
    return {"id": x.id, "order_number": x.order_number, "customer_id": x.customer_id,
            "ordered_at": x.ordered_at, "currency": x.currency, "subtotal": x.subtotal,
            "discount_total": x.discount_total, "shipping_total": x.shipping_total, "total": x.total,
            "cost_total": x.cost_total, "refunded_total": x.refunded_total, "channel": x.channel.value,
            "store_id": x.store_id, "status": x.status.value, "version": x.version,
            "created_at": x.created_at, "updated_at": x.updated_at}


def _line_row(order_id: UUID, x: OrderLine) -> dict[str, Any]:
    return {"order_id": order_id, "line_no": x.line_no, "sku": x.sku, "quantity": x.quantity,
            "unit_price": x.unit_price, "unit_cost": x.unit_cost, "refunded_quantity": x.refunded_quantity}


def _refund(r: Any) -> Refund:
    return Refund(id=r.id, order_id=r.order_id, amount=r.amount, reason=r.reason, refunded_at=r.refunded_at,
                  created_at=r.created_at,
                  lines=tuple(RefundLine(line_no=x["line_no"], sku=x["sku"], quantity=x["quantity"])
                              for x in (r.lines or ())))


def _order(r: Any, lines: Sequence[OrderLine], refund_list: Sequence[Refund]) -> Order:
    return Order(id=r.id, order_number=r.order_number, customer_id=r.customer_id, ordered_at=r.ordered_at,
                 currency=r.currency, lines=tuple(lines), discount_total=r.discount_total,
                 shipping_total=r.shipping_total, total=r.total, channel=SalesChannel(r.channel),
                 status=OrderStatus(r.status), created_at=r.created_at, updated_at=r.updated_at,
                 store_id=r.store_id, refunded_total=r.refunded_total, refunds=tuple(refund_list),
                 version=r.version)


class SqlOrderRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add_many(self, items: Sequence[Order]) -> set[UUID]:
        if not items:
            return set()
        t = _unnest("o", _ORDER_COLUMNS, [_order_row(x) for x in items])
        inserted = set((await self._conn.execute(
            insert(orders).from_select(list(_ORDER_COLUMNS), select(*(t.c[n] for n in _ORDER_COLUMNS)))
            .on_conflict_do_nothing(index_elements=["order_number"]).returning(o.id))).scalars())
        lines = [_line_row(x.id, line) for x in items if x.id in inserted for line in x.lines]
        if lines:
            u = _unnest("l", _LINE_COLUMNS, lines)
            await self._conn.execute(insert(order_lines).from_select(
                list(_LINE_COLUMNS), select(*(u.c[n] for n in _LINE_COLUMNS))))
        return inserted

    async def _load(self, rows: Sequence[Any]) -> list[Order]:
        """Orders with their lines and refunds: two more queries for any number of orders."""
        if not rows:
            return []
        ids = bindparam("ids", [r.id for r in rows], type_=ARRAY(Uuid()))
        lines: dict[UUID, list[OrderLine]] = defaultdict(list)
        for x in await self._conn.execute(select(order_lines).where(ln.order_id == func.any(ids))
                                          .order_by(ln.order_id, ln.line_no)):
            lines[x.order_id].append(OrderLine(line_no=x.line_no, sku=x.sku, quantity=x.quantity,
                                               unit_price=x.unit_price, unit_cost=x.unit_cost,
                                               refunded_quantity=x.refunded_quantity))
        found: dict[UUID, list[Refund]] = defaultdict(list)
        for x in await self._conn.execute(select(refunds).where(rf.order_id == func.any(ids))
                                          .order_by(rf.order_id, rf.id)):
            found[x.order_id].append(_refund(x))
        return [_order(r, lines[r.id], found[r.id]) for r in rows]

    async def get(self, order_id: UUID) -> Order | None:
        row = (await self._conn.execute(select(orders).where(o.id == order_id))).first()
        return (await self._load([row]))[0] if row else None

    async def lock(self, order_id: UUID) -> Order | None:
        row = (await self._conn.execute(select(orders).where(o.id == order_id).with_for_update())).first()
        return (await self._load([row]))[0] if row else None

    async def ids_by_number(self, order_numbers: Sequence[str]) -> dict[str, UUID]:
        if not order_numbers:
            return {}
        rows = await self._conn.execute(select(o.order_number, o.id).where(
            o.order_number == func.any(bindparam("numbers", list(order_numbers), type_=ARRAY(Text())))))
        return {r.order_number: r.id for r in rows}

    async def search(self, filters: OrderFilter, page: PageRequest) -> list[Order]:
        query = select(orders)
        if filters.customer_id is not None:
            query = query.where(o.customer_id == filters.customer_id)
        if filters.status is not None:
            query = query.where(o.status == filters.status.value)
        if filters.channel is not None:
            query = query.where(o.channel == filters.channel.value)
        if filters.order_number is not None:
            query = query.where(o.order_number == filters.order_number)
        if filters.ordered_after is not None:
            query = query.where(o.ordered_at >= filters.ordered_after)
        if filters.ordered_before is not None:
            query = query.where(o.ordered_at < filters.ordered_before)
        if page.after is not None:
            query = query.where(o.id > page.after)
        rows = (await self._conn.execute(query.order_by(o.id).limit(page.limit + 1))).all()
        return await self._load(rows)

    async def add_refund(self, refund: Refund, order: Order) -> None:
        await self._conn.execute(refunds.insert().values(
            id=refund.id, order_id=refund.order_id, amount=refund.amount, reason=refund.reason,
            lines=[{"line_no": x.line_no, "sku": x.sku, "quantity": x.quantity} for x in refund.lines],
            refunded_at=refund.refunded_at, created_at=refund.created_at))
        await self._conn.execute(update(orders).where(o.id == order.id).values(
            refunded_total=order.refunded_total, status=order.status.value, version=order.version,
            updated_at=order.updated_at))
        returned = {x.line_no for x in refund.lines}
        changed = [_line_row(order.id, line) for line in order.lines if line.line_no in returned]
        if changed:
            u = _unnest("l", {"order_id": Uuid(), "line_no": SmallInteger(), "refunded_quantity": Integer()},
                        changed)
            await self._conn.execute(update(order_lines).where(
                and_(ln.order_id == u.c.order_id, ln.line_no == u.c.line_no))
                .values(refunded_quantity=u.c.refunded_quantity))

    async def known_customers(self, ids: Sequence[UUID],
                              identities: Sequence[tuple[str, str]]) -> KnownCustomers:
        active: set[UUID] = set()
        if ids:
            active = set((await self._conn.execute(select(customers.c.id).where(
                customers.c.id == func.any(bindparam("ids", list(ids), type_=ARRAY(Uuid()))),
                customers.c.status == CustomerStatus.ACTIVE.value))).scalars())
        held: dict[tuple[str, str], UUID] = {}
        if identities:
            i = customer_identities.c
            u = _unnest("i", {"type": Text(), "value": Text()},
                        [{"type": k, "value": v} for k, v in identities])
            rows = await self._conn.execute(select(i.type, i.value, i.customer_id).join_from(
                customer_identities, u, and_(i.type == u.c.type, i.value == u.c.value)))
            held = {(r.type, r.value): r.customer_id for r in rows}
        return KnownCustomers(active_ids=active, by_identity=held)
