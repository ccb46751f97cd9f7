"""Entry-campaign rules without a database: the audited draw, must-buy measurement, codes and
campaign validation."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.loyalty.campaign_model import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    ProofKind,
    PurchasedLine,
    Qualifying,
    Requirement,
    check_campaign,
    code_digest,
    draw_winners,
    ensure_transition,
    normalise_campaign,
    normalise_code,
    normalise_receipt,
)
from domain.shared.errors import Conflict, InvalidInput

T0 = datetime(2026, 12, 1, tzinfo=UTC)

uuids = st.uuids(version=4)
# A pool: distinct entry ids, customers drawn from a small set so several entries share one.
pools = st.lists(st.tuples(uuids, st.integers(0, 7)), max_size=40, unique_by=lambda e: e[0]).map(
    lambda xs: [(entry, uuid.UUID(int=customer + 1)) for entry, customer in xs])
seeds = st.text(min_size=1, max_size=40)


def auditor(pool, seed, k):
    """The draw as docs/loyalty-campaigns.md states it, written independently of the code."""
    ranked = sorted(pool, key=lambda e: (hashlib.sha256(f"{seed}:{e[0]}".encode()).hexdigest(), e[0]))
    won, seen = [], set()
    for entry, customer in ranked:
        if len(won) == k:
            break
        if customer not in seen:
            seen.add(customer)
            won.append((entry, customer))
    return won


@settings(max_examples=200, deadline=None)
@given(pools, seeds, st.integers(1, 10), st.randoms(use_true_random=False))
def test_draw_is_deterministic_order_blind_and_matches_the_documented_algorithm(pool, seed, k, rnd):
    first = draw_winners(pool, seed=seed, winners=k)
    shuffled = list(pool)
    rnd.shuffle(shuffled)
    assert draw_winners(shuffled, seed=seed, winners=k) == first  # the input order does not matter
    assert [(w.entry_id, w.customer_id) for w in first] == auditor(pool, seed, k)


@settings(max_examples=200, deadline=None)
@given(pools, seeds, st.integers(1, 10))
def test_draw_invariants_one_win_per_customer_and_as_many_winners_as_possible(pool, seed, k):
    won = draw_winners(pool, seed=seed, winners=k)
    entries = dict(pool)
    assert all(entries[w.entry_id] == w.customer_id for w in won)  # winners are real entries
    assert len({w.customer_id for w in won}) == len(won)  # one win per customer
    assert len(won) == min(k, len(set(entries.values())))
    # drawing more winners only extends the list: the first k are the same
    assert draw_winners(pool, seed=seed, winners=k + 3)[: len(won)] == won


def test_each_entry_is_a_ticket_so_chances_are_uniform_per_entry():
    """Fairness, measured over 10,000 fixed seeds (deterministic: no flaky statistics). Ten
    customers with one entry each: each should win about 1/10 of the draws. A customer with two
    entries among nine with one has about twice the chance."""
    pool = [(uuid.UUID(int=(i + 1) << 64), uuid.UUID(int=i + 1)) for i in range(10)]
    wins = Counter(draw_winners(pool, seed=f"s{n}", winners=1)[0].customer_id for n in range(10_000))
    assert len(wins) == 10
    assert all(880 <= count <= 1120 for count in wins.values()), wins  # 1000 +- 4 sigma
    doubled = [*pool[:9], (uuid.UUID(int=99 << 64), pool[0][1])]  # customer 1 holds two tickets
    wins = Counter(draw_winners(doubled, seed=f"s{n}", winners=1)[0].customer_id for n in range(10_000))
    assert 1830 <= wins[pool[0][1]] <= 2170  # 2/10 of the draws +- 4 sigma


def test_different_seeds_give_different_draws():
    pool = [(uuid.uuid4(), uuid.uuid4()) for _ in range(50)]
    outcomes = {tuple(w.entry_id for w in draw_winners(pool, seed=str(n), winners=5)) for n in range(20)}
    assert len(outcomes) == 20


def test_an_empty_pool_draws_nobody():
    assert draw_winners([], seed="x", winners=3) == []


# -- must-buy measurement -----------------------------------------------------------------------

lines = st.lists(st.builds(
    PurchasedLine, order_id=uuids, sku=st.sampled_from(["TEA", "CUP", "SWEET"]),
    quantity=st.integers(1, 20), refunded_quantity=st.integers(0, 20), unit_price=st.integers(0, 5000),
    category_path=st.sampled_from([(), ("食品",), ("食品", "飲料"), ("食品", "飲料", "お茶"), ("雑貨",)])),
    max_size=30)


@given(lines)
def test_measure_counts_only_kept_units_of_matching_lines(found):
    rule = Requirement(proof=ProofKind.ORDERS, skus=("CUP",), categories=(("食品", "飲料"),))
    q = rule.measure(found)
    matching = [x for x in found if x.sku == "CUP" or x.category_path[:2] == ("食品", "飲料")]
    kept = [max(0, x.quantity - x.refunded_quantity) for x in matching]
    assert q.quantity == sum(kept)
    assert q.amount == sum(k * x.unit_price for k, x in zip(kept, matching, strict=True))
    everything = Requirement(proof=ProofKind.ORDERS).measure(found)
    assert everything.quantity >= q.quantity and everything.amount >= q.amount


@given(st.integers(0, 10_000), st.integers(0, 10**7), st.integers(1, 50), st.integers(1, 10**5))
def test_entitlement_is_one_entry_per_full_minimum(quantity, amount, min_quantity, min_amount):
    found = Qualifying(quantity=quantity, amount=amount)
    by_amount = Requirement(proof=ProofKind.ORDERS, min_amount=min_amount)
    by_quantity = Requirement(proof=ProofKind.ORDERS, min_quantity=min_quantity)
    assert by_amount.entitled_entries(found) * min_amount <= amount < (by_amount.entitled_entries(found) + 1) * min_amount
    assert by_quantity.entitled_entries(found) == quantity // min_quantity
    assert Requirement(proof=ProofKind.ORDERS).entitled_entries(found) == quantity


def test_category_prefix_matches_the_path_from_the_top_only():
    rule = Requirement(proof=ProofKind.ORDERS, categories=(("食品", "飲料"),))
    line = PurchasedLine(order_id=uuid.uuid4(), sku="X", quantity=1, refunded_quantity=0, unit_price=1)
    assert rule.matches(PurchasedLine(**{**vars(line), "category_path": ("食品", "飲料", "お茶")}))
    assert not rule.matches(PurchasedLine(**{**vars(line), "category_path": ("飲料",)}))
    assert not rule.matches(PurchasedLine(**{**vars(line), "category_path": ("食品",)}))
    assert not rule.matches(line)  # a sku the catalogue does not know has no category


# -- codes and receipts -------------------------------------------------------------------------


def test_codes_are_normalised_as_typed_by_hand():
    assert normalise_code("abcd-１２３４ ") == normalise_code("ABCD1234") == "ABCD1234"
    assert normalise_code("ｋ７ｑｘ－２ｍ９ｐ") == "K7QX2M9P"
    for bad in ("abc", "ab!cd1234", "x" * 65, "ＡＢ", ""):
        with pytest.raises(InvalidInput):
            normalise_code(bad)


def test_code_digests_are_per_campaign_and_hide_the_code():
    a, b = uuid.uuid4(), uuid.uuid4()
    assert code_digest(a, "ABCD1234") != code_digest(b, "ABCD1234")
    assert "ABCD1234" not in code_digest(a, "ABCD1234") and len(code_digest(a, "ABCD1234")) == 64


def test_receipt_numbers_ignore_width_case_and_spaces():
    assert normalise_receipt(" r-0012 3456 ") == normalise_receipt("Ｒ－００１２３４５６") == "R-00123456"


# -- campaigns ----------------------------------------------------------------------------------


def _campaign(**changes) -> Campaign:
    base = {"id": uuid.uuid4(), "name": "c", "kind": CampaignKind.OPEN, "status": CampaignStatus.ACTIVE,
            "starts_at": T0, "ends_at": T0 + timedelta(days=30), "created_at": T0, "updated_at": T0}
    return Campaign(**{**base, **changes})


def test_open_at_is_active_and_within_the_half_open_period():
    c = _campaign()
    assert not c.open_at(T0 - timedelta(seconds=1)) and c.open_at(T0)
    assert c.open_at(c.ends_at - timedelta(microseconds=1)) and not c.open_at(c.ends_at)
    assert not _campaign(status=CampaignStatus.DRAFT).open_at(T0)
    with pytest.raises(Conflict) as raised:
        c.ensure_open(c.ends_at)
    assert raised.value.extra["code"] == "campaign_not_open"


@pytest.mark.parametrize(("raw", "fields"), [
    ({"name": "x", "kind": "lottery", "starts_at": T0, "ends_at": T0}, {"kind"}),
    ({"kind": "open", "starts_at": T0, "ends_at": T0}, {"name"}),
    ({"name": "x", "kind": "open", "starts_at": datetime(2026, 1, 1), "ends_at": T0}, {"starts_at"}),
    ({"name": "x", "kind": "open", "starts_at": T0, "ends_at": T0, "entry_limit": 0}, {"entry_limit"}),
    ({"name": "x", "kind": "open", "starts_at": T0, "ends_at": T0, "winners": True}, {"winners"}),
    ({"name": "x", "kind": "must_buy", "starts_at": T0, "ends_at": T0,
      "requirement": {"proof": "purchase_code", "min_amount": 100}}, {"requirement.min_amount"}),
    ({"name": "x", "kind": "must_buy", "starts_at": T0, "ends_at": T0,
      "requirement": {"proof": "orders", "min_amount": 100, "min_quantity": 2}}, {"requirement"}),
    ({"name": "x", "kind": "must_buy", "starts_at": T0, "ends_at": T0,
      "requirement": {"proof": "orders", "categories": [[]]}}, {"requirement.categories.0"}),
    ({"name": "x", "kind": "open", "starts_at": T0, "ends_at": T0,
      "award": {"program_id": "nope", "points": 0}}, {"award.program_id", "award.points"}),
])
def test_invalid_campaign_fields_are_all_reported(raw, fields):
    with pytest.raises(InvalidInput) as raised:
        normalise_campaign(raw, creating=True)
    assert {p.field for p in raised.value.problems} == fields


def test_cross_field_rules():
    with pytest.raises(InvalidInput) as raised:
        check_campaign(_campaign(ends_at=T0))
    assert [p.field for p in raised.value.problems] == ["ends_at"]
    with pytest.raises(InvalidInput):
        check_campaign(_campaign(kind=CampaignKind.MUST_BUY))
    with pytest.raises(InvalidInput):
        check_campaign(_campaign(requirement=Requirement(proof=ProofKind.ORDERS)))
    check_campaign(_campaign(kind=CampaignKind.MUST_BUY, requirement=Requirement(proof=ProofKind.ORDERS)))


def test_status_moves_forward_only():
    ensure_transition(CampaignStatus.DRAFT, CampaignStatus.ACTIVE)
    ensure_transition(CampaignStatus.DRAFT, CampaignStatus.CLOSED)
    ensure_transition(CampaignStatus.ACTIVE, CampaignStatus.CLOSED)
    ensure_transition(CampaignStatus.CLOSED, CampaignStatus.CLOSED)
    for current, wanted in [(CampaignStatus.ACTIVE, CampaignStatus.DRAFT),
                            (CampaignStatus.CLOSED, CampaignStatus.ACTIVE),
                            (CampaignStatus.CLOSED, CampaignStatus.DRAFT)]:
        with pytest.raises(Conflict):
            ensure_transition(current, wanted)


def test_auditor_oracle_is_not_trivially_the_identity():
    """Guards the oracle above: the shuffled order differs from the sorted pool."""
    pool = sorted((uuid.uuid4(), uuid.uuid4()) for _ in range(30))
    assert [e for e, _ in auditor(pool, "seed", 30)] != [e for e, _ in pool]
