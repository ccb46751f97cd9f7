"""Loyalty use cases: programs, members, earning, the ledger, tiers (docs/loyalty.md).

Every use case that changes a member's points locks the member row first (`lock_member`), so
concurrent earns, refunds and redemptions on one member serialise and never lose an update, and
writes an entry whose idempotency key is unique per member, so a retried job or request changes
nothing the second time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.customers.model import CustomerRef
from domain.customers.services import resolve_customer
from domain.loyalty.calendar import local_date
from domain.loyalty.events import PointsEarned, TierChanged
from domain.loyalty.loaders import load_program, load_wallet, locked_member, remaining_after, require_active
from domain.loyalty.model import (
    Balances,
    EntryKind,
    LedgerEntry,
    Lot,
    LotDebit,
    Member,
    MemberStatus,
    Program,
    ProgramTerms,
    Tier,
    TierBasis,
    TierChange,
    Wallet,
    balances,
)
from domain.loyalty.ports import EntryFilter, LedgerMismatch
from domain.loyalty.rules import (
    Award,
    EarningRule,
    OrderFacts,
    RuleTerms,
    Trigger,
    evaluate_fixed,
    evaluate_order,
)
from domain.loyalty.tiers import downgrade, rank, upgrade, window_start
from domain.shared.clock import Clock
from domain.shared.errors import InvalidInput, NotFound, PreconditionFailed
from domain.shared.ids import new_id
from domain.shared.pagination import Page, PageRequest, page_from
from domain.shared.ports import UnitOfWork

EARNING_STATUSES = ("placed",)  # imported cancelled / refunded orders earn nothing
MAX_POINTS = 100_000_000


# -- programs ---------------------------------------------------------------------------------

async def create_program(*, uow: UnitOfWork, clock: Clock, terms: ProgramTerms) -> Program:
    now = clock.now()
    program = Program(id=new_id(), terms=terms.validate(), created_at=now, updated_at=now)
    async with uow:
        await uow.loyalty.add_program(program)
        await uow.commit()
    return program


async def get_program(*, uow: UnitOfWork, program_id: UUID) -> Program:
    async with uow:
        program = await uow.loyalty.get_program(program_id)
    if program is None:
        raise NotFound("program", program_id)
    return program


async def list_programs(*, uow: UnitOfWork, page: PageRequest) -> Page[Program]:
    async with uow:
        rows = await uow.loyalty.list_programs(page)
    return page_from(rows, page)


async def update_program(*, uow: UnitOfWork, clock: Clock, program_id: UUID, changes: Mapping[str, Any],
                         expected_version: int | None) -> Program:
    """Partial update of the terms. Currency is fixed once a program exists (its ledger is in it)."""
    if "currency" in changes:
        raise InvalidInput("a program's currency cannot change", field="currency")
    async with uow:
        program = await uow.loyalty.get_program(program_id)
        if program is None:
            raise NotFound("program", program_id)
        if expected_version is not None and expected_version != program.version:
            raise PreconditionFailed(f"program {program_id} is at version {program.version}")
        terms = replace(program.terms, **changes).validate()
        updated = replace(program, terms=terms, updated_at=clock.now(), version=program.version + 1)
        if not await uow.loyalty.update_program(updated, expected_version=program.version):
            raise PreconditionFailed(f"program {program_id} changed meanwhile; read it again")
        await uow.commit()
    return updated


# -- earning rules ----------------------------------------------------------------------------

async def create_rule(*, uow: UnitOfWork, clock: Clock, program_id: UUID, terms: RuleTerms) -> EarningRule:
    now = clock.now()
    async with uow:
        program = await load_program(uow, program_id)
        rule = EarningRule(id=new_id(), program_id=program_id, terms=terms.validate(program.terms),
                           created_at=now, updated_at=now)
        await uow.loyalty.add_rule(rule)
        await uow.commit()
    return rule


async def list_rules(*, uow: UnitOfWork, program_id: UUID) -> Sequence[EarningRule]:
    async with uow:
        await load_program(uow, program_id)
        return await uow.loyalty.rules_of(program_id)


async def get_rule(*, uow: UnitOfWork, program_id: UUID, rule_id: UUID) -> EarningRule:
    async with uow:
        rule = await uow.loyalty.get_rule(program_id, rule_id)
    if rule is None:
        raise NotFound("earning rule", rule_id)
    return rule


async def update_rule(*, uow: UnitOfWork, clock: Clock, program_id: UUID, rule_id: UUID,
                      changes: Mapping[str, Any], expected_version: int | None) -> EarningRule:
    async with uow:
        program = await load_program(uow, program_id)
        rule = await uow.loyalty.get_rule(program_id, rule_id)
        if rule is None:
            raise NotFound("earning rule", rule_id)
        if expected_version is not None and expected_version != rule.version:
            raise PreconditionFailed(f"earning rule {rule_id} is at version {rule.version}")
        terms = replace(rule.terms, **changes).validate(program.terms)
        updated = replace(rule, terms=terms, updated_at=clock.now(), version=rule.version + 1)
        if not await uow.loyalty.update_rule(updated, expected_version=rule.version):
            raise PreconditionFailed(f"earning rule {rule_id} changed meanwhile; read it again")
        await uow.commit()
    return updated


async def delete_rule(*, uow: UnitOfWork, program_id: UUID, rule_id: UUID) -> None:
    """Past entries keep naming the rule by id; the rule stops applying."""
    async with uow:
        if not await uow.loyalty.delete_rule(program_id, rule_id):
            raise NotFound("earning rule", rule_id)
        await uow.commit()


# -- members ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class NextTier:
    name: str
    threshold: int
    missing: int


@dataclass(frozen=True)
class MemberView:
    member: Member
    program: Program
    balances: Balances
    qualifying_value: int | None
    next_tier: NextTier | None


async def enroll_member(*, uow: UnitOfWork, clock: Clock, program_id: UUID,
                        customer: CustomerRef) -> tuple[Member, bool]:
    """Idempotent per customer: enrolling again returns the existing member (created=False)."""
    now = clock.now()
    async with uow:
        program = await load_program(uow, program_id)
        require_active(program)
        customer_id = await resolve_customer(uow=uow, clock=clock, ref=customer)
        member, created = await _enroll(uow, program, customer_id, now)
        await uow.commit()
    return member, created


async def _enroll(uow: UnitOfWork, program: Program, customer_id: UUID, now: datetime) -> tuple[Member, bool]:
    entry_tier = program.terms.tiers[0].name if program.terms.tiers else None
    fresh = Member(id=new_id(), program_id=program.id, customer_id=customer_id, tier=entry_tier,
                   tier_since=now if entry_tier else None, lifetime_points=0, debt=0,
                   status=MemberStatus.ACTIVE, enrolled_at=now)
    member = await uow.loyalty.add_member(fresh)
    created = member.id == fresh.id
    if created and entry_tier is not None:
        await uow.loyalty.add_tier_change(TierChange(
            id=new_id(), member_id=member.id, from_tier=None, to_tier=entry_tier, reason="enrolled",
            occurred_at=now, qualifying_value=0))
    return member, created


async def get_member(*, uow: UnitOfWork, clock: Clock, member_id: UUID, timezone: str) -> MemberView:
    now = clock.now()
    async with uow:
        member = await uow.loyalty.get_member(member_id)
        if member is None:
            raise NotFound("member", member_id)
        program = await load_program(uow, member.program_id)
        lots = await uow.loyalty.all_lots(member.id)
        totals = await uow.loyalty.totals(member.id)
        value: int | None = None
        following: NextTier | None = None
        if program.terms.tiers:
            basis = program.terms.tiers[0].basis
            value = await uow.loyalty.qualifying_value(
                member, basis, window_start(program.terms, now, timezone))
            position = rank(program.terms, member.tier)
            if position + 1 < len(program.terms.tiers):
                tier = program.terms.tiers[position + 1]
                following = NextTier(name=tier.name, threshold=tier.threshold,
                                     missing=max(tier.threshold - value, 0))
    return MemberView(member=member, program=program, qualifying_value=value, next_tier=following,
                      balances=balances(lots, debt=member.debt, spent=totals.spent,
                                        expired=totals.expired, now=now))


async def list_members(*, uow: UnitOfWork, program_id: UUID, customer_id: UUID | None,
                       page: PageRequest) -> Page[Member]:
    async with uow:
        await load_program(uow, program_id)
        rows = await uow.loyalty.list_members(program_id, customer_id, page)
    return page_from(rows, page)


# -- crediting --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Credit:
    kind: EntryKind
    points: int
    reason: str
    key: str
    source_type: str | None = None
    source_id: str | None = None
    rule_id: UUID | None = None
    actor: str | None = None
    order_id: UUID | None = None
    detail: Mapping[str, object] | None = None


async def _credit(uow: UnitOfWork, program: Program, member: Member, credits: Sequence[Credit], *,
                  earned_at: datetime, now: datetime, timezone: str) -> tuple[Member, list[LedgerEntry]]:
    """Write credits (earn or positive adjust) as entries and lots; debt is paid from them first.
    Returns the member as updated (lifetime points, debt, tier) and the entries written."""
    wallet = Wallet(member_id=member.id, lots=[], debt=member.debt)
    entries: list[LedgerEntry] = []
    lots: list[Lot] = []
    earned = 0
    for credit in credits:
        entry_id = new_id()
        if credit.points <= 0:  # a marker (an order that earned nothing): an entry, no lot
            entries.append(LedgerEntry(
                id=entry_id, member_id=member.id, kind=credit.kind, points=0, reason=credit.reason,
                occurred_at=now, idempotency_key=credit.key, source_type=credit.source_type,
                source_id=credit.source_id, rule_id=credit.rule_id, actor=credit.actor))
            continue
        lot, settled = wallet.credit(Lot(
            id=new_id(), member_id=member.id, entry_id=entry_id, points=credit.points,
            remaining=credit.points, available_at=program.terms.available_at(earned_at, timezone)
            if credit.kind is EntryKind.EARN else now,
            expires_at=program.terms.expires_at(earned_at, timezone), order_id=credit.order_id))
        detail = dict(credit.detail or {})
        if settled:
            detail["debt_settled"] = settled
        lots.append(lot)
        entries.append(LedgerEntry(
            id=entry_id, member_id=member.id, kind=credit.kind, points=credit.points,
            reason=credit.reason, occurred_at=now, idempotency_key=credit.key,
            source_type=credit.source_type, source_id=credit.source_id, rule_id=credit.rule_id,
            actor=credit.actor, detail=detail))
        if credit.kind is EntryKind.EARN:
            earned += credit.points
    if not entries:
        return member, []
    member = replace(member, lifetime_points=member.lifetime_points + earned, debt=wallet.debt)
    member = await _maybe_upgrade(uow, program, member, now, timezone, unwritten_points=earned)
    await uow.loyalty.write_credit(entries, lots, member)
    uow.publish(PointsEarned(member_id=member.id, program_id=program.id, customer_id=member.customer_id,
                             points=sum(e.points for e in entries), entry_ids=tuple(e.id for e in entries)))
    return member, entries


async def _maybe_upgrade(uow: UnitOfWork, program: Program, member: Member, now: datetime,
                         timezone: str, unwritten_points: int = 0) -> Member:
    """Upgrade at once when the member qualifies for a higher tier. `unwritten_points`: points
    earned now and not yet written (they count: they fall in any window that ends now)."""
    tiers = program.terms.tiers
    position = rank(program.terms, member.tier)
    if not tiers or position == len(tiers) - 1:
        return member  # no tiers, or already at the top: nothing to qualify for
    basis = tiers[0].basis
    if basis is TierBasis.POINTS_EARNED and member.lifetime_points < tiers[position + 1].threshold:
        # Points earned in any window are at most the lifetime net earnings: no query needed.
        return member
    value = await uow.loyalty.qualifying_value(member, basis, window_start(program.terms, now, timezone))
    if basis is TierBasis.POINTS_EARNED:
        value += unwritten_points
    target = upgrade(program.terms, member.tier, value)
    if target is None:
        return member
    return await _change_tier(uow, member, target, reason="qualified", value=value, now=now)


async def _change_tier(uow: UnitOfWork, member: Member, target: Tier | None, *, reason: str, value: int,
                       now: datetime) -> Member:
    new_name = target.name if target else None
    await uow.loyalty.add_tier_change(TierChange(
        id=new_id(), member_id=member.id, from_tier=member.tier, to_tier=new_name, reason=reason,
        occurred_at=now, qualifying_value=value))
    uow.publish(TierChanged(member_id=member.id, program_id=member.program_id,
                            customer_id=member.customer_id, from_tier=member.tier, to_tier=new_name,
                            reason=reason))
    return replace(member, tier=new_name, tier_since=now)


async def award_points(*, uow: UnitOfWork, clock: Clock, program_id: UUID, customer_id: UUID, points: int,
                       reason: str, source_type: str, source_id: str | None, idempotency_key: str,
                       timezone: str = "Asia/Tokyo") -> LedgerEntry:
    """One `earn` entry for a customer (enrolled on the way if needed): what campaigns and other
    areas call. Idempotent on `idempotency_key` per member: a replay returns the first entry."""
    if not 1 <= points <= MAX_POINTS:
        raise InvalidInput(f"points must be between 1 and {MAX_POINTS}", field="points")
    now = clock.now()
    async with uow:
        program = await load_program(uow, program_id)
        require_active(program)
        enrolled, _ = await _enroll(uow, program, customer_id, now)
        member = await locked_member(uow, enrolled.id)
        done = await uow.loyalty.entry_by_key(member.id, idempotency_key)
        if done is not None:
            return done
        _, entries = await _credit(uow, program, member, [Credit(
            kind=EntryKind.EARN, points=points, reason=reason, key=idempotency_key,
            source_type=source_type, source_id=source_id)], earned_at=now, now=now, timezone=timezone)
        await uow.commit()
    return entries[0]


async def adjust_points(*, uow: UnitOfWork, clock: Clock, member_id: UUID, points: int, reason: str,
                        actor: str, idempotency_key: str | None, timezone: str) -> LedgerEntry:
    """A manual correction, always with a reason. Positive: a new lot (spendable at once, expiring
    per the program). Negative: taken from spendable lots like a spend (409 when short)."""
    if points == 0 or abs(points) > MAX_POINTS:
        raise InvalidInput(f"points must be non-zero and at most {MAX_POINTS} either way", field="points")
    if not reason or not reason.strip():
        raise InvalidInput("an adjustment needs a reason", field="reason")
    now = clock.now()
    key = f"adjust:{idempotency_key}" if idempotency_key else f"adjust:{new_id()}"
    async with uow:
        member = await locked_member(uow, member_id)
        done = await uow.loyalty.entry_by_key(member.id, key)
        if done is not None:
            return done
        program = await load_program(uow, member.program_id)
        if points > 0:
            _, entries = await _credit(uow, program, member, [Credit(
                kind=EntryKind.ADJUST, points=points, reason=reason.strip(), key=key,
                source_type="client", source_id=actor, actor=actor)],
                earned_at=now, now=now, timezone=timezone)
            entry = entries[0]
        else:
            wallet = await load_wallet(uow, member)
            debits = wallet.spend(-points, now)
            entry = LedgerEntry(id=new_id(), member_id=member.id, kind=EntryKind.ADJUST, points=points,
                                reason=reason.strip(), occurred_at=now, idempotency_key=key,
                                source_type="client", source_id=actor, actor=actor, debits=debits)
            await uow.loyalty.write([entry], [], remaining_after(wallet, debits))
        await uow.commit()
    return entry


# -- orders -----------------------------------------------------------------------------------

async def _usage(uow: UnitOfWork, member: Member, rules: Sequence[EarningRule], at: datetime,
                 timezone: str) -> dict[UUID, int]:
    capped = {r.id: r.terms.cap_period.start(at, timezone) for r in rules if r.terms.cap_period is not None}
    return await uow.loyalty.rule_usage(member.id, capped) if capped else {}


def _credits_for(awards: Sequence[Award], key_prefix: str, *, source_type: str, source_id: str,
                 order_id: UUID | None = None) -> list[Credit]:
    out: list[Credit] = []
    for award in awards:
        if award.points <= 0:
            continue
        suffix = f"rule:{award.rule_id}" if award.rule_id else award.source
        detail = dict(award.detail)
        if award.uncapped_points is not None:
            detail["capped_from"] = award.uncapped_points
        out.append(Credit(kind=EntryKind.EARN, points=award.points, reason=award.reason,
                          key=f"{key_prefix}:{suffix}", source_type=source_type, source_id=source_id,
                          rule_id=award.rule_id, order_id=order_id, detail=detail))
    return out


async def earn_for_order(*, uow: UnitOfWork, clock: Clock, order_id: UUID,
                         timezone: str) -> list[LedgerEntry]:
    """Points for an order, in every active program the customer is a member of (auto-enrolling
    programs enrol the buyer first). Safe to run twice: the second run finds the order's entries.
    This runs for every order placed, so it reads what it needs in few statements (the order
    with its lines' categories; programs with their rules and the membership; the member lock
    with the replay check)."""
    now = clock.now()
    written: list[LedgerEntry] = []
    key = f"order:{order_id}"
    async with uow:
        found = await uow.loyalty.order_facts(order_id)
        if found is None:
            return []
        facts, customer_id, status = found
        if status not in EARNING_STATUSES:
            return []
        for program, rules, enrolled in await uow.loyalty.earning_programs(customer_id):
            if enrolled is None:
                if not program.terms.auto_enroll:
                    continue
                enrolled, _ = await _enroll(uow, program, customer_id, now)
            member, done = await uow.loyalty.lock_member_unless_done(enrolled.id, f"{key}:base")
            if member is None or done or member.status is not MemberStatus.ACTIVE:
                continue
            awards = evaluate_order(program.terms, rules, facts, tier=program.terms.tier_named(member.tier),
                                    used=await _usage(uow, member, rules, facts.ordered_at, timezone))
            credits = _credits_for(awards, key, source_type="order", source_id=str(order_id),
                                   order_id=order_id)
            if not any(c.key == f"{key}:base" for c in credits):
                # A zero-point order still leaves its marker, so a replay knows it was handled.
                credits.insert(0, Credit(kind=EntryKind.EARN, points=0, reason="no eligible amount",
                                         key=f"{key}:base", source_type="order", source_id=str(order_id)))
            _, entries = await _credit(uow, program, member, credits, earned_at=facts.ordered_at,
                                       now=now, timezone=timezone)
            written.extend(entries)
        await uow.commit()
    return written


async def reverse_for_refund(*, uow: UnitOfWork, clock: Clock, order_id: UUID,
                             timezone: str) -> list[LedgerEntry]:
    """Take back the order's points in proportion to what was refunded so far (rounded down, so
    the customer keeps a fraction; a full refund takes back exactly what was earned). The order's
    own lots go first, then other lots; what no lot holds becomes debt or is forgiven, per the
    program's negative-balance policy. Idempotent per refunded total."""
    now = clock.now()
    written: list[LedgerEntry] = []
    async with uow:
        order = await uow.orders.get(order_id)
        if order is None:
            return []
        for enrolled in await uow.loyalty.memberships(order.customer_id):
            member = await locked_member(uow, enrolled.id)
            earned = await uow.loyalty.order_points(member.id, order_id)
            if earned.earned <= 0:
                continue
            if order.refunded_total >= order.total:
                target = earned.earned
            else:
                target = math.floor(Decimal(earned.earned) * order.refunded_total / max(order.total, 1))
            due = target - earned.reversed
            key = f"refund:{order_id}:{order.refunded_total}"
            if due <= 0 or await uow.loyalty.entry_by_key(member.id, key) is not None:
                continue
            program = await load_program(uow, member.program_id)
            wallet = await load_wallet(uow, member)
            debits, debt_added, forgiven = wallet.claw_back(
                due, earned.lot_ids, program.terms.negative_balance, now)
            taken = sum(d.points for d in debits)
            entry = LedgerEntry(
                id=new_id(), member_id=member.id, kind=EntryKind.REVERSE, points=-(taken + debt_added),
                reason=f"order refunded ({order.refunded_total} of {order.total})", occurred_at=now,
                idempotency_key=key, source_type="order", source_id=str(order_id), debits=debits,
                detail={"reverses": due, "debt_added": debt_added, "forgiven": forgiven,
                        "refunded_total": order.refunded_total})
            await uow.loyalty.write([entry], [], remaining_after(wallet, debits))
            await uow.loyalty.save_member(replace(member, debt=wallet.debt,
                                                  lifetime_points=member.lifetime_points - due))
            written.append(entry)
        await uow.commit()
    return written


async def simulate_order(*, uow: UnitOfWork, program_id: UUID, facts: OrderFacts, tier_name: str | None,
                         customer_id: UUID | None, timezone: str) -> tuple[Program, list[Award]]:
    """The awards an order draft would earn, rule by rule, writing nothing. With a customer who is
    a member, their tier and what their caps have left are taken into account."""
    async with uow:
        program = await load_program(uow, program_id)
        rules = await uow.loyalty.rules_of(program_id)
        unknown = [line.sku for line in facts.lines if not line.category_path]
        if unknown:  # lines without a category path take the catalogue's
            found = await uow.loyalty.line_categories(unknown)
            facts = replace(facts, lines=tuple(
                replace(line, category_path=line.category_path or found.get(line.sku, ()))
                for line in facts.lines))
        tier = program.terms.tier_named(tier_name) if tier_name else None
        if tier_name is not None and tier is None:
            raise InvalidInput("not a tier of this program", field="tier")
        used: dict[UUID, int] = {}
        if customer_id is not None:
            member = await uow.loyalty.find_member(program_id, customer_id)
            if member is None:
                raise NotFound("member of this program for customer", customer_id)
            tier = tier or program.terms.tier_named(member.tier)
            used = await _usage(uow, member, rules, facts.ordered_at, timezone)
    return program, evaluate_order(program.terms, rules, facts, tier=tier, used=used)


# -- events -----------------------------------------------------------------------------------

async def earn_for_events(*, uow: UnitOfWork, clock: Clock, received_at: datetime,
                          customer_ids: Sequence[UUID], types: Sequence[str],
                          timezone: str) -> list[LedgerEntry]:
    """Fixed points for a batch of behaviour events (survey answered, campaign entered,
    custom:review ...) for customers who are members. Idempotent per event and rule."""
    now = clock.now()
    written: list[LedgerEntry] = []
    async with uow:
        programs = {p.id: p for p in await uow.loyalty.active_programs()}
        rules_by_program = {pid: [r for r in await uow.loyalty.rules_of(pid)
                                  if r.terms.trigger is Trigger.EVENT] for pid in programs}
        wanted = sorted({r.terms.event_type for rules in rules_by_program.values() for r in rules
                         if r.terms.event_type is not None and r.terms.event_type in types})
        if not wanted:
            return []
        events = await uow.loyalty.received_events(received_at, customer_ids, wanted)
        for event in sorted(events, key=lambda e: (str(e.customer_id), e.occurred_at, e.event_id)):
            for enrolled in await uow.loyalty.memberships(event.customer_id):
                program = programs.get(enrolled.program_id)
                rules = rules_by_program.get(enrolled.program_id, [])
                if program is None or not rules or enrolled.status is not MemberStatus.ACTIVE:
                    continue
                member = await locked_member(uow, enrolled.id)
                awards = evaluate_fixed(rules, trigger=Trigger.EVENT, at=event.occurred_at,
                                        tier=program.terms.tier_named(member.tier), event_type=event.type,
                                        channel=event.channel,
                                        used=await _usage(uow, member, rules, event.occurred_at, timezone))
                credits = [c for c in _credits_for(awards, f"event:{event.event_id}", source_type="event",
                                                   source_id=event.event_id)
                           if await uow.loyalty.entry_by_key(member.id, c.key) is None]
                _, entries = await _credit(uow, program, member, credits, earned_at=event.occurred_at,
                                           now=now, timezone=timezone)
                written.extend(entries)
        await uow.commit()
    return written


# -- the ledger -------------------------------------------------------------------------------

async def list_entries(*, uow: UnitOfWork, member_id: UUID, filters: EntryFilter,
                       page: PageRequest) -> Page[LedgerEntry]:
    async with uow:
        if await uow.loyalty.get_member(member_id) is None:
            raise NotFound("member", member_id)
        rows = await uow.loyalty.list_entries(member_id, filters, page)
    return page_from(rows, page)


async def tier_history(*, uow: UnitOfWork, member_id: UUID, page: PageRequest) -> Page[TierChange]:
    async with uow:
        if await uow.loyalty.get_member(member_id) is None:
            raise NotFound("member", member_id)
        rows = await uow.loyalty.tier_changes(member_id, page)
    return page_from(rows, page)


async def expire_points(*, uow: UnitOfWork, clock: Clock, batch: int = 5_000) -> int:
    """Write an `expire` entry for the unspent remainder of every lot whose expiry has passed, in
    batches of `batch` lots, one transaction each (constant memory, short locks). Safe to re-run:
    an expired lot holds nothing, so it is never picked again."""
    now = clock.now()
    total = 0
    after: tuple[datetime, UUID] | None = None
    while True:
        async with uow:
            due = await uow.loyalty.expire_due(now, batch, after)
            entries = [LedgerEntry(
                id=new_id(), member_id=lot.member_id, kind=EntryKind.EXPIRE, points=-lot.points,
                reason="points expired", occurred_at=now, idempotency_key=f"expire:{lot.id}",
                source_type="job", source_id="expire_points",
                debits=(LotDebit(lot_id=lot.id, points=lot.points),)) for lot in due]
            await uow.loyalty.write_expiries(entries)
            await uow.commit()
        total += len(entries)
        if len(due) < batch:
            return total
        after = (due[-1].expires_at, due[-1].id)


async def evaluate_downgrades(*, uow: UnitOfWork, clock: Clock, timezone: str, batch: int = 500) -> int:
    """The scheduled tier evaluation: members past their tier's retention period who no longer
    qualify move down (one step or recalculated, per the program). Safe to re-run: a member who
    was just moved is inside a new retention period."""
    now = clock.now()
    moved = 0
    async with uow:
        programs = [p for p in await uow.loyalty.active_programs() if len(p.terms.tiers) > 1]
    for program in programs:
        after: UUID | None = None
        while True:
            async with uow:
                members = await uow.loyalty.members_holding_tier(program.id, after, batch)
                for listed in members:
                    member = await locked_member(uow, listed.id)
                    basis = program.terms.tiers[0].basis
                    value = await uow.loyalty.qualifying_value(
                        member, basis, window_start(program.terms, now, timezone))
                    target = downgrade(program.terms, member.tier, member.tier_since, value, now, timezone)
                    if target is not None:
                        member = await _change_tier(uow, member, target, reason="downgrade", value=value,
                                                    now=now)
                        await uow.loyalty.save_member(member)
                        moved += 1
                await uow.commit()
            if len(members) < batch:
                break
            after = members[-1].id
    return moved


async def award_birthdays(*, uow: UnitOfWork, clock: Clock, timezone: str) -> int:
    """Birthday points (rules with trigger `birthday`, and the member's tier `birthday_bonus`) for
    members whose birthday is today, tenant-local; 29 February birthdays count on 28 February in
    other years. Idempotent per member, year and source: the daily job may run twice."""
    now = clock.now()
    today = local_date(now, timezone)
    awarded = 0
    async with uow:
        programs = await uow.loyalty.active_programs()
    for program in programs:
        async with uow:
            rules = [r for r in await uow.loyalty.rules_of(program.id) if r.terms.trigger is Trigger.BIRTHDAY]
            if not rules and not any(t.birthday_bonus for t in program.terms.tiers):
                continue
            for listed in await uow.loyalty.birthday_members(program.id, today):
                member = await locked_member(uow, listed.id)
                tier = program.terms.tier_named(member.tier)
                awards = evaluate_fixed(rules, trigger=Trigger.BIRTHDAY, at=now, tier=tier,
                                        used=await _usage(uow, member, rules, now, timezone))
                credits = _credits_for(awards, f"birthday:{today.year}", source_type="birthday",
                                       source_id=str(today.year))
                if tier is not None and tier.birthday_bonus:
                    credits.append(Credit(kind=EntryKind.EARN, points=tier.birthday_bonus,
                                          reason=f"tier {tier.name} birthday bonus",
                                          key=f"birthday:{today.year}:tier", source_type="birthday",
                                          source_id=str(today.year)))
                fresh = [c for c in credits if await uow.loyalty.entry_by_key(member.id, c.key) is None]
                _, entries = await _credit(uow, program, member, fresh, earned_at=now, now=now,
                                           timezone=timezone)
                awarded += len(entries)
            await uow.commit()
    return awarded


async def check_ledger(*, uow: UnitOfWork) -> Sequence[LedgerMismatch]:
    """Members whose ledger sum differs from their lots minus debt (empty: all consistent)."""
    async with uow:
        return await uow.loyalty.mismatches()

