"""The loyalty ledger on a real database with a clock the test moves: pending points, expiry,
reservation timeouts, tier downgrades, concurrency, merges and the ledger check. Two tenants."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from procrastinate.exceptions import AlreadyEnqueued

from domain.auth.model import TenantRef
from domain.customers.model import CustomerRef
from domain.loyalty import redemptions, services
from domain.loyalty.errors import InsufficientPoints
from domain.loyalty.model import (
    DowngradePolicy,
    ExpiryPolicy,
    NegativeBalance,
    ProgramTerms,
    Tier,
)
from domain.loyalty.ports import EntryFilter
from domain.loyalty.rules import CapPeriod, RuleTerms, Trigger
from domain.shared.errors import Conflict, NotFound
from domain.shared.pagination import PageRequest
from infra.jobs import job_app
from infra.loyalty.tasks import SCHEDULE_QUEUE
from infra.settings import Settings
from tests.fakes import FixedClock

TZ = "Asia/Tokyo"
KIZUNA = str(Path(sys.executable).parent / "kizuna")


def ref(tenant: Any) -> TenantRef:
    return TenantRef(id=UUID(tenant.id), slug=tenant.slug, schema=f"t_{tenant.slug}", timezone=TZ, currency="JPY")


class Loyalty:
    """The use cases bound to one tenant, a moving clock and the app's unit of work factory."""

    def __init__(self, app: Any, tenant: Any, clock: FixedClock) -> None:
        self.tenant, self.clock = ref(tenant), clock
        self._factory = app.state.wiring.uow_factory

    def uow(self) -> Any:
        return self._factory(self.tenant)

    async def program(self, **terms: Any) -> UUID:
        made = await services.create_program(uow=self.uow(), clock=self.clock,
                                             terms=ProgramTerms(name="P", currency="JPY", **terms))
        return made.id

    async def member(self, program_id: UUID, email: str) -> UUID:
        m, _ = await services.enroll_member(uow=self.uow(), clock=self.clock, program_id=program_id,
                                           customer=CustomerRef(identity_type="email", identity_value=email))
        return m.id

    async def earn(self, program_id: UUID, member_id: UUID, points: int, key: str) -> None:
        async with self.uow() as uow:
            m = await uow.loyalty.get_member(member_id)
        await services.award_points(uow=self.uow(), clock=self.clock, program_id=program_id,
                                    customer_id=m.customer_id, points=points, reason="test",
                                    source_type="test", source_id=None, idempotency_key=key, timezone=TZ)

    async def view(self, member_id: UUID) -> Any:
        return await services.get_member(uow=self.uow(), clock=self.clock, member_id=member_id, timezone=TZ)

    async def consistent(self) -> bool:
        return not await services.check_ledger(uow=self.uow())


async def test_pending_points_become_spendable_at_the_tenant_local_day(app, tenant_a):
    clock = FixedClock("2026-03-01T14:00:00+00:00")  # 23:00 in Tokyo
    lo = Loyalty(app, tenant_a, clock)
    pid = await lo.program(pending_days=2)
    mid = await lo.member(pid, "pending@example.jp")
    await lo.earn(pid, mid, 100, "e1")
    assert ((await lo.view(mid)).balances.pending, (await lo.view(mid)).balances.active) == (100, 0)
    try:
        await redemptions.redeem_points(uow=lo.uow(), clock=clock, member_id=mid, points=1, reward_id=None,
                                        hold=None, actor="t")
    except InsufficientPoints as short:
        assert short.available == 0
    else:
        raise AssertionError("pending points were spent")
    # Earned on 1 March (Tokyo): spendable from the start of 3 March there.
    clock.at = datetime(2026, 3, 2, 14, 59, tzinfo=UTC)  # 23:59 on the 2nd in Tokyo: still pending
    assert (await lo.view(mid)).balances.pending == 100
    clock.at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 00:00 on the 3rd in Tokyo
    assert ((await lo.view(mid)).balances.pending, (await lo.view(mid)).balances.active) == (0, 100)


async def test_expiry_job_expires_only_unspent_points_and_can_rerun(app, tenant_a, tenant_b):
    clock = FixedClock("2026-01-10T03:00:00+00:00")
    lo = Loyalty(app, tenant_a, clock)
    pid = await lo.program(expiry_policy=ExpiryPolicy.END_OF_MONTH_AFTER, expiry_months=1)
    mid = await lo.member(pid, "expiry@example.jp")
    await lo.earn(pid, mid, 300, "jan")
    clock.advance(days=25)  # 2026-02-04: a second lot, expiring a month later
    await lo.earn(pid, mid, 200, "feb")
    await redemptions.redeem_points(uow=lo.uow(), clock=clock, member_id=mid, points=250, reward_id=None,
                                    hold=None, actor="t")  # takes 250 of January's lot (expires first)
    soon = (await lo.view(mid)).balances
    assert soon.next_expiry_at == datetime(2026, 2, 28, 15, 0, tzinfo=UTC) and soon.next_expiry_points == 50
    other = Loyalty(app, tenant_b, clock)
    other_mid = await other.member(await other.program(expiry_policy=ExpiryPolicy.MONTHS_AFTER_EARN,
                                                       expiry_months=1), "b@example.jp")
    clock.at = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # 09:00 on 1 March in Tokyo: January's lot is over
    assert await services.expire_points(uow=lo.uow(), clock=clock) == 1
    assert await services.expire_points(uow=lo.uow(), clock=clock) == 0  # a re-run finds nothing
    b = (await lo.view(mid)).balances
    assert (b.active, b.spent, b.expired) == (200, 250, 50)
    assert (await other.view(other_mid)).balances.expired == 0
    assert await lo.consistent() and await other.consistent()


async def test_lapsed_reservations_come_back_and_cannot_be_confirmed(app, tenant_a):
    clock = FixedClock("2026-05-01T00:00:00+00:00")
    lo = Loyalty(app, tenant_a, clock)
    pid = await lo.program()
    mid = await lo.member(pid, "hold@example.jp")
    await lo.earn(pid, mid, 100, "a")
    held = await redemptions.redeem_points(uow=lo.uow(), clock=clock, member_id=mid, points=80, reward_id=None,
                                           hold=timedelta(minutes=15), actor="t")
    clock.advance(minutes=16)
    try:
        await redemptions.confirm_redemption(uow=lo.uow(), clock=clock, redemption_id=held.id)
    except Conflict as late:
        assert late.extra["code"] == "reservation_expired"
    else:
        raise AssertionError("a lapsed reservation was confirmed")
    assert await redemptions.release_lapsed_reservations(uow=lo.uow(), clock=clock) >= 1
    assert await redemptions.release_lapsed_reservations(uow=lo.uow(), clock=clock) == 0
    after = await redemptions.get_redemption(uow=lo.uow(), redemption_id=held.id)
    assert after.status.value == "expired"
    b = (await lo.view(mid)).balances
    assert (b.active, b.spent) == (100, 0)
    assert await lo.consistent()


async def test_scheduled_downgrade_waits_for_retention_then_steps_down(app, tenant_a):
    clock = FixedClock("2026-01-15T00:00:00+00:00")
    lo = Loyalty(app, tenant_a, clock)
    pid = await lo.program(tiers=(Tier("Regular", 0), Tier("Silver", 100), Tier("Gold", 1000)),
                           downgrade_policy=DowngradePolicy.ONE_STEP, tier_retention_months=12)
    mid = await lo.member(pid, "tiered@example.jp")
    await lo.earn(pid, mid, 1200, "big")
    assert (await lo.view(mid)).member.tier == "Gold"
    await redemptions.redeem_points(uow=lo.uow(), clock=clock, member_id=mid, points=1200, reward_id=None,
                                    hold=None, actor="t")
    assert (await lo.view(mid)).member.tier == "Gold"  # spending never costs a tier
    clock.advance(days=200)
    assert await services.evaluate_downgrades(uow=lo.uow(), clock=clock, timezone=TZ) == 0  # retention
    clock.advance(days=200)  # 400 days on: nothing earned in the rolling 12 months
    assert await services.evaluate_downgrades(uow=lo.uow(), clock=clock, timezone=TZ) == 1
    assert (await lo.view(mid)).member.tier == "Silver"
    assert await services.evaluate_downgrades(uow=lo.uow(), clock=clock, timezone=TZ) == 0  # new retention
    history = await services.tier_history(uow=lo.uow(), member_id=mid,
                                          page=PageRequest())
    assert [(c.from_tier, c.to_tier, c.reason) for c in history.items] == [
        ("Gold", "Silver", "downgrade"), ("Regular", "Gold", "qualified"), (None, "Regular", "enrolled")]


async def test_100_concurrent_redemptions_with_points_for_10_give_exactly_10(app, tenant_a):
    clock = FixedClock(datetime.now(UTC).isoformat())
    lo = Loyalty(app, tenant_a, clock)
    pid = await lo.program()
    mid = await lo.member(pid, "rush@example.jp")
    await lo.earn(pid, mid, 100, "stash")

    async def one() -> str:
        try:
            await redemptions.redeem_points(uow=lo.uow(), clock=clock, member_id=mid, points=10, reward_id=None,
                                            hold=None, actor="t")
            return "ok"
        except InsufficientPoints:
            return "short"

    outcomes = await asyncio.gather(*[one() for _ in range(100)])
    assert outcomes.count("ok") == 10 and outcomes.count("short") == 90
    b = (await lo.view(mid)).balances
    assert (b.active, b.spent) == (0, 100)
    assert await lo.consistent()


async def test_concurrent_earns_and_redemptions_never_lose_an_update(app, tenant_a):
    clock = FixedClock(datetime.now(UTC).isoformat())
    lo = Loyalty(app, tenant_a, clock)
    pid = await lo.program()
    mid = await lo.member(pid, "busy@example.jp")
    await lo.earn(pid, mid, 50, "seed")

    async def redeem() -> int:
        try:
            await redemptions.redeem_points(uow=lo.uow(), clock=clock, member_id=mid, points=7, reward_id=None,
                                            hold=None, actor="t")
            return 7
        except InsufficientPoints:
            return 0

    earns = [lo.earn(pid, mid, 5, f"e{i}") for i in range(40)]
    results = await asyncio.gather(*earns, *[redeem() for _ in range(40)])
    spent = sum(r for r in results if isinstance(r, int))
    b = (await lo.view(mid)).balances
    assert b.active == 50 + 40 * 5 - spent and b.spent == spent
    assert (await lo.view(mid)).member.lifetime_points == 250
    assert await lo.consistent()


async def test_refund_beyond_the_lots_follows_the_negative_balance_policy(app, api, tenant_a):
    clock = FixedClock(datetime.now(UTC).isoformat())
    lo = Loyalty(app, tenant_a, clock)
    for policy, active, debt in ((NegativeBalance.ALLOW, -80, 80), (NegativeBalance.FLOOR_AT_ZERO, 0, 0)):
        pid = await lo.program(negative_balance=policy)
        email = f"neg-{policy.value}@example.jp"
        mid = await lo.member(pid, email)
        placed = await api.post("/v1/orders", headers={"Authorization": f"Bearer {tenant_a.token}"}, json={
            "order_number": f"NEG-{policy.value}", "customer": {"email": email}, "channel": "ec",
            "ordered_at": (clock.now() - timedelta(hours=1)).isoformat(), "total": 10000,
            "lines": [{"sku": "X", "quantity": 1, "unit_price": 10000}]})
        assert placed.status_code == 201, placed.text
        order_id = UUID(placed.json()["id"])
        await services.earn_for_order(uow=lo.uow(), clock=clock, order_id=order_id, timezone=TZ)
        await redemptions.redeem_points(uow=lo.uow(), clock=clock, member_id=mid, points=80, reward_id=None,
                                        hold=None, actor="t")
        refunded = await api.post(f"/v1/orders/{order_id}/refunds", json={"amount": 10000},
                                  headers={"Authorization": f"Bearer {tenant_a.token}"})
        assert refunded.status_code == 201
        await services.reverse_for_refund(uow=lo.uow(), clock=clock, order_id=order_id, timezone=TZ)
        await services.reverse_for_refund(uow=lo.uow(), clock=clock, order_id=order_id, timezone=TZ)  # replay
        b = (await lo.view(mid)).balances
        assert (b.active, b.debt) == (active, debt), policy
        if policy is NegativeBalance.ALLOW:  # later earnings pay the debt first
            await lo.earn(pid, mid, 100, "after")
            assert ((await lo.view(mid)).balances.active, (await lo.view(mid)).balances.debt) == (20, 0)
    assert await lo.consistent()


async def test_merging_customers_merges_their_memberships(app, api, tenant_a):
    clock = FixedClock(datetime.now(UTC).isoformat())
    lo = Loyalty(app, tenant_a, clock)
    pid = await lo.program()
    target = await lo.member(pid, "keep@example.jp")
    source = await lo.member(pid, "dup@example.jp")
    await lo.earn(pid, target, 100, "same-key")
    await lo.earn(pid, source, 40, "same-key")
    t_customer = (await lo.view(target)).member.customer_id
    s_customer = (await lo.view(source)).member.customer_id
    r = await api.post(f"/v1/customers/{t_customer}/merge", json={"source_customer_id": str(s_customer)},
                       headers={"Authorization": f"Bearer {tenant_a.token}"})
    assert r.status_code == 200, r.text
    merged = await lo.view(target)
    assert merged.balances.active == 140 and merged.member.lifetime_points == 140
    try:
        await redemptions.redeem_points(uow=lo.uow(), clock=clock, member_id=source, points=1, reward_id=None,
                                        hold=None, actor="t")
    except NotFound:
        pass
    else:
        raise AssertionError("the merged member still redeems")
    assert await lo.consistent()


async def test_the_check_command_finds_a_ledger_that_does_not_add_up(app, engine, database_url, tenant_a):
    lo = Loyalty(app, tenant_a, FixedClock(datetime.now(UTC).isoformat()))
    pid = await lo.program()
    mid = await lo.member(pid, "audited@example.jp")
    await lo.earn(pid, mid, 100, "x")

    async def check(slug: str) -> tuple[int, str]:
        env = os.environ | {"KIZUNA_DATABASE_URL": database_url, "KIZUNA_LOG_LEVEL": "warning"}
        done = await asyncio.to_thread(subprocess.run, [KIZUNA, "loyalty", "check", "--tenant", slug], env=env,
                                       capture_output=True, text=True, timeout=60)
        return done.returncode, done.stdout + done.stderr

    code, out = await check(tenant_a.slug)
    assert code == 0 and "ledger consistent" in out, out
    async with engine.begin() as conn:  # what a bad manual fix in SQL would do
        await conn.exec_driver_sql(f'UPDATE "t_{tenant_a.slug}".loyalty_lots SET remaining = 90')
    code, out = await check(tenant_a.slug)
    assert code == 1 and str(mid) in out and "ledger sum 100" in out, out
    assert (await check("no_such_tenant"))[0] == 1


async def test_birthday_points_arrive_once_on_the_local_birthday(app, api, tenant_a, tenant_b):
    clock = FixedClock("2027-02-27T16:00:00+00:00")  # 28 Feb 2027 01:00 in Tokyo (not a leap year)
    lo = Loyalty(app, tenant_a, clock)
    pid = await lo.program(tiers=(Tier("Regular", 0, birthday_bonus=50), Tier("Gold", 10**6)))
    await services.create_rule(uow=lo.uow(), clock=clock, program_id=pid,
                               terms=RuleTerms(name="Happy birthday", trigger=Trigger.BIRTHDAY, points=100))
    auth = {"Authorization": f"Bearer {tenant_a.token}"}
    for email, born in (("leap@example.jp", "2000-02-29"), ("march@example.jp", "1990-03-01")):
        r = await api.post("/v1/customers", json={"email": email, "birth_date": born}, headers=auth)
        assert r.status_code == 201, r.text
    leap = await lo.member(pid, "leap@example.jp")
    march = await lo.member(pid, "march@example.jp")
    other = Loyalty(app, tenant_b, clock)
    assert await services.award_birthdays(uow=lo.uow(), clock=clock, timezone=TZ) == 2
    assert await services.award_birthdays(uow=lo.uow(), clock=clock, timezone=TZ) == 0  # once a year
    assert await services.award_birthdays(uow=other.uow(), clock=clock, timezone=TZ) == 0
    assert (await lo.view(leap)).balances.active == 150
    assert (await lo.view(march)).balances.active == 0
    clock.advance(days=1)  # 1 March in Tokyo
    assert await services.award_birthdays(uow=lo.uow(), clock=clock, timezone=TZ) == 2
    assert (await lo.view(march)).balances.active == 150
    assert await lo.consistent()


async def test_the_scheduled_expiry_task_sweeps_every_tenant(app, database_url, tenant_a, tenant_b):
    past = FixedClock((datetime.now(UTC) - timedelta(days=400)).isoformat())
    members = []
    for tenant in (tenant_a, tenant_b):
        lo = Loyalty(app, tenant, past)
        pid = await lo.program(expiry_policy=ExpiryPolicy.MONTHS_AFTER_EARN, expiry_months=1)
        mid = await lo.member(pid, "sweep@example.jp")
        await lo.earn(pid, mid, 70, "old")
        members.append((lo, mid))
    async with job_app(Settings(), database_url) as jobs:
        try:
            await jobs.tasks["kizuna.loyalty.expire_points"].defer_async(
                timestamp=int(datetime.now(UTC).timestamp()))
        except AlreadyEnqueued:
            pass  # an earlier worker's periodic deferrer queued it (queueing lock): it runs below
        await jobs.run_worker_async(queues=[SCHEDULE_QUEUE], wait=False, install_signal_handlers=False)
    for lo, mid in members:
        lo.clock.at = datetime.now(UTC)
        b = (await lo.view(mid)).balances
        assert (b.active, b.expired) == (0, 70)
        entries = await services.list_entries(uow=lo.uow(), member_id=mid, filters=EntryFilter(),
                                              page=PageRequest())
        assert [e.kind.value for e in entries.items] == ["expire", "earn"]


async def test_rule_caps_count_what_each_rule_earned_in_its_own_period(app, api, tenant_a):
    """Two capped rules read together: a daily cap of 150 on 100 fixed points an order, and a
    program-long cap of 250 on 100 more. Orders on the same Tokyo day share the daily cap; the
    next day starts a new one, while the program cap keeps counting."""
    clock = FixedClock("2026-06-10T01:00:00+00:00")  # 10:00 in Tokyo
    lo = Loyalty(app, tenant_a, clock)
    pid = await lo.program()
    for name, period, cap in (("daily", CapPeriod.DAY, 150), ("lifetime", CapPeriod.PROGRAM, 250)):
        await services.create_rule(uow=lo.uow(), clock=clock, program_id=pid, terms=RuleTerms(
            name=name, trigger=Trigger.ORDER, points=100, cap_points=cap, cap_period=period))
    mid = await lo.member(pid, "caps@example.jp")
    earned: list[dict[str, int]] = []
    total = 0
    for n, hours in enumerate((0, 2, 24, 48)):  # two orders on 10 June, one on the 11th, one on the 12th
        clock.at = datetime(2026, 6, 10, 1, 0, tzinfo=UTC) + timedelta(hours=hours)
        placed = await api.post("/v1/orders", headers={"Authorization": f"Bearer {tenant_a.token}"}, json={
            "order_number": f"CAP-{n}", "customer": {"email": "caps@example.jp"}, "channel": "ec",
            "ordered_at": (clock.now() - timedelta(minutes=5)).isoformat(), "total": 50,
            "lines": [{"sku": "X", "quantity": 1, "unit_price": 50}]})
        assert placed.status_code == 201, placed.text
        written = await services.earn_for_order(uow=lo.uow(), clock=clock, order_id=UUID(placed.json()["id"]),
                                                timezone=TZ)
        by_rule: dict[str, int] = {}
        total += sum(entry.points for entry in written)
        async with lo.uow() as uow:
            rules = {r.id: r.terms.name for r in await uow.loyalty.rules_of(pid)}
        for entry in written:
            if entry.rule_id in rules:
                by_rule[rules[entry.rule_id]] = by_rule.get(rules[entry.rule_id], 0) + entry.points
        earned.append(by_rule)
    assert [e.get("daily", 0) for e in earned] == [100, 50, 100, 100]
    assert [e.get("lifetime", 0) for e in earned] == [100, 100, 50, 0]
    balances = (await lo.view(mid)).balances
    assert balances.active + balances.pending == total >= 600
    assert await lo.consistent()
