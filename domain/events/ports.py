"""What the events use cases need from storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.customers.model import Customer, CustomerStatus
from domain.events.keyset import KeysetPage
from domain.events.model import Event, NewEvent
from domain.events.timeline import TimelineEntry, TimelineFilter


@dataclass(frozen=True)
class EventFilter:
    customer_id: UUID | None = None
    type: str | None = None
    occurred_after: datetime | None = None  # exclusive
    occurred_before: datetime | None = None  # exclusive


@dataclass(frozen=True)
class CustomerState:
    """Just enough of a customer to resolve a reference to it."""

    id: UUID
    status: CustomerStatus
    merged_into: UUID | None


class EventRepository(Protocol):
    """Storage of events, plus the bulk customer look-ups a batch of events needs (one query per
    batch, never one per event)."""

    async def existing_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        """Which of these caller event ids are stored already."""
        ...

    async def customer_states(self, customer_ids: Sequence[UUID]) -> dict[UUID, CustomerState]: ...

    async def identity_owners(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], UUID]:
        """The customer holding each (identity type, value) that has one."""
        ...

    async def add_customers(self, customers: Sequence[tuple[Customer, tuple[str, str]]],
                            now: datetime) -> dict[tuple[str, str], UUID]:
        """Create customers, each holding the one identity given with it. Race-free: identities are
        claimed with ON CONFLICT DO NOTHING; a customer whose identity another transaction claimed
        first is not created. Returns the owner of every identity, created here or not."""
        ...

    async def add(self, events: Sequence[NewEvent]) -> set[UUID]:
        """Store events in bulk (COPY). An event whose `event_id` is already stored is skipped
        without error; returns the ids of the events skipped (usually none)."""
        ...

    async def get(self, event_id: UUID) -> Event | None: ...

    async def get_by_event_id(self, event_id: str) -> Event | None:
        """By the caller's own `event_id`."""
        ...

    async def search(self, filters: EventFilter, customer_ids: Sequence[UUID] | None,
                     page: KeysetPage) -> list[Event]:
        """Newest first; `limit + 1` rows so the caller knows whether a next page exists."""
        ...

    async def merged_sources(self, customer_id: UUID) -> list[UUID]:
        """Every customer merged into this one, directly or through a chain of merges."""
        ...

    async def timeline(self, customer_ids: Sequence[UUID], filters: TimelineFilter,
                       page: KeysetPage) -> list[TimelineEntry]:
        """Orders, events, consent decisions and merges of these customers, newest first by
        (occurred_at, id); `limit + 1` rows."""
        ...
