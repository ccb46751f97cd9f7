"""The rewards catalogue and redemptions (docs/loyalty.md, "Rewards and redemption")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from domain.shared.errors import Conflict, FieldProblem, InvalidInput

DEFAULT_HOLD = timedelta(minutes=15)
MAX_HOLD = timedelta(hours=24)


class RewardKind(StrEnum):
    DISCOUNT = "discount"
    COUPON = "coupon"
    GIFT = "gift"
    DONATION = "donation"


class RewardStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class RewardTerms:
    name: str
    kind: RewardKind
    points_cost: int
    stock: int | None = None  # None: unlimited
    per_customer_limit: int | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    status: RewardStatus = RewardStatus.ACTIVE
    description: str | None = None

    def validate(self) -> RewardTerms:
        problems: list[FieldProblem] = []
        if not self.name.strip() or len(self.name) > 200:
            problems.append(FieldProblem("name", "1 to 200 characters"))
        if not 1 <= self.points_cost <= 100_000_000:
            problems.append(FieldProblem("points_cost", "between 1 and 10^8"))
        if self.stock is not None and self.stock < 0:
            problems.append(FieldProblem("stock", "must not be negative"))
        if self.per_customer_limit is not None and self.per_customer_limit < 1:
            problems.append(FieldProblem("per_customer_limit", "at least 1"))
        if self.valid_from and self.valid_until and self.valid_from >= self.valid_until:
            problems.append(FieldProblem("valid_until", "must be after valid_from"))
        if problems:
            raise InvalidInput("the reward is invalid", problems=problems)
        return self

    def check_redeemable(self, now: datetime) -> None:
        if self.status is not RewardStatus.ACTIVE:
            raise Conflict("this reward is not active", extra={"code": "reward_inactive"})
        if (self.valid_from and now < self.valid_from) or (self.valid_until and now >= self.valid_until):
            raise Conflict("this reward cannot be redeemed now (outside its validity)",
                           extra={"code": "reward_not_valid_now"})


@dataclass(frozen=True)
class Reward:
    id: UUID
    program_id: UUID
    terms: RewardTerms
    redeemed: int
    created_at: datetime
    updated_at: datetime
    version: int = 1


class RedemptionStatus(StrEnum):
    RESERVED = "reserved"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # a reservation nobody confirmed in time: its points came back


@dataclass(frozen=True)
class Redemption:
    id: UUID
    member_id: UUID
    reward_id: UUID | None
    points: int
    status: RedemptionStatus
    entry_id: UUID
    reserved_until: datetime | None
    created_at: datetime
    updated_at: datetime
    release_entry_id: UUID | None = None

    def open_reservation(self, now: datetime) -> bool:
        return (self.status is RedemptionStatus.RESERVED and self.reserved_until is not None
                and now < self.reserved_until)
