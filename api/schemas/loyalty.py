"""Loyalty bodies (contract names from the loyalty issue: `earn_rate`, `expiry`, `tiers`, `balances`,
`lifetime_points`, `kind`/`points`/`reason`, `available`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import RequestBody, ResponseBody, Timestamp
from api.schemas.orders import OrderCustomerRef
from api.schemas.products import Int
from domain.loyalty.model import (
    DowngradePolicy,
    ExpiryPolicy,
    LedgerEntry,
    NegativeBalance,
    Program,
    ProgramStatus,
    ProgramTerms,
    Rounding,
    Tier,
    TierBasis,
    TierChange,
    TierWindow,
)
from domain.loyalty.rewards import Redemption, Reward, RewardKind, RewardStatus, RewardTerms
from domain.loyalty.rules import Award, CapPeriod, EarningRule, RuleStatus, RuleTerms, Stacking, Trigger
from domain.loyalty.services import MemberView

MAX_POINTS = 100_000_000


def _decimal(value: float) -> Decimal:
    return Decimal(str(value))


# -- programs ---------------------------------------------------------------------------------

class EarnRate(RequestBody):
    points: Int = Field(ge=1, le=1_000_000, examples=[1])
    per_amount: Int = Field(ge=1, le=1_000_000_000, examples=[100],
                            description="Amount spent (minor units) that earns `points`")


class Expiry(RequestBody):
    policy: Literal["months_after_earn", "end_of_month_after", "none"] = "none"
    months: Int | None = Field(default=None, ge=1, le=120,
                               description="Required unless the policy is none")


class TierBody(RequestBody):
    name: str = Field(min_length=1, max_length=100, examples=["Gold"])
    threshold: Int = Field(ge=0, le=10**12, description="Points earned, or spend in minor units")
    basis: Literal["points_earned", "spend"] = "points_earned"
    window: Literal["rolling_12_months", "calendar_year"] = "rolling_12_months"
    multiplier: float = Field(default=1.0, ge=1, le=100, description="Points multiplier of the tier")
    free_shipping: bool = False
    birthday_bonus: Int = Field(default=0, ge=0, le=1_000_000)

    def to_domain(self) -> Tier:
        return Tier(name=self.name, threshold=self.threshold, basis=TierBasis(self.basis),
                    window=TierWindow(self.window), multiplier=_decimal(self.multiplier),
                    free_shipping=self.free_shipping, birthday_bonus=self.birthday_bonus)


class TierDowngrade(RequestBody):
    policy: Literal["one_step", "recalculate"] = "one_step"
    retention_months: Int = Field(default=12, ge=1, le=60,
                                  description="A tier is kept at least this long after reaching it")


class ProgramCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200, examples=["Kizuna Points"])
    currency: str | None = Field(default=None, min_length=3, max_length=3, examples=["JPY"],
                                 description="The tenant's currency (default); orders are in it")
    earn_rate: EarnRate = Field(default_factory=lambda: EarnRate(points=1, per_amount=100))
    point_value: float = Field(default=1.0, gt=0, le=1_000_000,
                               description="Minor units of currency one point is worth when redeemed")
    rounding: Literal["floor", "round", "ceil"] = "floor"
    pending_days: Int = Field(default=0, ge=0, le=366)
    expiry: Expiry = Field(default_factory=Expiry)
    negative_balance: Literal["allow", "floor_at_zero"] = "floor_at_zero"
    tiers: list[TierBody] = Field(default_factory=list, max_length=20)
    tier_downgrade: TierDowngrade = Field(default_factory=TierDowngrade)
    auto_enroll: bool = Field(default=False, description="Enrol every buyer on their first order")
    status: Literal["active", "suspended", "closed"] = "active"

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "Kizuna Points", "currency": "JPY", "earn_rate": {"points": 1, "per_amount": 100},
        "pending_days": 14, "expiry": {"policy": "end_of_month_after", "months": 12},
        "negative_balance": "floor_at_zero",
        "tiers": [{"name": "Regular", "threshold": 0}, {"name": "Silver", "threshold": 1000},
                  {"name": "Gold", "threshold": 5000, "multiplier": 1.5}]}]})

    def to_terms(self, tenant_currency: str) -> ProgramTerms:
        currency = (self.currency or tenant_currency).upper()
        return ProgramTerms(
            name=self.name, currency=currency, earn_points=self.earn_rate.points,
            earn_per_amount=self.earn_rate.per_amount, point_value=_decimal(self.point_value),
            rounding=Rounding(self.rounding), pending_days=self.pending_days,
            expiry_policy=ExpiryPolicy(self.expiry.policy), expiry_months=self.expiry.months,
            negative_balance=NegativeBalance(self.negative_balance),
            tiers=tuple(t.to_domain() for t in self.tiers),
            downgrade_policy=DowngradePolicy(self.tier_downgrade.policy),
            tier_retention_months=self.tier_downgrade.retention_months, auto_enroll=self.auto_enroll,
            status=ProgramStatus(self.status))


class ProgramPatch(RequestBody):
    """Only the fields sent change; `currency` is fixed once created."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    earn_rate: EarnRate | None = None
    point_value: float | None = Field(default=None, gt=0, le=1_000_000)
    rounding: Literal["floor", "round", "ceil"] | None = None
    pending_days: Int | None = Field(default=None, ge=0, le=366)
    expiry: Expiry | None = None
    negative_balance: Literal["allow", "floor_at_zero"] | None = None
    tiers: list[TierBody] | None = Field(default=None, max_length=20)
    tier_downgrade: TierDowngrade | None = None
    auto_enroll: bool | None = None
    status: Literal["active", "suspended", "closed"] | None = None

    def changes(self) -> dict[str, Any]:
        sent = self.model_fields_set
        out: dict[str, Any] = {}
        for name in sent:
            if getattr(self, name) is None:
                from domain.shared.errors import InvalidInput
                raise InvalidInput("may be omitted but not null", field=name)
        if "name" in sent:
            out["name"] = self.name
        if self.earn_rate is not None:
            out["earn_points"], out["earn_per_amount"] = self.earn_rate.points, self.earn_rate.per_amount
        if self.point_value is not None:
            out["point_value"] = _decimal(self.point_value)
        if self.rounding is not None:
            out["rounding"] = Rounding(self.rounding)
        if self.pending_days is not None:
            out["pending_days"] = self.pending_days
        if self.expiry is not None:
            out["expiry_policy"], out["expiry_months"] = ExpiryPolicy(self.expiry.policy), self.expiry.months
        if self.negative_balance is not None:
            out["negative_balance"] = NegativeBalance(self.negative_balance)
        if self.tiers is not None:
            out["tiers"] = tuple(t.to_domain() for t in self.tiers)
        if self.tier_downgrade is not None:
            out["downgrade_policy"] = DowngradePolicy(self.tier_downgrade.policy)
            out["tier_retention_months"] = self.tier_downgrade.retention_months
        if self.auto_enroll is not None:
            out["auto_enroll"] = self.auto_enroll
        if self.status is not None:
            out["status"] = ProgramStatus(self.status)
        return out


class TierRead(BaseModel):
    name: str
    threshold: int
    basis: str
    window: str
    multiplier: float
    free_shipping: bool
    birthday_bonus: int

    @classmethod
    def from_domain(cls, t: Tier) -> TierRead:
        return cls(name=t.name, threshold=t.threshold, basis=t.basis.value, window=t.window.value,
                   multiplier=float(t.multiplier), free_shipping=t.free_shipping,
                   birthday_bonus=t.birthday_bonus)


class ProgramRead(ResponseBody):
    id: UUID
    name: str
    currency: str
    earn_rate: dict[str, int]
    point_value: float
    rounding: str
    pending_days: int
    expiry: dict[str, Any]
    negative_balance: str
    tiers: list[TierRead]
    tier_downgrade: dict[str, Any]
    auto_enroll: bool
    status: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, p: Program) -> ProgramRead:
        t = p.terms
        return cls(id=p.id, name=t.name, currency=t.currency,
                   earn_rate={"points": t.earn_points, "per_amount": t.earn_per_amount},
                   point_value=float(t.point_value), rounding=t.rounding.value, pending_days=t.pending_days,
                   expiry={"policy": t.expiry_policy.value, "months": t.expiry_months},
                   negative_balance=t.negative_balance.value,
                   tiers=[TierRead.from_domain(x) for x in t.tiers],
                   tier_downgrade={"policy": t.downgrade_policy.value,
                                   "retention_months": t.tier_retention_months},
                   auto_enroll=t.auto_enroll, status=t.status.value, created_at=p.created_at,
                   updated_at=p.updated_at)


# -- earning rules ----------------------------------------------------------------------------

class RuleConditions(RequestBody):
    skus: list[str] = Field(default_factory=list, max_length=1000)
    categories: list[str] = Field(default_factory=list, max_length=100,
                                  description="Category path prefixes, levels joined by '/', e.g. 食品/お茶")
    channels: list[str] = Field(default_factory=list, max_length=20, examples=[["ec", "store"]])
    tiers: list[str] = Field(default_factory=list, max_length=20)
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None


class Cap(RequestBody):
    points: Int = Field(ge=1, le=MAX_POINTS)
    period: Literal["day", "week", "month", "program"]


class RuleCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200, examples=["Tea week x2"])
    trigger: Literal["order", "first_purchase", "event", "birthday"] = "order"
    multiplier: float | None = Field(default=None, gt=1, le=100,
                                     description="Adds base points x (multiplier - 1) on the scope")
    points: Int | None = Field(default=None, ge=1, le=1_000_000, description="Fixed points")
    event_type: str | None = Field(default=None, max_length=100, examples=["survey_answered"])
    conditions: RuleConditions = Field(default_factory=RuleConditions)
    priority: Int = Field(default=100, ge=0, le=10_000, description="Lower runs first")
    stacking: Literal["stack", "exclusive"] = "stack"
    cap: Cap | None = None
    status: Literal["active", "inactive"] = "active"

    def to_terms(self) -> RuleTerms:
        c = self.conditions
        return RuleTerms(
            name=self.name, trigger=Trigger(self.trigger),
            multiplier=_decimal(self.multiplier) if self.multiplier is not None else None,
            points=self.points, event_type=self.event_type, skus=tuple(c.skus),
            categories=tuple(x.strip("/") for x in c.categories), channels=tuple(c.channels),
            tiers=tuple(c.tiers), starts_at=c.starts_at, ends_at=c.ends_at, priority=self.priority,
            stacking=Stacking(self.stacking), cap_points=self.cap.points if self.cap else None,
            cap_period=CapPeriod(self.cap.period) if self.cap else None, status=RuleStatus(self.status))


class RulePatch(RequestBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    priority: Int | None = Field(default=None, ge=0, le=10_000)
    status: Literal["active", "inactive"] | None = None
    conditions: RuleConditions | None = None
    cap: Cap | None = None

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.name is not None:
            out["name"] = self.name
        if self.priority is not None:
            out["priority"] = self.priority
        if self.status is not None:
            out["status"] = RuleStatus(self.status)
        if self.conditions is not None:
            c = self.conditions
            out.update(skus=tuple(c.skus), categories=tuple(x.strip("/") for x in c.categories),
                       channels=tuple(c.channels), tiers=tuple(c.tiers), starts_at=c.starts_at,
                       ends_at=c.ends_at)
        if "cap" in self.model_fields_set:
            out["cap_points"] = self.cap.points if self.cap else None
            out["cap_period"] = CapPeriod(self.cap.period) if self.cap else None
        return out


class RuleRead(ResponseBody):
    id: UUID
    program_id: UUID
    name: str
    trigger: str
    multiplier: float | None
    points: int | None
    event_type: str | None
    conditions: dict[str, Any]
    priority: int
    stacking: str
    cap: dict[str, Any] | None
    status: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, r: EarningRule) -> RuleRead:
        t = r.terms
        return cls(id=r.id, program_id=r.program_id, name=t.name, trigger=t.trigger.value,
                   multiplier=float(t.multiplier) if t.multiplier is not None else None, points=t.points,
                   event_type=t.event_type,
                   conditions={"skus": list(t.skus), "categories": list(t.categories),
                               "channels": list(t.channels), "tiers": list(t.tiers),
                               "starts_at": t.starts_at, "ends_at": t.ends_at},
                   priority=t.priority, stacking=t.stacking.value,
                   cap={"points": t.cap_points, "period": t.cap_period.value} if t.cap_period else None,
                   status=t.status.value, created_at=r.created_at, updated_at=r.updated_at)


class RuleList(BaseModel):
    data: list[RuleRead]


# -- simulate ---------------------------------------------------------------------------------

class SimulateLine(RequestBody):
    sku: str = Field(min_length=1, max_length=128)
    quantity: Int = Field(ge=1, le=1_000_000)
    unit_price: Int = Field(ge=0, le=10**12)
    category_path: list[str] | None = Field(default=None, max_length=10,
                                            description="Default: the catalogue's category of the sku")


class SimulateBody(RequestBody):
    ordered_at: Timestamp | None = Field(default=None, description="Default: now")
    channel: str = Field(default="ec", max_length=32)
    lines: list[SimulateLine] = Field(min_length=1, max_length=500)
    shipping_total: Int = Field(default=0, ge=0, le=10**12)
    total: Int | None = Field(default=None, ge=0, le=10**12,
                              description="Default: the lines' sum plus shipping (no discount)")
    first_purchase: bool = False
    customer_id: UUID | None = Field(default=None, description="A member: their tier and caps apply")
    tier: str | None = Field(default=None, max_length=100, description="Simulate as this tier")


class AwardRead(BaseModel):
    source: Literal["base", "tier", "rule"]
    rule_id: UUID | None
    reason: str
    points: int
    capped_from: int | None = Field(description="What the rule would have given without its cap")

    @classmethod
    def from_domain(cls, a: Award) -> AwardRead:
        return cls(source=a.source, rule_id=a.rule_id, reason=a.reason, points=a.points,  # type: ignore[arg-type]
                   capped_from=a.uncapped_points)


class SimulationRead(BaseModel):
    program_id: UUID
    total_points: int
    awards: list[AwardRead]


# -- members ----------------------------------------------------------------------------------

class EnrolBody(RequestBody):
    customer: OrderCustomerRef


class ExpiringSoon(BaseModel):
    points: int = Field(description="Spendable points expiring within the next 30 days")
    next_expiry_at: datetime | None
    next_expiry_points: int


class BalancesRead(BaseModel):
    pending: int = Field(description="Earned, not yet spendable (pending period)")
    active: int = Field(description="Spendable now (negative when a clawback left debt)")
    spent: int
    expired: int
    expiring_soon: ExpiringSoon
    debt: int = Field(description="Points refunds took back that no lot held (policy allow)")


class NextTierRead(BaseModel):
    name: str
    threshold: int
    missing: int = Field(description="How much more of the tier basis reaches it")


class MemberTier(BaseModel):
    name: str
    since: datetime | None
    benefits: dict[str, Any]


class MemberRead(BaseModel):
    id: UUID
    program_id: UUID
    customer_id: UUID
    status: str
    enrolled_at: datetime
    balances: BalancesRead
    tier: MemberTier | None
    next_tier: NextTierRead | None
    qualifying_value: int | None = Field(description="Points earned or spend in the tier window")
    lifetime_points: int

    @classmethod
    def from_view(cls, v: MemberView) -> MemberRead:
        m, b = v.member, v.balances
        tier = v.program.terms.tier_named(m.tier)
        return cls(
            id=m.id, program_id=m.program_id, customer_id=m.customer_id, status=m.status.value,
            enrolled_at=m.enrolled_at, lifetime_points=m.lifetime_points, qualifying_value=v.qualifying_value,
            balances=BalancesRead(pending=b.pending, active=b.active, spent=b.spent, expired=b.expired,
                                  debt=b.debt, expiring_soon=ExpiringSoon(
                                      points=b.expiring_soon, next_expiry_at=b.next_expiry_at,
                                      next_expiry_points=b.next_expiry_points)),
            tier=MemberTier(name=tier.name, since=m.tier_since, benefits={
                "multiplier": float(tier.multiplier), "free_shipping": tier.free_shipping,
                "birthday_bonus": tier.birthday_bonus}) if tier else None,
            next_tier=NextTierRead(name=v.next_tier.name, threshold=v.next_tier.threshold,
                                   missing=v.next_tier.missing) if v.next_tier else None)


class MemberSummary(BaseModel):
    id: UUID
    program_id: UUID
    customer_id: UUID
    status: str
    tier: str | None
    lifetime_points: int
    enrolled_at: datetime


# -- the ledger -------------------------------------------------------------------------------

class TransactionCreate(RequestBody):
    kind: Literal["adjust"] = Field(description="Only manual adjustments are posted by callers")
    points: Int = Field(ge=-MAX_POINTS, le=MAX_POINTS, description="Non-zero; negative takes points away")
    reason: str = Field(min_length=1, max_length=500, examples=["Goodwill for a late delivery"])


class LotDebitRead(BaseModel):
    lot_id: UUID
    points: int


class TransactionRead(BaseModel):
    id: UUID
    member_id: UUID
    kind: str
    points: int
    reason: str
    occurred_at: datetime
    source: dict[str, str | None]
    rule_id: UUID | None
    actor: str | None
    lots: list[LotDebitRead] = Field(description="Lots this entry took points from (negative: gave back)")
    detail: dict[str, Any]

    @classmethod
    def from_domain(cls, e: LedgerEntry) -> TransactionRead:
        return cls(id=e.id, member_id=e.member_id, kind=e.kind.value, points=e.points, reason=e.reason,
                   occurred_at=e.occurred_at, source={"type": e.source_type, "id": e.source_id},
                   rule_id=e.rule_id, actor=e.actor,
                   lots=[LotDebitRead(lot_id=d.lot_id, points=d.points) for d in e.debits], detail=e.detail)


class TierChangeRead(BaseModel):
    id: UUID
    from_tier: str | None
    to_tier: str | None
    reason: str
    qualifying_value: int
    occurred_at: datetime

    @classmethod
    def from_domain(cls, c: TierChange) -> TierChangeRead:
        return cls(id=c.id, from_tier=c.from_tier, to_tier=c.to_tier, reason=c.reason,
                   qualifying_value=c.qualifying_value, occurred_at=c.occurred_at)


# -- rewards and redemptions ------------------------------------------------------------------

class RewardCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200, examples=["500円OFFクーポン"])
    kind: Literal["discount", "coupon", "gift", "donation"]
    points_cost: Int = Field(ge=1, le=MAX_POINTS, examples=[500])
    stock: Int | None = Field(default=None, ge=0, le=10**9, description="Omitted: unlimited")
    per_customer_limit: Int | None = Field(default=None, ge=1, le=10**6)
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None
    status: Literal["active", "inactive"] = "active"
    description: str | None = Field(default=None, max_length=2000)

    def to_terms(self) -> RewardTerms:
        return RewardTerms(name=self.name, kind=RewardKind(self.kind), points_cost=self.points_cost,
                           stock=self.stock, per_customer_limit=self.per_customer_limit,
                           valid_from=self.valid_from, valid_until=self.valid_until,
                           status=RewardStatus(self.status), description=self.description)


class RewardPatch(RequestBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    points_cost: Int | None = Field(default=None, ge=1, le=MAX_POINTS)
    stock: Int | None = Field(default=None, ge=0, le=10**9)
    per_customer_limit: Int | None = Field(default=None, ge=1, le=10**6)
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None
    status: Literal["active", "inactive"] | None = None
    description: str | None = Field(default=None, max_length=2000)

    def changes(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.model_fields_set}
        if "status" in out and out["status"] is not None:
            out["status"] = RewardStatus(out["status"])
        return out


class RewardRead(BaseModel):
    id: UUID
    program_id: UUID
    name: str
    kind: str
    points_cost: int
    stock: int | None
    redeemed: int
    per_customer_limit: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    status: str
    description: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, r: Reward) -> RewardRead:
        t = r.terms
        return cls(id=r.id, program_id=r.program_id, name=t.name, kind=t.kind.value,
                   points_cost=t.points_cost, stock=t.stock, redeemed=r.redeemed,
                   per_customer_limit=t.per_customer_limit,
                   valid_from=t.valid_from, valid_until=t.valid_until, status=t.status.value,
                   description=t.description, created_at=r.created_at, updated_at=r.updated_at)


class RedemptionCreate(RequestBody):
    points: Int | None = Field(default=None, ge=1, le=MAX_POINTS,
                               description="Points to spend; with a reward_id, must equal its cost")
    reward_id: UUID | None = None
    reserve: bool = Field(default=False, description="Hold the points until confirmed or cancelled")
    hold_seconds: Int | None = Field(default=None, ge=10, le=86_400,
                                     description="How long a reservation holds (default 900)")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"points": 500}, {"reward_id": "0193f0a4-6a2e-7c1d-9b4e-2f6a8c0d1e23", "reserve": True}]})


class RedemptionRead(BaseModel):
    id: UUID
    member_id: UUID
    reward_id: UUID | None
    points: int
    status: str
    reserved_until: datetime | None
    transaction_id: UUID
    release_transaction_id: UUID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, r: Redemption) -> RedemptionRead:
        return cls(id=r.id, member_id=r.member_id, reward_id=r.reward_id, points=r.points,
                   status=r.status.value, reserved_until=r.reserved_until, transaction_id=r.entry_id,
                   release_transaction_id=r.release_entry_id, created_at=r.created_at,
                   updated_at=r.updated_at)

