"""Loyalty programs, members, point lots and the ledger (docs/loyalty.md).

The ledger is append-only: every change of a member's points is one entry. Points that can be spent
live in lots (one per crediting entry) with `available_at` (pending until then) and `expires_at`.
Spending, expiry and clawbacks debit lots and record which lots they debited. The invariant the
check command verifies, and the property tests exercise:

    sum(entry.points) == sum(lot.remaining) - member.debt

`debt` is what a refund could not take back from any lot under the `allow` negative-balance policy;
later earnings pay it off first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from domain.loyalty.calendar import add_months, local_day_start, month_start
from domain.loyalty.errors import InsufficientPoints
from domain.shared.errors import FieldProblem, InvalidInput

EXPIRING_SOON = timedelta(days=30)


class ProgramStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # reads work; earning, redeeming and enrolling are refused
    CLOSED = "closed"


class Rounding(StrEnum):
    FLOOR = "floor"
    ROUND = "round"  # half up
    CEIL = "ceil"

    def apply(self, value: Decimal) -> int:
        if self is Rounding.FLOOR:
            return math.floor(value)
        if self is Rounding.CEIL:
            return math.ceil(value)
        return math.floor(value + Decimal("0.5"))


class ExpiryPolicy(StrEnum):
    MONTHS_AFTER_EARN = "months_after_earn"
    END_OF_MONTH_AFTER = "end_of_month_after"
    NONE = "none"


class NegativeBalance(StrEnum):
    ALLOW = "allow"
    FLOOR_AT_ZERO = "floor_at_zero"


class TierBasis(StrEnum):
    POINTS_EARNED = "points_earned"
    SPEND = "spend"


class TierWindow(StrEnum):
    ROLLING_12_MONTHS = "rolling_12_months"
    CALENDAR_YEAR = "calendar_year"


class DowngradePolicy(StrEnum):
    ONE_STEP = "one_step"
    RECALCULATE = "recalculate"


class EntryKind(StrEnum):
    EARN = "earn"
    REDEEM = "redeem"
    EXPIRE = "expire"
    REVERSE = "reverse"
    ADJUST = "adjust"


@dataclass(frozen=True)
class Tier:
    name: str
    threshold: int
    basis: TierBasis = TierBasis.POINTS_EARNED
    window: TierWindow = TierWindow.ROLLING_12_MONTHS
    multiplier: Decimal = Decimal(1)
    free_shipping: bool = False
    birthday_bonus: int = 0


@dataclass(frozen=True)
class ProgramTerms:
    """Everything a program's owner sets; validated as a whole (`validate`)."""

    name: str
    currency: str
    earn_points: int = 1
    earn_per_amount: int = 100
    point_value: Decimal = Decimal(1)
    rounding: Rounding = Rounding.FLOOR
    pending_days: int = 0
    expiry_policy: ExpiryPolicy = ExpiryPolicy.NONE
    expiry_months: int | None = None
    negative_balance: NegativeBalance = NegativeBalance.FLOOR_AT_ZERO
    tiers: tuple[Tier, ...] = ()
    downgrade_policy: DowngradePolicy = DowngradePolicy.ONE_STEP
    tier_retention_months: int = 12
    auto_enroll: bool = False
    status: ProgramStatus = ProgramStatus.ACTIVE

    def validate(self) -> ProgramTerms:
        problems: list[FieldProblem] = []

        def need(ok: bool, name: str, message: str) -> None:
            if not ok:
                problems.append(FieldProblem(field=name, message=message))

        need(bool(self.name.strip()) and len(self.name) <= 200, "name", "1 to 200 characters")
        need(len(self.currency) == 3 and self.currency.isalpha() and self.currency.isupper(), "currency",
             "an ISO 4217 code such as JPY")
        need(1 <= self.earn_points <= 1_000_000, "earn_rate.points", "between 1 and 1,000,000")
        need(1 <= self.earn_per_amount <= 1_000_000_000, "earn_rate.per_amount", "between 1 and 10^9")
        need(Decimal(0) < self.point_value <= Decimal(1_000_000), "point_value", "greater than 0")
        need(0 <= self.pending_days <= 366, "pending_days", "between 0 and 366")
        if self.expiry_policy is ExpiryPolicy.NONE:
            need(self.expiry_months is None, "expiry.months", "not allowed when the policy is none")
        else:
            need(self.expiry_months is not None and 1 <= self.expiry_months <= 120, "expiry.months",
                 "between 1 and 120 for this policy")
        need(1 <= self.tier_retention_months <= 60, "tier_downgrade.retention_months", "between 1 and 60")
        names = [t.name for t in self.tiers]
        need(len(names) == len(set(names)), "tiers", "tier names must be unique")
        need(len(self.tiers) <= 20, "tiers", "at most 20 tiers")
        for i, tier in enumerate(self.tiers):
            need(bool(tier.name.strip()) and len(tier.name) <= 100, f"tiers.{i}.name", "1 to 100 characters")
            need(tier.threshold >= 0, f"tiers.{i}.threshold", "must not be negative")
            need(Decimal(1) <= tier.multiplier <= Decimal(100), f"tiers.{i}.multiplier", "between 1 and 100")
            need(0 <= tier.birthday_bonus <= 1_000_000, f"tiers.{i}.birthday_bonus", "between 0 and 10^6")
        if self.tiers:
            kinds = {(t.basis, t.window) for t in self.tiers}
            need(len(kinds) == 1, "tiers", "all tiers of a program use the same basis and window")
            thresholds = [t.threshold for t in self.tiers]
            need(thresholds == sorted(thresholds) and len(set(thresholds)) == len(thresholds), "tiers",
                 "list tiers from lowest to highest with strictly increasing thresholds")
            need(thresholds[0] == 0, "tiers.0.threshold",
                 "the first (entry) tier has threshold 0, so every member has a tier")
        if problems:
            raise InvalidInput("the program is invalid", problems=problems)
        return self

    def points_for(self, amount: Decimal | int) -> Decimal:
        """Unrounded points for an eligible amount (minor units)."""
        return Decimal(amount) * self.earn_points / self.earn_per_amount

    def available_at(self, earned_at: datetime, timezone: str) -> datetime:
        """Pending points become spendable at the start of the tenant-local day `pending_days`
        after the earning day (0: at once)."""
        if self.pending_days == 0:
            return earned_at
        return local_day_start(earned_at, timezone, plus_days=self.pending_days)

    def expires_at(self, earned_at: datetime, timezone: str) -> datetime | None:
        """Expiry is counted from the earning instant (not from when points become spendable)."""
        months = self.expiry_months or 0
        if self.expiry_policy is ExpiryPolicy.MONTHS_AFTER_EARN:
            return add_months(earned_at, months, timezone)
        if self.expiry_policy is ExpiryPolicy.END_OF_MONTH_AFTER:
            # Expires when the tenant-local month `months` after the earning month ends.
            return month_start(earned_at, timezone, plus_months=months + 1)
        return None

    def tier_named(self, name: str | None) -> Tier | None:
        return next((t for t in self.tiers if t.name == name), None)


@dataclass(frozen=True)
class Program:
    id: UUID
    terms: ProgramTerms
    created_at: datetime
    updated_at: datetime
    version: int = 1


@dataclass(frozen=True)
class Lot:
    id: UUID
    member_id: UUID
    entry_id: UUID
    points: int
    remaining: int
    available_at: datetime
    expires_at: datetime | None
    order_id: UUID | None = None

    def pending(self, now: datetime) -> bool:
        return self.available_at > now

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def spendable(self, now: datetime) -> bool:
        return self.remaining > 0 and not self.pending(now) and not self.expired(now)


@dataclass(frozen=True)
class LotDebit:
    """`points` taken from a lot by an entry (negative: given back, when a redemption is cancelled)."""

    lot_id: UUID
    points: int


@dataclass(frozen=True)
class LedgerEntry:
    id: UUID
    member_id: UUID
    kind: EntryKind
    points: int  # signed: + credits, - debits
    reason: str
    occurred_at: datetime
    idempotency_key: str
    source_type: str | None = None  # order | event | rule | redemption | campaign | client | job
    source_id: str | None = None
    rule_id: UUID | None = None
    actor: str | None = None
    debits: tuple[LotDebit, ...] = ()
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Balances:
    pending: int
    active: int
    spent: int
    expired: int
    expiring_soon: int
    next_expiry_at: datetime | None
    next_expiry_points: int
    debt: int


@dataclass
class Wallet:
    """A member's lots and debt, loaded under the member's row lock, and the pure rules that move
    points between them. Each operation returns what to write; `lots` is updated in place."""

    member_id: UUID
    lots: list[Lot]
    debt: int = 0

    def total(self) -> int:
        return sum(lot.remaining for lot in self.lots) - self.debt

    def spendable(self, now: datetime) -> int:
        return sum(lot.remaining for lot in self.lots if lot.spendable(now)) - self.debt

    def credit(self, lot: Lot) -> tuple[Lot, int]:
        """Add a new lot; outstanding debt is paid from it first. Returns the lot as stored and the
        debt it settled (recorded on the entry)."""
        settled = min(self.debt, lot.points)
        self.debt -= settled
        stored = replace(lot, remaining=lot.points - settled)
        self.lots.append(stored)
        return stored, settled

    def spend(self, points: int, now: datetime) -> tuple[LotDebit, ...]:
        """Consume spendable lots first-expiring-first (never-expiring last; ties: oldest lot).
        Short: InsufficientPoints with what is available."""
        if points <= 0:
            raise InvalidInput("points must be a positive whole number", field="points")
        available = self.spendable(now)
        if points > available:
            raise InsufficientPoints(requested=points, available=max(available, 0))
        order = sorted((lot for lot in self.lots if lot.spendable(now)), key=_spend_order)
        return self._take(order, points)

    def claw_back(self, points: int, order_lots: Iterable[UUID], policy: NegativeBalance,
                  now: datetime) -> tuple[tuple[LotDebit, ...], int, int]:
        """Take back `points` for a refund: from the order's own lots first (pending or not), then
        from other unexpired lots first-expiring-first. What is still missing becomes debt
        (`allow`) or is forgiven (`floor_at_zero`). Returns (debits, debt added, forgiven)."""
        own = set(order_lots)
        first = sorted((lot for lot in self.lots if lot.id in own and lot.remaining > 0
                        and not lot.expired(now)), key=_spend_order)
        rest = sorted((lot for lot in self.lots if lot.id not in own and lot.remaining > 0
                       and not lot.expired(now)), key=_spend_order)
        taken = min(points, sum(lot.remaining for lot in first + rest))
        debits = self._take(first + rest, taken)
        missing = points - taken
        if policy is NegativeBalance.ALLOW:
            self.debt += missing
            return debits, missing, 0
        return debits, 0, missing

    def expire(self, now: datetime) -> list[tuple[Lot, int]]:
        """Lots whose expiry has passed and that still hold points: (lot, points expired)."""
        out: list[tuple[Lot, int]] = []
        for i, lot in enumerate(self.lots):
            if lot.expired(now) and lot.remaining > 0:
                out.append((lot, lot.remaining))
                self.lots[i] = replace(lot, remaining=0)
        return out

    def restore(self, debits: Sequence[LotDebit]) -> tuple[LotDebit, ...]:
        """Give back what an entry took (a cancelled redemption): the same lots, the same points.
        A lot that expired meanwhile gets its points back and the next expiry run takes them."""
        by_id = {lot.id: i for i, lot in enumerate(self.lots)}
        back: list[LotDebit] = []
        for debit in debits:
            i = by_id.get(debit.lot_id)
            if i is None or debit.points <= 0:
                continue
            self.lots[i] = replace(self.lots[i], remaining=self.lots[i].remaining + debit.points)
            back.append(LotDebit(lot_id=debit.lot_id, points=-debit.points))
        return tuple(back)

    def _take(self, lots: Sequence[Lot], points: int) -> tuple[LotDebit, ...]:
        by_id = {lot.id: i for i, lot in enumerate(self.lots)}
        debits: list[LotDebit] = []
        left = points
        for lot in lots:
            if left == 0:
                break
            take = min(lot.remaining, left)
            if take <= 0:
                continue
            i = by_id[lot.id]
            self.lots[i] = replace(self.lots[i], remaining=self.lots[i].remaining - take)
            debits.append(LotDebit(lot_id=lot.id, points=take))
            left -= take
        return tuple(debits)


def _spend_order(lot: Lot) -> tuple[bool, datetime, datetime, UUID]:
    far = datetime.max.replace(tzinfo=lot.available_at.tzinfo)
    return (lot.expires_at is None, lot.expires_at or far, lot.available_at, lot.id)


def balances(lots: Sequence[Lot], *, debt: int, spent: int, expired: int, now: datetime) -> Balances:
    """`spent` and `expired` come from the ledger (net redeemed; expire entries). Lots whose expiry
    passed but that the expiry job has not reached yet already count as expired, not active."""
    pending = sum(lot.remaining for lot in lots if lot.remaining > 0 and lot.pending(now)
                  and not lot.expired(now))
    active = sum(lot.remaining for lot in lots if lot.spendable(now)) - debt
    lapsed = sum(lot.remaining for lot in lots if lot.remaining > 0 and lot.expired(now))
    soon = [lot for lot in lots if lot.spendable(now) and lot.expires_at is not None
            and lot.expires_at <= now + EXPIRING_SOON]
    next_at = min((lot.expires_at for lot in soon if lot.expires_at is not None), default=None)
    next_points = sum(lot.remaining for lot in soon if lot.expires_at == next_at)
    return Balances(pending=pending, active=active, spent=spent, expired=expired + lapsed,
                    expiring_soon=sum(lot.remaining for lot in soon), next_expiry_at=next_at,
                    next_expiry_points=next_points, debt=debt)


class MemberStatus(StrEnum):
    ACTIVE = "active"
    MERGED = "merged"  # its customer was merged into another member of the same program


@dataclass(frozen=True)
class Member:
    id: UUID
    program_id: UUID
    customer_id: UUID
    tier: str | None
    tier_since: datetime | None
    lifetime_points: int
    debt: int
    status: MemberStatus
    enrolled_at: datetime
    version: int = 1


@dataclass(frozen=True)
class TierChange:
    id: UUID
    member_id: UUID
    from_tier: str | None
    to_tier: str | None
    reason: str  # qualified | downgrade | enrolled | program_changed
    occurred_at: datetime
    qualifying_value: int
