"""Earning rules, expiry dates and tiers on hand-computed cases."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.loyalty.calendar import add_months, month_start
from domain.loyalty.model import (
    DowngradePolicy,
    ExpiryPolicy,
    ProgramTerms,
    Rounding,
    Tier,
)
from domain.loyalty.rules import (
    CapPeriod,
    EarningRule,
    LineFacts,
    OrderFacts,
    RuleTerms,
    Stacking,
    Trigger,
    evaluate_order,
)
from domain.loyalty.tiers import downgrade, upgrade
from domain.shared.errors import InvalidInput

TOKYO = "Asia/Tokyo"
AT = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
PROGRAM = ProgramTerms(name="P", currency="JPY", earn_points=1, earn_per_amount=100,
                       tiers=(Tier("Regular", 0), Tier("Silver", 1000), Tier("Gold", 5000, multiplier=Decimal(2))))


def rule(name: str, **kw: object) -> EarningRule:
    return EarningRule(id=uuid4(), program_id=uuid4(), terms=RuleTerms(name=name, **kw),  # type: ignore[arg-type]
                       created_at=AT, updated_at=AT)


def facts(*lines: tuple[str, int, tuple[str, ...]], shipping: int = 0, discount: int = 0,
          channel: str = "ec") -> OrderFacts:
    gross = sum(amount for _, amount, _ in lines)
    return OrderFacts(ordered_at=AT, channel=channel, total=gross - discount + shipping, shipping_total=shipping,
                      lines=tuple(LineFacts(sku=s, quantity=1, amount=a, category_path=c) for s, a, c in lines))


def test_base_points_exclude_shipping_and_follow_the_rounding_rule():
    order = facts(("A", 1999, ()), shipping=800)
    assert [a.points for a in evaluate_order(PROGRAM, [], order, tier=None, used={})] == [19]
    rounded = ProgramTerms(name="P", currency="JPY", rounding=Rounding.ROUND)
    assert evaluate_order(rounded, [], order, tier=None, used={})[0].points == 20
    ceil = ProgramTerms(name="P", currency="JPY", rounding=Rounding.CEIL)
    assert evaluate_order(ceil, [], facts(("A", 1901, ())), tier=None, used={})[0].points == 20


def test_category_multiplier_uses_the_lines_share_after_discount():
    order = facts(("TEA", 3000, ("食品", "お茶")), ("MUG", 1000, ("雑貨",)), discount=400)
    tea = rule("tea x2", multiplier=Decimal(2), categories=("食品",))
    awards = evaluate_order(PROGRAM, [tea], order, tier=None, used={})
    # eligible 3,600 shared 3:1 -> tea 2,700 -> 27 extra points; base 36
    assert [(a.source, a.points) for a in awards] == [("base", 36), ("rule", 27)]


def test_tier_multiplier_channel_rule_exclusive_stacking_and_caps():
    gold = PROGRAM.tiers[2]
    order = facts(("A", 10000, ()), channel="store")
    store = rule("store x1.5", multiplier=Decimal("1.5"), channels=("store",), priority=1,
                 stacking=Stacking.EXCLUSIVE)
    bonus = rule("bonus", points=500, priority=2)
    capped = rule("capped", points=300, priority=0, cap_points=400, cap_period=CapPeriod.MONTH)
    awards = evaluate_order(PROGRAM, [bonus, store, capped], order, tier=gold, used={capped.id: 250})
    assert [(a.reason, a.points, a.uncapped_points) for a in awards] == [
        ("1 pt per 100 spent", 100, None), ("tier Gold x2", 100, None), ("capped", 150, 300),
        ("store x1.5", 50, None)]  # exclusive store rule stops "bonus"
    online = evaluate_order(PROGRAM, [bonus, store], facts(("A", 10000, ())), tier=None, used={})
    assert [a.reason for a in online] == ["1 pt per 100 spent", "bonus"]


def test_first_purchase_and_date_range_rules():
    first = rule("first", trigger=Trigger.FIRST_PURCHASE, points=200)
    march = rule("march", multiplier=Decimal(3), starts_at=datetime(2026, 3, 1, tzinfo=UTC),
                 ends_at=datetime(2026, 3, 10, tzinfo=UTC))
    order = facts(("A", 1000, ()))
    assert [a.reason for a in evaluate_order(PROGRAM, [first, march], order, tier=None, used={})] == [
        "1 pt per 100 spent"]  # not a first purchase; the campaign ended before AT
    with_first = OrderFacts(**{**order.__dict__, "first_purchase": True})
    assert [a.points for a in evaluate_order(PROGRAM, [first], with_first, tier=None, used={})] == [10, 200]


@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=20),
       st.integers(min_value=0, max_value=10**7))
def test_line_shares_add_up_to_the_eligible_amount(amounts, discount):
    gross = sum(amounts)
    discount = min(discount, gross)
    order = OrderFacts(ordered_at=AT, channel="ec", total=gross - discount, shipping_total=0,
                       lines=tuple(LineFacts(sku=str(i), quantity=1, amount=a) for i, a in enumerate(amounts)))
    shares = order.eligible_by_line()
    assert sum(shares) == (order.eligible_amount if gross else 0)
    assert all(s >= 0 for s in shares)


def test_expiry_dates_are_tenant_local():
    # 2026-01-31 20:00 UTC is 2026-02-01 05:00 in Tokyo: the earning month is February there.
    earned = datetime(2026, 1, 31, 20, 0, tzinfo=UTC)
    eom = ProgramTerms(name="P", currency="JPY", expiry_policy=ExpiryPolicy.END_OF_MONTH_AFTER, expiry_months=1)
    assert eom.expires_at(earned, TOKYO) == datetime(2026, 3, 31, 15, 0, tzinfo=UTC)  # 2026-04-01 00:00 JST
    after = ProgramTerms(name="P", currency="JPY", expiry_policy=ExpiryPolicy.MONTHS_AFTER_EARN, expiry_months=1)
    assert after.expires_at(datetime(2026, 1, 31, 3, 0, tzinfo=UTC), TOKYO) == datetime(2026, 2, 28, 3, 0, tzinfo=UTC)
    pending = ProgramTerms(name="P", currency="JPY", pending_days=14)
    assert pending.available_at(earned, TOKYO) == datetime(2026, 2, 14, 15, 0, tzinfo=UTC)  # 02-15 00:00 JST
    assert month_start(earned, TOKYO) == datetime(2026, 1, 31, 15, 0, tzinfo=UTC)
    assert add_months(earned, 12, TOKYO) == datetime(2027, 1, 31, 20, 0, tzinfo=UTC)


def test_invalid_terms_name_their_fields():
    with pytest.raises(InvalidInput) as raised:
        ProgramTerms(name="", currency="jpy", expiry_policy=ExpiryPolicy.MONTHS_AFTER_EARN,
                     tiers=(Tier("A", 10),)).validate()
    assert {p.field for p in raised.value.problems} >= {"name", "currency", "expiry.months", "tiers.0.threshold"}
    with pytest.raises(InvalidInput):
        RuleTerms(name="x", trigger=Trigger.EVENT, points=5).validate(PROGRAM)  # no event type
    with pytest.raises(InvalidInput):
        RuleTerms(name="x", multiplier=Decimal(2), tiers=("Bronze",)).validate(PROGRAM)


def test_tiers_follow_what_was_earned_and_downgrade_after_retention():
    assert upgrade(PROGRAM, "Regular", 999) is None
    assert upgrade(PROGRAM, "Regular", 6000).name == "Gold"  # type: ignore[union-attr]
    assert upgrade(PROGRAM, "Gold", 10) is None  # never down on an upgrade check
    since = datetime(2025, 1, 1, tzinfo=UTC)
    inside = datetime(2025, 6, 1, tzinfo=UTC)
    assert downgrade(PROGRAM, "Gold", since, 0, inside, TOKYO) is None  # retention: 12 months
    later = datetime(2026, 2, 1, tzinfo=UTC)
    assert downgrade(PROGRAM, "Gold", since, 0, later, TOKYO).name == "Silver"  # type: ignore[union-attr]
    recalc = ProgramTerms(**{**PROGRAM.__dict__, "downgrade_policy": DowngradePolicy.RECALCULATE})
    assert downgrade(recalc, "Gold", since, 0, later, TOKYO).name == "Regular"  # type: ignore[union-attr]
    assert downgrade(PROGRAM, "Gold", since, 5000, later, TOKYO) is None  # still qualifies
