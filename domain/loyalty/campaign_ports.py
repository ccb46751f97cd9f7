"""What the entry-campaign use cases need from storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol
from uuid import UUID

from domain.loyalty.campaign_model import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    Draw,
    Entry,
    PurchasedLine,
)
from domain.shared.pagination import PageRequest


@dataclass(frozen=True)
class CampaignFilter:
    status: CampaignStatus | None = None
    kind: CampaignKind | None = None


class CodeUse(StrEnum):
    CONSUMED = "consumed"  # this entry took the code
    ALREADY_USED = "already_used"  # another entry took it first
    UNKNOWN = "unknown"  # never uploaded for this campaign


class EntryCampaignRepository(Protocol):
    async def add(self, campaign: Campaign) -> None: ...

    async def get(self, campaign_id: UUID, *,
                  lock: Literal["share", "update"] | None = None) -> Campaign | None:
        """`lock="share"` holds the row against changes while entries are written; `"update"`
        serialises changes and draws."""
        ...

    async def update(self, campaign: Campaign) -> None: ...

    async def search(self, filters: CampaignFilter, page: PageRequest) -> list[Campaign]: ...

    async def has_entries(self, campaign_id: UUID) -> bool: ...

    async def count_entries(self, campaign_id: UUID, customer_ids: Sequence[UUID]) -> int:
        """Entries by any of these customers (a customer and those merged into it)."""
        ...

    async def add_entry(self, entry: Entry) -> None: ...

    async def entries(self, campaign_id: UUID, customer_id: UUID | None,
                      page: PageRequest) -> list[Entry]: ...

    async def draw_pool(self, campaign_id: UUID) -> list[tuple[UUID, UUID]]:
        """Every entry as (entry id, customer id), sorted by entry id. An entrant merged into
        another customer since is named by the customer it was merged into."""
        ...

    async def add_codes(self, campaign_id: UUID, digests: Sequence[str], now: datetime) -> int:
        """Store code digests; ones already stored are skipped. Returns how many were new."""
        ...

    async def consume_code(self, campaign_id: UUID, digest: str, entry_id: UUID, now: datetime) -> CodeUse:
        """Mark the code used by `entry_id` with one conditional UPDATE: of two concurrent
        entries, the second waits for the first to commit and then finds the code used."""
        ...

    async def claim_receipt(self, campaign_id: UUID, receipt_number: str, entry_id: UUID,
                            now: datetime) -> bool:
        """False when the number was used already (unique per campaign; race-free insert)."""
        ...

    async def purchased_lines(self, customer_id: UUID, starts_at: datetime,
                              ends_at: datetime) -> list[PurchasedLine]:
        """Lines of the customer's orders with status placed or partially_refunded and
        starts_at <= ordered_at < ends_at, with each sku's catalogue category path."""
        ...

    async def add_draw(self, draw: Draw) -> None: ...

    async def latest_draw(self, campaign_id: UUID) -> Draw | None: ...
