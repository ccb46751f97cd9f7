"""Loyalty's business errors; api/errors.py maps each to its problem type."""

from __future__ import annotations

from domain.shared.errors import Conflict


class InsufficientPoints(Conflict):
    """A debit larger than the member's spendable points: says how many are available."""

    def __init__(self, *, requested: int, available: int) -> None:
        super().__init__(f"{requested} points requested but only {available} are available",
                         extra={"code": "insufficient_points", "requested": requested,
                                "available": available})
        self.requested = requested
        self.available = available


class ProgramNotActive(Conflict):
    def __init__(self, program_id: object, status: str) -> None:
        super().__init__(f"program {program_id} is {status}: it does not enrol, earn or redeem",
                         extra={"code": "program_not_active", "program_status": status})
