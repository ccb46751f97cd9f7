"""Marketing cost use cases: record, read, list, change, delete."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.marketing.model import CAMPAIGN_MAX_LENGTH, CHANNEL_MAX_LENGTH, MarketingCost, normalise_cost
from domain.marketing.ports import CostFilter
from domain.shared.clock import Clock
from domain.shared.errors import InvalidInput, NotFound, PreconditionFailed
from domain.shared.ids import new_id
from domain.shared.pagination import Page, PageRequest, page_from
from domain.shared.ports import UnitOfWork
from domain.shared.text import clean_text


def _currency(fields: dict[str, Any], tenant_currency: str) -> None:
    # Costs are compared with order revenue, which is always in the tenant's currency and never
    # converted: a cost in another currency would make CPO and ROMI wrong without saying so.
    sent = fields.pop("currency", None)
    if sent is not None and str(sent).strip().upper() != tenant_currency:
        raise InvalidInput(f"must be the tenant's currency {tenant_currency}; convert the amount first",
                           field="currency")


async def create_cost(*, uow: UnitOfWork, clock: Clock, tenant_currency: str,
                      fields: dict[str, Any]) -> MarketingCost:
    fields = dict(fields)
    _currency(fields, tenant_currency)
    values = normalise_cost(fields, creating=True)
    cost = MarketingCost.create(id=new_id(), values=values, currency=tenant_currency, now=clock.now())
    async with uow:
        await uow.marketing_costs.add(cost)
        await uow.commit()
    return cost


async def get_cost(*, uow: UnitOfWork, cost_id: UUID) -> MarketingCost:
    async with uow:
        cost = await uow.marketing_costs.get(cost_id)
    if cost is None:
        raise NotFound("marketing cost", cost_id)
    return cost


async def list_costs(*, uow: UnitOfWork, filters: CostFilter, page: PageRequest) -> Page[MarketingCost]:
    """Filters are normalised as stored values are (NFKC, trimmed), so they match what was sent."""
    if (filters.overlaps_from and filters.overlaps_to and filters.overlaps_to < filters.overlaps_from):
        raise InvalidInput("`to` must not be before `from`", field="to")
    filters = CostFilter(
        channel=clean_text(filters.channel, field="channel", max_length=CHANNEL_MAX_LENGTH)
        if filters.channel is not None else None,
        campaign_id=clean_text(filters.campaign_id, field="campaign_id", max_length=CAMPAIGN_MAX_LENGTH)
        if filters.campaign_id is not None else None,
        overlaps_from=filters.overlaps_from, overlaps_to=filters.overlaps_to)
    async with uow:
        rows = await uow.marketing_costs.search(filters, page)
    return page_from(rows, page)


async def update_cost(*, uow: UnitOfWork, clock: Clock, tenant_currency: str, cost_id: UUID,
                      fields: dict[str, Any], expected_version: int | None = None) -> MarketingCost:
    fields = dict(fields)
    _currency(fields, tenant_currency)
    values = normalise_cost(fields, creating=False)
    async with uow:
        current = await uow.marketing_costs.lock(cost_id)
        if current is None:
            raise NotFound("marketing cost", cost_id)
        if expected_version is not None and expected_version != current.version:
            raise PreconditionFailed("the marketing cost changed since it was read (If-Match does not match)")
        updated = current.changed(values, clock.now())
        if updated is not current:
            await uow.marketing_costs.update(updated)
            await uow.commit()
    return updated


async def delete_cost(*, uow: UnitOfWork, cost_id: UUID) -> None:
    async with uow:
        if not await uow.marketing_costs.delete(cost_id):
            raise NotFound("marketing cost", cost_id)
        await uow.commit()
