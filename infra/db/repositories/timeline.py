"""A customer's timeline as one query: a UNION ALL of orders, events, consent decisions and merges.

Each branch filters by customer, period and the keyset position, sorts newest first and stops at
limit + 1 on its own index ((customer_id, ordered_at) on orders, (customer_id, occurred_at) on
events and consent_events, target_id on customer_merges), so a page costs the same on the first
page of a long history as on the last. The outer query merges the branches and keeps limit + 1.
Core SQL: schema_translate_map points the tables at the tenant's schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, String, func, literal_column, select, tuple_, union_all
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.events.keyset import KeysetPage
from domain.events.timeline import TimelineEntry, TimelineFilter, TimelineKind
from infra.db.tables.tenant import consent_events, customer_merges, events, orders


def _json(*pairs: Any) -> ColumnElement[Any]:
    return func.jsonb_build_object(*pairs, type_=JSONB)


def _branch(kind: TimelineKind, id_: Any, occurred: Any, customer: Any, data: ColumnElement[Any],
            customer_ids: Sequence[UUID], filters: TimelineFilter, page: KeysetPage) -> Select[Any]:
    query = select(literal_column(f"'{kind.value}'", String).label("kind"), id_.label("id"),
                   occurred.label("occurred_at"), customer.label("customer_id"), data.label("data"))
    query = query.where(customer.in_(list(customer_ids)))
    if filters.start is not None:
        query = query.where(occurred >= filters.start)
    if filters.end is not None:
        query = query.where(occurred < filters.end)
    if page.before is not None:
        query = query.where(tuple_(occurred, id_) < tuple_(*page.before))
    return query.order_by(occurred.desc(), id_.desc()).limit(page.limit + 1)


class SqlTimelineReader:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def read(self, customer_ids: Sequence[UUID], filters: TimelineFilter,
                   page: KeysetPage) -> list[TimelineEntry]:
        o, ev, c, m = orders.c, events.c, consent_events.c, customer_merges.c
        data = {
            TimelineKind.ORDER: (o.id, o.ordered_at, o.customer_id, _json(
                "order_number", o.order_number, "status", o.status, "currency", o.currency,
                "total", o.total, "discount_total", o.discount_total, "shipping_total", o.shipping_total,
                "refunded_total", o.refunded_total, "channel", o.channel, "store_id", o.store_id,
                "touchpoint", o.touchpoint)),
            TimelineKind.EVENT: (ev.id, ev.occurred_at, ev.customer_id, _json(
                "type", ev.type, "event_id", ev.event_id, "properties", ev.properties,
                "touchpoint", _json("channel", ev.touchpoint_channel, "stage", ev.touchpoint_stage,
                                    "campaign_id", ev.campaign_id),
                "received_at", ev.received_at)),
            TimelineKind.CONSENT: (c.id, c.occurred_at, c.customer_id, _json(
                "channel", c.channel, "status", c.status, "source", c.source, "actor", c.actor,
                "recorded_at", c.recorded_at)),
            TimelineKind.MERGE: (m.id, m.merged_at, m.target_id, _json(
                "source_customer_id", m.source_id, "target_customer_id", m.target_id, "actor", m.actor,
                "report", m.report)),
        }
        branches = [_branch(kind, *data[kind], customer_ids=customer_ids, filters=filters, page=page)
                    .subquery(f"{kind.value}s") for kind in TimelineKind if kind in filters.kinds]
        if not branches:
            return []
        unioned = union_all(*(select(b) for b in branches)).subquery("timeline")
        t = unioned.c
        rows = await self._conn.execute(select(unioned).order_by(t.occurred_at.desc(), t.id.desc())
                                        .limit(page.limit + 1))
        return [TimelineEntry(kind=TimelineKind(r.kind), id=r.id, occurred_at=r.occurred_at,
                              customer_id=r.customer_id, data=dict(r.data)) for r in rows]


async def merged_sources(conn: AsyncConnection, customer_id: UUID) -> list[UUID]:
    """Customers merged into this one, directly or through chains (A into B, then B into C)."""
    m = customer_merges.c
    sources = select(m.source_id).where(m.target_id == customer_id).cte("sources", recursive=True)
    sources = sources.union(select(customer_merges.c.source_id).where(
        customer_merges.c.target_id == sources.c.source_id))
    rows = await conn.execute(select(sources.c.source_id))
    return [r[0] for r in rows]
