"""Earning rules and how an order or an event turns into points (docs/loyalty.md, "Earning").

The documented rule, in order:
1. Base points: the program's `earn_rate` on the order's eligible amount = total - shipping (so
   after discounts, never on shipping), rounded with the program's rounding rule.
2. Tier multiplier: a member's tier with multiplier m adds base x (m - 1).
3. Rules by ascending `priority` (ties: oldest rule first). A multiplier rule adds
   points(scope) x (factor - 1) where the scope is the lines it names (sku or category path
   prefix) or the whole eligible amount; a fixed rule adds its points once. An applicable
   `exclusive` rule stops the rules after it; `stack` rules let later ones apply too.
4. Per-customer caps per rule per day / week / month (tenant-local) or over the program: a rule
   never awards more than what is left of its cap; a capped award says so.
Each award becomes its own ledger entry, so a refund, an audit or a cap can always name the rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from domain.loyalty.calendar import local_day_start as day_start
from domain.loyalty.calendar import month_start, week_start
from domain.loyalty.model import ProgramTerms, Tier
from domain.shared.errors import FieldProblem, InvalidInput

EVENT_TRIGGERS = ("survey_answered", "campaign_entered", "inquiry_created", "email_clicked")


class Trigger(StrEnum):
    ORDER = "order"
    FIRST_PURCHASE = "first_purchase"
    EVENT = "event"
    BIRTHDAY = "birthday"


class Stacking(StrEnum):
    STACK = "stack"
    EXCLUSIVE = "exclusive"


class CapPeriod(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    PROGRAM = "program"

    def start(self, instant: datetime, timezone: str) -> datetime | None:
        if self is CapPeriod.DAY:
            return day_start(instant, timezone)
        if self is CapPeriod.WEEK:
            return week_start(instant, timezone)
        if self is CapPeriod.MONTH:
            return month_start(instant, timezone)
        return None


class RuleStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class RuleTerms:
    name: str
    trigger: Trigger = Trigger.ORDER
    multiplier: Decimal | None = None
    points: int | None = None
    event_type: str | None = None
    skus: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # category path prefixes, levels joined by "/"
    channels: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    priority: int = 100
    stacking: Stacking = Stacking.STACK
    cap_points: int | None = None
    cap_period: CapPeriod | None = None
    status: RuleStatus = RuleStatus.ACTIVE

    def validate(self, program: ProgramTerms) -> RuleTerms:
        problems: list[FieldProblem] = []

        def need(ok: bool, name: str, message: str) -> None:
            if not ok:
                problems.append(FieldProblem(field=name, message=message))

        need(bool(self.name.strip()) and len(self.name) <= 200, "name", "1 to 200 characters")
        need((self.multiplier is None) != (self.points is None), "multiplier",
             "give exactly one of multiplier (x base points) or points (fixed)")
        if self.multiplier is not None:
            need(self.trigger is Trigger.ORDER, "multiplier", "multipliers apply to orders only")
            need(Decimal(1) < self.multiplier <= Decimal(100), "multiplier", "greater than 1, at most 100")
        if self.points is not None:
            need(1 <= self.points <= 1_000_000, "points", "between 1 and 1,000,000")
            need(not self.skus and not self.categories, "skus",
                 "sku and category conditions scope multipliers; fixed points are per order or event")
        if self.trigger is Trigger.EVENT:
            valid = self.event_type is not None and (
                self.event_type in EVENT_TRIGGERS or self.event_type.startswith("custom:"))
            need(valid, "event_type", f"one of {', '.join(EVENT_TRIGGERS)} or custom:<name>")
        else:
            need(self.event_type is None, "event_type", "only for trigger event")
        if self.trigger is Trigger.BIRTHDAY:
            need(not self.channels, "channels", "birthday points do not come from a channel")
        known = {t.name for t in program.tiers}
        for i, tier in enumerate(self.tiers):
            need(tier in known, f"tiers.{i}", "not a tier of this program")
        if self.starts_at is not None and self.ends_at is not None:
            need(self.starts_at < self.ends_at, "ends_at", "must be after starts_at")
        need((self.cap_points is None) == (self.cap_period is None), "cap",
             "a cap needs both points and period")
        if self.cap_points is not None:
            need(self.cap_points >= 1, "cap.points", "at least 1")
        need(0 <= self.priority <= 10_000, "priority", "between 0 and 10,000")
        if problems:
            raise InvalidInput("the earning rule is invalid", problems=problems)
        return self

    def in_period(self, instant: datetime) -> bool:
        return ((self.starts_at is None or self.starts_at <= instant)
                and (self.ends_at is None or instant < self.ends_at))


@dataclass(frozen=True)
class EarningRule:
    id: UUID
    program_id: UUID
    terms: RuleTerms
    created_at: datetime
    updated_at: datetime
    version: int = 1


@dataclass(frozen=True)
class LineFacts:
    sku: str
    quantity: int
    amount: int  # gross line amount (quantity x unit price)
    category_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderFacts:
    """What the rules look at: an order (stored or a draft to simulate)."""

    ordered_at: datetime
    channel: str
    total: int
    shipping_total: int
    lines: tuple[LineFacts, ...]
    first_purchase: bool = False

    @property
    def eligible_amount(self) -> int:
        return max(self.total - self.shipping_total, 0)

    def eligible_by_line(self) -> list[int]:
        """The eligible amount shared over the lines in proportion to their gross amounts
        (largest remainder, so the shares add up exactly): discounts reduce every line alike."""
        gross = sum(line.amount for line in self.lines)
        eligible = self.eligible_amount
        if gross <= 0:
            return [0 for _ in self.lines]
        exact = [Decimal(line.amount) * eligible / gross for line in self.lines]
        shares = [int(x) for x in exact]
        left = eligible - sum(shares)
        by_fraction = sorted(range(len(exact)), key=lambda i: (shares[i] - exact[i], i))
        for i in by_fraction[:left]:
            shares[i] += 1
        return shares


@dataclass(frozen=True)
class EventFacts:
    """A stored behaviour event as the rules see it (`channel`: its touchpoint's)."""

    event_id: str
    customer_id: UUID
    type: str
    occurred_at: datetime
    channel: str | None


@dataclass(frozen=True)
class Award:
    source: str  # base | tier | rule
    points: int
    reason: str
    rule_id: UUID | None = None
    uncapped_points: int | None = None  # set when a cap cut the award
    detail: dict[str, object] = field(default_factory=dict)


def _line_matches(rule: RuleTerms, line: LineFacts) -> bool:
    if line.sku in rule.skus:
        return True
    path = "/".join(line.category_path)
    return any(path == c or path.startswith(c + "/") for c in rule.categories)


def _applies(rule: RuleTerms, *, at: datetime, channel: str | None, tier: Tier | None) -> bool:
    return (rule.status is RuleStatus.ACTIVE and rule.in_period(at)
            and (not rule.channels or channel in rule.channels)
            and (not rule.tiers or (tier is not None and tier.name in rule.tiers)))


def _capped(rule: EarningRule, points: int, used: Mapping[UUID, int]) -> tuple[int, int | None]:
    if rule.terms.cap_points is None:
        return points, None
    room = max(rule.terms.cap_points - used.get(rule.id, 0), 0)
    return (points, None) if points <= room else (room, points)


def _ordered(rules: Sequence[EarningRule]) -> list[EarningRule]:
    return sorted(rules, key=lambda r: (r.terms.priority, r.created_at, r.id))


def evaluate_order(program: ProgramTerms, rules: Sequence[EarningRule], facts: OrderFacts, *,
                   tier: Tier | None, used: Mapping[UUID, int]) -> list[Award]:
    """The awards an order earns, in the documented order. `used` = points each capped rule
    already awarded this member in the rule's current cap period."""
    base = program.rounding.apply(program.points_for(facts.eligible_amount))
    awards = [Award(source="base", points=base,
                    reason=f"{program.earn_points} pt per {program.earn_per_amount} spent",
                    detail={"eligible_amount": facts.eligible_amount})]
    if tier is not None and tier.multiplier > 1:
        extra = program.rounding.apply(program.points_for(facts.eligible_amount) * (tier.multiplier - 1))
        awards.append(Award(source="tier", points=extra, reason=f"tier {tier.name} x{tier.multiplier}"))
    shares = facts.eligible_by_line()
    for rule in _ordered(rules):
        terms = rule.terms
        if terms.trigger not in (Trigger.ORDER, Trigger.FIRST_PURCHASE):
            continue
        if terms.trigger is Trigger.FIRST_PURCHASE and not facts.first_purchase:
            continue
        if not _applies(terms, at=facts.ordered_at, channel=facts.channel, tier=tier):
            continue
        if terms.multiplier is not None:
            if terms.skus or terms.categories:
                scope = sum(share for line, share in zip(facts.lines, shares, strict=True)
                            if _line_matches(terms, line))
                if scope == 0:
                    continue
            else:
                scope = facts.eligible_amount
            raw = program.rounding.apply(program.points_for(scope) * (terms.multiplier - 1))
            detail: dict[str, object] = {"scope_amount": scope, "multiplier": str(terms.multiplier)}
        else:
            raw = terms.points or 0
            detail = {}
        points, uncapped = _capped(rule, raw, used)
        awards.append(Award(source="rule", points=points, reason=terms.name, rule_id=rule.id,
                            uncapped_points=uncapped, detail=detail))
        if terms.stacking is Stacking.EXCLUSIVE:
            break
    return awards


def evaluate_fixed(rules: Sequence[EarningRule], *, trigger: Trigger, at: datetime, tier: Tier | None,
                   used: Mapping[UUID, int], event_type: str | None = None,
                   channel: str | None = None) -> list[Award]:
    """Fixed points for an event (by type) or a birthday."""
    awards: list[Award] = []
    for rule in _ordered(rules):
        terms = rule.terms
        if terms.trigger is not trigger or (trigger is Trigger.EVENT and terms.event_type != event_type):
            continue
        if not _applies(terms, at=at, channel=channel if terms.channels else None, tier=tier):
            continue
        points, uncapped = _capped(rule, terms.points or 0, used)
        awards.append(Award(source="rule", points=points, reason=terms.name, rule_id=rule.id,
                            uncapped_points=uncapped))
        if terms.stacking is Stacking.EXCLUSIVE:
            break
    return awards
