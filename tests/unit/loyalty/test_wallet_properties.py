"""Property tests of the ledger rules (domain.loyalty.model.Wallet), with an in-memory ledger.

For any sequence of earn / redeem / refund / expire / adjust / cancel operations: the ledger sum
equals the lots minus debt, no lot goes negative or above what it was credited, spends take the
first-expiring spendable lots, expiry never touches spent points, and replaying an operation with
the same idempotency key changes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.loyalty.errors import InsufficientPoints
from domain.loyalty.model import Lot, LotDebit, NegativeBalance, Wallet

START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Ledger:
    """What the database would hold: entries by idempotency key, and the wallet."""

    wallet: Wallet
    policy: NegativeBalance
    entries: dict[str, tuple[int, tuple[LotDebit, ...]]] = field(default_factory=dict)
    credited: dict[UUID, int] = field(default_factory=dict)
    expired_total: int = 0
    cancelled: set[str] = field(default_factory=set)

    def total(self) -> int:
        return sum(points for points, _ in self.entries.values())

    def earn(self, key: str, points: int, now: datetime, life: int | None, order: UUID | None) -> None:
        if key in self.entries:
            return
        lot, _settled = self.wallet.credit(Lot(
            id=uuid4(), member_id=self.wallet.member_id, entry_id=uuid4(), points=points, remaining=points,
            available_at=now, expires_at=now + timedelta(days=life) if life else None, order_id=order))
        self.credited[lot.id] = points
        self.entries[key] = (points, ())

    def redeem(self, key: str, points: int, now: datetime) -> None:
        if key in self.entries:
            return
        try:
            debits = self.wallet.spend(points, now)
        except InsufficientPoints:
            return
        self.entries[key] = (-points, debits)

    def refund(self, key: str, points: int, order_lots: list[UUID], now: datetime) -> None:
        if key in self.entries:
            return
        debits, debt_added, _forgiven = self.wallet.claw_back(points, order_lots, self.policy, now)
        self.entries[key] = (-(sum(d.points for d in debits) + debt_added), debits)

    def cancel(self, key: str, of: str) -> None:
        # As the service does: only a redemption, and only once (its status moves to cancelled
        # under the member lock).
        if key in self.entries or not of.startswith("redeem:") or of not in self.entries:
            return
        if of in self.cancelled:
            return
        self.cancelled.add(of)
        back = self.wallet.restore(self.entries[of][1])
        self.entries[key] = (-sum(d.points for d in back), back)

    def expire(self, key: str, now: datetime) -> None:
        if key in self.entries:
            return
        spendable_before = {lot.id: lot.remaining for lot in self.wallet.lots}
        gone = self.wallet.expire(now)
        for lot, points in gone:
            assert points == spendable_before[lot.id]  # only the unspent remainder expires
        self.entries[key] = (-sum(points for _, points in gone),
                             tuple(LotDebit(lot.id, points) for lot, points in gone))


ops = st.lists(st.tuples(
    st.sampled_from(["earn", "redeem", "refund", "expire", "cancel", "replay"]),
    st.integers(min_value=1, max_value=500),
    st.one_of(st.none(), st.integers(min_value=1, max_value=60)),
    st.integers(min_value=0, max_value=40)), max_size=40)


@settings(max_examples=int(os.environ.get("KIZUNA_HYPOTHESIS_EXAMPLES", "300")), deadline=None)
@given(ops, st.sampled_from(list(NegativeBalance)))
def test_ledger_sum_always_equals_lots_minus_debt(sequence, policy):
    ledger = Ledger(Wallet(member_id=uuid4(), lots=[]), policy)
    now = START
    keys: list[str] = []
    order_lots: list[UUID] = []
    for i, (op, points, life, days) in enumerate(sequence):
        now += timedelta(days=days)
        key = f"{op}:{i}"
        if op == "earn":
            before = {lot.id for lot in ledger.wallet.lots}
            ledger.earn(key, points, now, life, uuid4())
            order_lots = [lot.id for lot in ledger.wallet.lots if lot.id not in before]
        elif op == "redeem":
            ledger.redeem(key, points, now)
        elif op == "refund":
            ledger.refund(key, points, order_lots, now)
        elif op == "expire":
            ledger.expire(key, now)
        elif op == "cancel" and keys:
            ledger.cancel(key, keys[points % len(keys)])
        elif op == "replay" and ledger.entries:
            # Re-send an operation that took effect (same idempotency key, any payload).
            before_total, before_lots = ledger.total(), [lot.remaining for lot in ledger.wallet.lots]
            used = list(ledger.entries)
            replayed = used[points % len(used)]
            kind = replayed.split(":")[0]
            if kind == "earn":
                ledger.earn(replayed, points, now, life, None)
            elif kind == "redeem":
                ledger.redeem(replayed, points, now)
            elif kind == "refund":
                ledger.refund(replayed, points, order_lots, now)
            elif kind == "expire":
                ledger.expire(replayed, now)
            assert ledger.total() == before_total
            assert [lot.remaining for lot in ledger.wallet.lots] == before_lots
        keys.append(key)
        assert ledger.total() == ledger.wallet.total()
        for lot in ledger.wallet.lots:
            assert 0 <= lot.remaining <= ledger.credited[lot.id]
        assert ledger.wallet.debt >= 0
        if policy is NegativeBalance.FLOOR_AT_ZERO:
            assert ledger.wallet.debt == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=1, max_value=200),
                          st.one_of(st.none(), st.integers(min_value=1, max_value=400))),
                min_size=1, max_size=12),
       st.integers(min_value=1, max_value=2400))
def test_spending_takes_the_first_expiring_lots(lots, want):
    wallet = Wallet(member_id=uuid4(), lots=[])
    for points, life in lots:
        wallet.credit(Lot(id=uuid4(), member_id=wallet.member_id, entry_id=uuid4(), points=points,
                          remaining=points, available_at=START,
                          expires_at=START + timedelta(days=life) if life else None))
    now = START + timedelta(hours=1)
    before = {lot.id: lot for lot in wallet.lots}
    try:
        debits = wallet.spend(want, now)
    except InsufficientPoints as short:
        assert short.available == sum(p for p, _ in lots) < want
        return
    assert sum(d.points for d in debits) == want
    taken = [before[d.lot_id] for d in debits]
    untouched = [lot for lot in wallet.lots if lot.id not in {d.lot_id for d in debits}]
    far = datetime.max.replace(tzinfo=UTC)
    # every lot drawn from expires no later than any lot left untouched
    latest_taken = max((lot.expires_at or far) for lot in taken)
    assert all((lot.expires_at or far) >= latest_taken for lot in untouched)
    # at most one lot is drawn partially (the last one)
    partial = [d for d in debits if d.points < before[d.lot_id].remaining]
    assert len(partial) <= 1 and (not partial or partial[0] == debits[-1])


def test_pending_and_expired_lots_are_not_spendable():
    wallet = Wallet(member_id=uuid4(), lots=[])
    wallet.credit(Lot(id=uuid4(), member_id=wallet.member_id, entry_id=uuid4(), points=100, remaining=100,
                      available_at=START + timedelta(days=14), expires_at=None))
    wallet.credit(Lot(id=uuid4(), member_id=wallet.member_id, entry_id=uuid4(), points=50, remaining=50,
                      available_at=START, expires_at=START + timedelta(days=1)))
    try:
        wallet.spend(1, START + timedelta(days=2))
    except InsufficientPoints as short:
        assert short.available == 0
    else:
        raise AssertionError("expired and pending points were spent")
    assert wallet.spend(100, START + timedelta(days=14))[0].points == 100


def test_a_clawback_beyond_every_lot_becomes_debt_or_is_forgiven():
    for policy, debt, forgiven in ((NegativeBalance.ALLOW, 30, 0), (NegativeBalance.FLOOR_AT_ZERO, 0, 30)):
        wallet = Wallet(member_id=uuid4(), lots=[])
        lot, _ = wallet.credit(Lot(id=uuid4(), member_id=wallet.member_id, entry_id=uuid4(), points=100,
                                   remaining=100, available_at=START, expires_at=None))
        wallet.spend(70, START)
        debits, added, gone = wallet.claw_back(60, [lot.id], policy, START)
        assert (sum(d.points for d in debits), added, gone) == (30, debt, forgiven)
        assert wallet.total() == -debt
        later, settled = wallet.credit(Lot(id=uuid4(), member_id=wallet.member_id, entry_id=uuid4(),
                                           points=50, remaining=50, available_at=START, expires_at=None))
        assert settled == debt and later.remaining == 50 - debt and wallet.debt == 0
