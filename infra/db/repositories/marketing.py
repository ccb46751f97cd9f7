"""The marketing area in a tenant schema (Core SQL; schema_translate_map picks the schema)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.marketing.model import MarketingCost
from domain.marketing.ports import CostFilter
from domain.shared.pagination import PageRequest
from infra.db.tables.marketing import marketing_costs

m = marketing_costs.c


def _row(x: MarketingCost) -> dict[str, Any]:
    return {"id": x.id, "channel": x.channel, "campaign_id": x.campaign_id, "period_from": x.period_from,
            "period_to": x.period_to, "amount": x.amount, "currency": x.currency, "note": x.note,
            "version": x.version, "created_at": x.created_at, "updated_at": x.updated_at}


def _domain(r: Any) -> MarketingCost:
    return MarketingCost(id=r.id, channel=r.channel, campaign_id=r.campaign_id, period_from=r.period_from,
                         period_to=r.period_to, amount=r.amount, currency=r.currency, note=r.note,
                         version=r.version, created_at=r.created_at, updated_at=r.updated_at)


class SqlMarketingCostRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, cost: MarketingCost) -> None:
        await self._conn.execute(insert(marketing_costs).values(**_row(cost)))

    async def get(self, cost_id: UUID) -> MarketingCost | None:
        row = (await self._conn.execute(select(marketing_costs).where(m.id == cost_id))).first()
        return _domain(row) if row else None

    async def lock(self, cost_id: UUID) -> MarketingCost | None:
        row = (await self._conn.execute(
            select(marketing_costs).where(m.id == cost_id).with_for_update())).first()
        return _domain(row) if row else None

    async def update(self, cost: MarketingCost) -> None:
        values = _row(cost)
        del values["id"], values["created_at"]
        await self._conn.execute(update(marketing_costs).where(m.id == cost.id).values(**values))

    async def delete(self, cost_id: UUID) -> bool:
        result = await self._conn.execute(delete(marketing_costs).where(m.id == cost_id))
        return bool(result.rowcount)

    async def search(self, filters: CostFilter, page: PageRequest) -> list[MarketingCost]:
        query = select(marketing_costs).order_by(m.id).limit(page.limit + 1)
        if page.after is not None:
            query = query.where(m.id > page.after)
        if filters.channel is not None:
            query = query.where(m.channel == filters.channel)
        if filters.campaign_id is not None:
            query = query.where(m.campaign_id == filters.campaign_id)
        if filters.overlaps_from is not None:
            query = query.where(m.period_to >= filters.overlaps_from)
        if filters.overlaps_to is not None:
            query = query.where(m.period_from <= filters.overlaps_to)
        return [_domain(r) for r in await self._conn.execute(query)]
