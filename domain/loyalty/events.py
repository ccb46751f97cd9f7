"""Facts the loyalty area announces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

from domain.shared.events import DomainEvent


@dataclass(frozen=True)
class PointsEarned(DomainEvent):
    name: ClassVar[str] = "loyalty.points_earned"
    member_id: UUID
    program_id: UUID
    customer_id: UUID
    points: int
    entry_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class PointsRedeemed(DomainEvent):
    name: ClassVar[str] = "loyalty.points_redeemed"
    member_id: UUID
    program_id: UUID
    customer_id: UUID
    redemption_id: UUID
    points: int
    reward_id: UUID | None
    status: str


@dataclass(frozen=True)
class TierChanged(DomainEvent):
    """A member moved up (on qualifying) or down (on the scheduled evaluation)."""

    name: ClassVar[str] = "loyalty.tier_changed"
    member_id: UUID
    program_id: UUID
    customer_id: UUID
    from_tier: str | None
    to_tier: str | None
    reason: str
