"""What the marketing use cases need from storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol
from uuid import UUID

from domain.marketing.model import MarketingCost
from domain.shared.pagination import PageRequest


@dataclass(frozen=True)
class CostFilter:
    channel: str | None = None
    campaign_id: str | None = None
    # Costs whose period overlaps [overlaps_from, overlaps_to] (tenant-local days, both included).
    overlaps_from: date | None = None
    overlaps_to: date | None = None


class MarketingCostRepository(Protocol):
    async def add(self, cost: MarketingCost) -> None: ...

    async def get(self, cost_id: UUID) -> MarketingCost | None: ...

    async def lock(self, cost_id: UUID) -> MarketingCost | None:
        """SELECT ... FOR UPDATE."""
        ...

    async def update(self, cost: MarketingCost) -> None: ...

    async def delete(self, cost_id: UUID) -> bool:
        """True when a cost was deleted."""
        ...

    async def search(self, filters: CostFilter, page: PageRequest) -> list[MarketingCost]:
        """In id (creation) order, after `page.after`, at most `page.limit + 1` rows."""
        ...
