"""A marketing cost: money spent on a channel and/or a campaign over a period of tenant-local days."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.shared.errors import FieldProblem, InvalidInput
from domain.shared.text import clean_text

MAX_AMOUNT = 10**15  # minor units, as order amounts: sums over many costs stay far below BIGINT
# The same limits as an event's touchpoint, so every cost can name a channel or campaign events carry.
CHANNEL_MAX_LENGTH = 32
CAMPAIGN_MAX_LENGTH = 128
NOTE_MAX_LENGTH = 500
# A cost is spread over its days (docs/marketing.md); ten years is more than any budget line needs and
# keeps a typo (year 2206) from spreading a cost so thin that no report ever shows it.
MAX_PERIOD_DAYS = 3660


def _amount(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("must be an integer in the currency's minor unit", field="amount")
    if not 0 <= value <= MAX_AMOUNT:
        raise InvalidInput(f"must be between 0 and {MAX_AMOUNT}", field="amount")
    return value


def _day(name: str) -> Callable[[Any], date]:
    def check(value: Any) -> date:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise InvalidInput("must be a date (YYYY-MM-DD)", field=name)
        return value
    return check


_RULES: dict[str, Callable[[Any], Any]] = {
    "channel": lambda v: clean_text(v, field="channel", max_length=CHANNEL_MAX_LENGTH),
    "campaign_id": lambda v: clean_text(v, field="campaign_id", max_length=CAMPAIGN_MAX_LENGTH),
    "period_from": _day("period_from"),
    "period_to": _day("period_to"),
    "amount": _amount,
    "note": lambda v: clean_text(v, field="note", max_length=NOTE_MAX_LENGTH),
}
_NULLABLE = ("channel", "campaign_id", "note")
_REQUIRED = ("period_from", "period_to", "amount")


def normalise_cost(raw: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The keys present in `raw`, checked (PATCH semantics: None clears a nullable field). Every
    problem is reported at once. Rules that need the whole cost (channel or campaign, period order)
    are checked by `MarketingCost.checked`."""
    problems: list[FieldProblem] = []
    values: dict[str, Any] = {}
    if creating:
        problems.extend(FieldProblem(k, "is required") for k in _REQUIRED if raw.get(k) is None)
    for key, value in raw.items():
        if key not in _RULES:
            continue
        if value is None:
            if key not in _NULLABLE and not (creating and key in _REQUIRED):
                problems.append(FieldProblem(key, "must not be null"))
            elif key in _NULLABLE:
                values[key] = None
            continue
        try:
            values[key] = _RULES[key](value)
        except InvalidInput as exc:
            problems.extend(exc.problems or [FieldProblem(key, exc.detail)])
    if problems:
        raise InvalidInput("the marketing cost has invalid fields", problems=problems)
    return values


@dataclass(frozen=True)
class MarketingCost:
    """`period_from` and `period_to` are tenant-local days, both included."""

    id: UUID
    period_from: date
    period_to: date
    amount: int
    currency: str
    created_at: datetime
    updated_at: datetime
    channel: str | None = None
    campaign_id: str | None = None
    note: str | None = None
    version: int = 1

    @property
    def days(self) -> int:
        return (self.period_to - self.period_from).days + 1

    def checked(self) -> MarketingCost:
        problems: list[FieldProblem] = []
        if self.channel is None and self.campaign_id is None:
            problems.append(FieldProblem("channel", "a cost names a channel, a campaign_id or both"))
        if self.period_to < self.period_from:
            problems.append(FieldProblem("period_to", "must not be before period_from"))
        elif self.days > MAX_PERIOD_DAYS:
            problems.append(FieldProblem("period_to", f"a period spans at most {MAX_PERIOD_DAYS} days"))
        if problems:
            raise InvalidInput("the marketing cost has invalid fields", problems=problems)
        return self

    @classmethod
    def create(cls, *, id: UUID, values: dict[str, Any], currency: str, now: datetime) -> MarketingCost:
        """`values` come from normalise_cost(..., creating=True)."""
        return cls(id=id, currency=currency, created_at=now, updated_at=now, **values).checked()

    def changed(self, values: dict[str, Any], now: datetime) -> MarketingCost:
        """Apply normalised PATCH values; a PATCH that changes nothing keeps the version."""
        if all(getattr(self, k) == v for k, v in values.items()):
            return self
        return replace(self, **values, updated_at=now, version=self.version + 1).checked()
