"""Loyalty terms <-> the JSONB documents they are stored as. Decimals travel as strings (no
float rounding), instants as RFC 3339, enums as their values."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.loyalty.model import (
    DowngradePolicy,
    ExpiryPolicy,
    NegativeBalance,
    ProgramStatus,
    ProgramTerms,
    Rounding,
    Tier,
    TierBasis,
    TierWindow,
)
from domain.loyalty.rewards import RewardKind, RewardStatus, RewardTerms
from domain.loyalty.rules import CapPeriod, RuleStatus, RuleTerms, Stacking, Trigger


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def program_to_json(t: ProgramTerms) -> dict[str, Any]:
    return {
        "name": t.name, "currency": t.currency, "earn_points": t.earn_points,
        "earn_per_amount": t.earn_per_amount, "point_value": str(t.point_value),
        "rounding": t.rounding.value, "pending_days": t.pending_days,
        "expiry_policy": t.expiry_policy.value, "expiry_months": t.expiry_months,
        "negative_balance": t.negative_balance.value, "downgrade_policy": t.downgrade_policy.value,
        "tier_retention_months": t.tier_retention_months, "auto_enroll": t.auto_enroll,
        "status": t.status.value,
        "tiers": [{"name": x.name, "threshold": x.threshold, "basis": x.basis.value, "window": x.window.value,
                   "multiplier": str(x.multiplier), "free_shipping": x.free_shipping,
                   "birthday_bonus": x.birthday_bonus} for x in t.tiers],
    }


def program_from_json(d: dict[str, Any]) -> ProgramTerms:
    return ProgramTerms(
        name=d["name"], currency=d["currency"], earn_points=d["earn_points"],
        earn_per_amount=d["earn_per_amount"], point_value=Decimal(d["point_value"]),
        rounding=Rounding(d["rounding"]), pending_days=d["pending_days"],
        expiry_policy=ExpiryPolicy(d["expiry_policy"]), expiry_months=d["expiry_months"],
        negative_balance=NegativeBalance(d["negative_balance"]),
        downgrade_policy=DowngradePolicy(d["downgrade_policy"]),
        tier_retention_months=d["tier_retention_months"], auto_enroll=d["auto_enroll"],
        status=ProgramStatus(d["status"]),
        tiers=tuple(Tier(name=x["name"], threshold=x["threshold"], basis=TierBasis(x["basis"]),
                         window=TierWindow(x["window"]), multiplier=Decimal(x["multiplier"]),
                         free_shipping=x["free_shipping"], birthday_bonus=x["birthday_bonus"])
                    for x in d["tiers"]))


def rule_to_json(t: RuleTerms) -> dict[str, Any]:
    return {
        "name": t.name, "trigger": t.trigger.value,
        "multiplier": str(t.multiplier) if t.multiplier is not None else None, "points": t.points,
        "event_type": t.event_type, "skus": list(t.skus), "categories": list(t.categories),
        "channels": list(t.channels), "tiers": list(t.tiers), "starts_at": _iso(t.starts_at),
        "ends_at": _iso(t.ends_at), "priority": t.priority, "stacking": t.stacking.value,
        "cap_points": t.cap_points, "cap_period": t.cap_period.value if t.cap_period else None,
        "status": t.status.value,
    }


def rule_from_json(d: dict[str, Any]) -> RuleTerms:
    return RuleTerms(
        name=d["name"], trigger=Trigger(d["trigger"]),
        multiplier=Decimal(d["multiplier"]) if d["multiplier"] is not None else None, points=d["points"],
        event_type=d["event_type"], skus=tuple(d["skus"]), categories=tuple(d["categories"]),
        channels=tuple(d["channels"]), tiers=tuple(d["tiers"]), starts_at=_instant(d["starts_at"]),
        ends_at=_instant(d["ends_at"]), priority=d["priority"], stacking=Stacking(d["stacking"]),
        cap_points=d["cap_points"], cap_period=CapPeriod(d["cap_period"]) if d["cap_period"] else None,
        status=RuleStatus(d["status"]))


def reward_to_json(t: RewardTerms) -> dict[str, Any]:
    """Stock lives in its own column (updated atomically); everything else here."""
    return {"name": t.name, "kind": t.kind.value, "points_cost": t.points_cost,
            "per_customer_limit": t.per_customer_limit, "valid_from": _iso(t.valid_from),
            "valid_until": _iso(t.valid_until), "status": t.status.value, "description": t.description}


def reward_from_json(d: dict[str, Any], stock: int | None) -> RewardTerms:
    return RewardTerms(name=d["name"], kind=RewardKind(d["kind"]), points_cost=d["points_cost"], stock=stock,
                       per_customer_limit=d["per_customer_limit"], valid_from=_instant(d["valid_from"]),
                       valid_until=_instant(d["valid_until"]), status=RewardStatus(d["status"]),
                       description=d["description"])

