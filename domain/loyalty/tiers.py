"""Tier qualification (docs/loyalty.md, "Tiers").

Qualification looks at what a member *did* in the tier window, points earned (earn entries net of
their reversals; adjustments and redemptions never count) or spend (order totals net of refunds),
never at the current balance, so redeeming points cannot cost a member their tier. Upgrades happen
as soon as a member qualifies; downgrades only on the scheduled evaluation, after the retention
period since the tier was reached, by one step or straight to the tier the member qualifies for.
"""

from __future__ import annotations

from datetime import datetime

from domain.loyalty.calendar import add_months, year_start
from domain.loyalty.model import DowngradePolicy, ProgramTerms, Tier, TierWindow


def window_start(program: ProgramTerms, now: datetime, timezone: str) -> datetime | None:
    if not program.tiers:
        return None
    if program.tiers[0].window is TierWindow.CALENDAR_YEAR:
        return year_start(now, timezone)
    return add_months(now, -12, timezone)


def qualifying_tier(program: ProgramTerms, value: int) -> Tier | None:
    """The highest tier whose threshold `value` reaches (tiers are listed lowest first)."""
    reached = [t for t in program.tiers if value >= t.threshold]
    return reached[-1] if reached else None


def rank(program: ProgramTerms, name: str | None) -> int:
    """Position of a tier (-1: none or a tier the program no longer has)."""
    return next((i for i, t in enumerate(program.tiers) if t.name == name), -1)


def upgrade(program: ProgramTerms, current: str | None, value: int) -> Tier | None:
    """The tier to move up to now, or None when the member stays."""
    target = qualifying_tier(program, value)
    if target is None or rank(program, target.name) <= rank(program, current):
        return None
    return target


def downgrade(program: ProgramTerms, current: str | None, tier_since: datetime | None, value: int,
              now: datetime, timezone: str) -> Tier | None:
    """The tier to move down to on a scheduled evaluation, or None when the member keeps theirs
    (still qualifies, or is inside the retention period)."""
    position = rank(program, current)
    if position <= 0:
        return None
    if tier_since is not None and now < add_months(tier_since, program.tier_retention_months, timezone):
        return None
    target = qualifying_tier(program, value)
    target_rank = rank(program, target.name) if target else 0
    if target_rank >= position:
        return None
    if program.downgrade_policy is DowngradePolicy.ONE_STEP:
        return program.tiers[position - 1]
    return program.tiers[max(target_rank, 0)]
