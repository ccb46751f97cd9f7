"""Loading what a loyalty use case acts on, with the checks every caller needs: the program
(404 when unknown), that it is active (409 otherwise), the member locked for a ledger change (404
when unknown or left), its wallet. Shared by the earning (services) and redeeming (redemptions)
use cases."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from domain.loyalty.errors import ProgramNotActive
from domain.loyalty.model import LotDebit, Member, MemberStatus, Program, ProgramStatus, Wallet
from domain.shared.errors import NotFound
from domain.shared.ports import UnitOfWork


def require_active(program: Program) -> None:
    if program.terms.status is not ProgramStatus.ACTIVE:
        raise ProgramNotActive(program.id, program.terms.status.value)


async def load_program(uow: UnitOfWork, program_id: UUID) -> Program:
    program = await uow.loyalty.get_program(program_id)
    if program is None:
        raise NotFound("program", program_id)
    return program


async def locked_member(uow: UnitOfWork, member_id: UUID) -> Member:
    member = await uow.loyalty.lock_member(member_id)
    if member is None or member.status is not MemberStatus.ACTIVE:
        raise NotFound("member", member_id)
    return member


async def load_wallet(uow: UnitOfWork, member: Member) -> Wallet:
    """The member's lots that hold points, locked, and its debt (the member row is locked)."""
    return Wallet(member_id=member.id, lots=await uow.loyalty.open_lots(member.id), debt=member.debt)


def remaining_after(wallet: Wallet, debits: Sequence[LotDebit]) -> dict[UUID, int]:
    """What the lots a debit touched hold now (to write back after the change)."""
    touched = {d.lot_id for d in debits}
    return {lot.id: lot.remaining for lot in wallet.lots if lot.id in touched}
