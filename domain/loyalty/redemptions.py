"""Rewards catalogue and redemptions: one step, or reserve -> confirm / cancel (docs/loyalty.md).

A reservation debits the points at once (so nobody can spend them twice while a checkout is
open) and records which lots it took; cancelling it, or letting it lapse, gives exactly those
points back to exactly those lots with a `reverse` entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

from domain.loyalty.events import PointsRedeemed
from domain.loyalty.loaders import load_program, load_wallet, locked_member, remaining_after, require_active
from domain.loyalty.model import EntryKind, LedgerEntry, Member, Program, Wallet
from domain.loyalty.rewards import MAX_HOLD, Redemption, RedemptionStatus, Reward, RewardTerms
from domain.loyalty.services import MAX_POINTS
from domain.shared.clock import Clock
from domain.shared.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from domain.shared.ids import new_id
from domain.shared.pagination import Page, PageRequest, page_from
from domain.shared.ports import UnitOfWork


async def create_reward(*, uow: UnitOfWork, clock: Clock, program_id: UUID, terms: RewardTerms) -> Reward:
    now = clock.now()
    async with uow:
        await load_program(uow, program_id)
        reward = Reward(id=new_id(), program_id=program_id, terms=terms.validate(), redeemed=0,
                        created_at=now, updated_at=now)
        await uow.loyalty.add_reward(reward)
        await uow.commit()
    return reward


async def get_reward(*, uow: UnitOfWork, program_id: UUID, reward_id: UUID) -> Reward:
    async with uow:
        reward = await uow.loyalty.get_reward(reward_id)
    if reward is None or reward.program_id != program_id:
        raise NotFound("reward", reward_id)
    return reward


async def list_rewards(*, uow: UnitOfWork, program_id: UUID, page: PageRequest) -> Page[Reward]:
    async with uow:
        await load_program(uow, program_id)
        rows = await uow.loyalty.list_rewards(program_id, page)
    return page_from(rows, page)


async def update_reward(*, uow: UnitOfWork, clock: Clock, program_id: UUID, reward_id: UUID,
                        changes: Mapping[str, Any], expected_version: int | None) -> Reward:
    async with uow:
        reward = await uow.loyalty.get_reward(reward_id)
        if reward is None or reward.program_id != program_id:
            raise NotFound("reward", reward_id)
        if expected_version is not None and expected_version != reward.version:
            raise PreconditionFailed(f"reward {reward_id} is at version {reward.version}")
        updated = replace(reward, terms=replace(reward.terms, **changes).validate(),
                          updated_at=clock.now(), version=reward.version + 1)
        if not await uow.loyalty.update_reward(updated, expected_version=reward.version):
            raise PreconditionFailed(f"reward {reward_id} changed meanwhile; read it again")
        await uow.commit()
    return updated


async def redeem_points(*, uow: UnitOfWork, clock: Clock, member_id: UUID, points: int | None,
                        reward_id: UUID | None, hold: timedelta | None, actor: str) -> Redemption:
    """Spend points, on a reward or on anything (`points` alone, e.g. a discount at checkout).
    `hold` set: a reservation that lapses unless confirmed within it. Short: 409 insufficient_points
    with the points available. The member row lock makes concurrent redemptions queue."""
    if hold is not None and not timedelta(seconds=10) <= hold <= MAX_HOLD:
        raise InvalidInput("a reservation holds between 10 seconds and 24 hours", field="hold_seconds")
    now = clock.now()
    async with uow:
        member = await locked_member(uow, member_id)
        program = await load_program(uow, member.program_id)
        require_active(program)
        if reward_id is not None:
            reward = await uow.loyalty.get_reward(reward_id)
            if reward is None or reward.program_id != program.id:
                raise NotFound("reward", reward_id)
            reward.terms.check_redeemable(now)
            if points is not None and points != reward.terms.points_cost:
                raise InvalidInput(f"this reward costs {reward.terms.points_cost} points", field="points")
            points = reward.terms.points_cost
            limit = reward.terms.per_customer_limit
            if limit is not None and await uow.loyalty.redemptions_count(member.id, reward.id) >= limit:
                raise Conflict(f"this member has redeemed this reward {limit} time(s), its limit",
                               extra={"code": "reward_limit_reached", "limit": limit})
            if not await uow.loyalty.take_stock(reward.id, 1):
                raise Conflict("this reward is out of stock", extra={"code": "reward_out_of_stock"})
        if points is None:
            raise InvalidInput("give points, a reward_id, or both", field="points")
        if not 1 <= points <= MAX_POINTS:
            raise InvalidInput(f"points must be between 1 and {MAX_POINTS}", field="points")
        wallet = await load_wallet(uow, member)
        debits = wallet.spend(points, now)
        redemption_id = new_id()
        entry = LedgerEntry(
            id=new_id(), member_id=member.id, kind=EntryKind.REDEEM, points=-points,
            reason="reward redeemed" if reward_id else "points redeemed", occurred_at=now,
            idempotency_key=f"redemption:{redemption_id}", source_type="redemption",
            source_id=str(redemption_id), actor=actor, debits=debits,
            detail={"reward_id": str(reward_id)} if reward_id else {})
        redemption = Redemption(
            id=redemption_id, member_id=member.id, reward_id=reward_id, points=points,
            status=RedemptionStatus.RESERVED if hold else RedemptionStatus.CONFIRMED, entry_id=entry.id,
            reserved_until=now + hold if hold else None, created_at=now, updated_at=now)
        await uow.loyalty.write([entry], [], remaining_after(wallet, debits))
        await uow.loyalty.add_redemption(redemption)
        _announce(uow, program, member, redemption)
        await uow.commit()
    return redemption


def _announce(uow: UnitOfWork, program: Program, member: Member, redemption: Redemption) -> None:
    uow.publish(PointsRedeemed(member_id=member.id, program_id=program.id, customer_id=member.customer_id,
                               redemption_id=redemption.id, points=redemption.points,
                               reward_id=redemption.reward_id, status=redemption.status.value))


async def get_redemption(*, uow: UnitOfWork, redemption_id: UUID) -> Redemption:
    async with uow:
        found = await uow.loyalty.get_redemption(redemption_id)
    if found is None:
        raise NotFound("redemption", redemption_id)
    return found


async def list_redemptions(*, uow: UnitOfWork, member_id: UUID, page: PageRequest) -> Page[Redemption]:
    async with uow:
        if await uow.loyalty.get_member(member_id) is None:
            raise NotFound("member", member_id)
        rows = await uow.loyalty.list_redemptions(member_id, page)
    return page_from(rows, page)


async def confirm_redemption(*, uow: UnitOfWork, clock: Clock, redemption_id: UUID) -> Redemption:
    """Idempotent: confirming a confirmed redemption returns it. A lapsed reservation is 409."""
    now = clock.now()
    async with uow:
        found = await uow.loyalty.get_redemption(redemption_id, lock=True)
        if found is None:
            raise NotFound("redemption", redemption_id)
        if found.status is RedemptionStatus.CONFIRMED:
            return found
        if not found.open_reservation(now):
            state = _state(found)
            raise Conflict(f"this redemption is {state}; its points were (or will be) returned",
                           extra={"code": "reservation_expired" if state == "expired"
                                  else "redemption_not_reserved", "redemption_status": state})
        confirmed = replace(found, status=RedemptionStatus.CONFIRMED, updated_at=now)
        await uow.loyalty.save_redemption(confirmed)
        await uow.commit()
    return confirmed


def _state(redemption: Redemption) -> str:
    """A reservation past its hold is expired even before the timeout job releases it."""
    if redemption.status is RedemptionStatus.RESERVED:
        return "expired"
    return redemption.status.value


async def cancel_redemption(*, uow: UnitOfWork, clock: Clock, redemption_id: UUID) -> Redemption:
    """Give a reservation's points back. Idempotent on a cancelled one; a confirmed redemption is
    final (409: correct it with an adjustment)."""
    async with uow:
        found = await uow.loyalty.get_redemption(redemption_id)
        if found is None:
            raise NotFound("redemption", redemption_id)
        if found.status is RedemptionStatus.CANCELLED:
            return found
        if found.status is not RedemptionStatus.RESERVED:
            raise Conflict(f"a {found.status.value} redemption cannot be cancelled",
                           extra={"code": "redemption_not_reserved", "redemption_status": found.status.value})
        released = await _release(uow, clock, found, RedemptionStatus.CANCELLED)
        await uow.commit()
    return released


async def _release(uow: UnitOfWork, clock: Clock, found: Redemption, status: RedemptionStatus) -> Redemption:
    now = clock.now()
    member = await locked_member(uow, found.member_id)
    current = await uow.loyalty.get_redemption(found.id, lock=True)  # re-read under the member lock
    if current is None or current.status is not RedemptionStatus.RESERVED:
        return current or found
    taken = await uow.loyalty.entry(current.entry_id)
    assert taken is not None
    wallet = Wallet(member_id=member.id, lots=await uow.loyalty.lock_lots([d.lot_id for d in taken.debits]),
                    debt=member.debt)
    back = wallet.restore(taken.debits)
    entry = LedgerEntry(
        id=new_id(), member_id=member.id, kind=EntryKind.REVERSE, points=current.points,
        reason=f"reservation {status.value}", occurred_at=now,
        idempotency_key=f"redemption:{current.id}:release", source_type="redemption",
        source_id=str(current.id), debits=back)
    await uow.loyalty.write([entry], [], remaining_after(wallet, back))
    if current.reward_id is not None:
        await uow.loyalty.return_stock(current.reward_id, 1)
    released = replace(current, status=status, updated_at=now, release_entry_id=entry.id)
    await uow.loyalty.save_redemption(released)
    return released


async def release_lapsed_reservations(*, uow: UnitOfWork, clock: Clock, batch: int = 500) -> int:
    """The reservation timeout job: every reservation past its hold gets its points back."""
    released = 0
    while True:
        async with uow:
            lapsed = await uow.loyalty.lapsed_reservations(clock.now(), batch)
            for redemption in lapsed:
                await _release(uow, clock, redemption, RedemptionStatus.EXPIRED)
            await uow.commit()
        released += len(lapsed)
        if len(lapsed) < batch:
            return released

