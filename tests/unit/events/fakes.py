"""In-memory twins of the events ports (kept beside the tests until tests/fakes.py grows them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any
from uuid import UUID

from domain.customers.model import Customer, CustomerStatus
from domain.events.keyset import KeysetPage
from domain.events.model import Event, NewEvent
from domain.events.ports import CustomerState, EventFilter
from domain.events.timeline import TimelineEntry, TimelineFilter, TimelineKind
from domain.shared.events import DomainEvent


class FakeEventRepository:
    def __init__(self) -> None:
        self.events: dict[UUID, Event] = {}
        self.customers: dict[UUID, Customer] = {}
        self.identities: dict[tuple[str, str], UUID] = {}
        self.merges: dict[UUID, UUID] = {}  # source -> target
        # identities "another transaction" claims just before this one tries (race simulation)
        self.claimed_elsewhere: dict[tuple[str, str], UUID] = {}
        self.calls: list[str] = []

    async def existing_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        self.calls.append("existing_event_ids")
        stored = {e.event_id for e in self.events.values()}
        return {i for i in event_ids if i in stored}

    async def customer_states(self, customer_ids: Sequence[UUID]) -> dict[UUID, CustomerState]:
        self.calls.append("customer_states")
        return {i: CustomerState(id=i, status=c.status, merged_into=c.merged_into)
                for i in customer_ids if (c := self.customers.get(i)) is not None}

    async def identity_owners(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], UUID]:
        self.calls.append("identity_owners")
        return {p: self.identities[p] for p in pairs if p in self.identities}

    async def add_customers(self, customers: Sequence[tuple[Customer, tuple[str, str]]],
                            now: datetime) -> dict[tuple[str, str], UUID]:
        self.calls.append("add_customers")
        self.identities.update(self.claimed_elsewhere)
        owners = {}
        for customer, pair in customers:
            if pair not in self.identities:
                self.identities[pair] = customer.id
                self.customers[customer.id] = customer
            owners[pair] = self.identities[pair]
        return owners

    async def add(self, batch: Sequence[NewEvent]) -> set[UUID]:
        self.calls.append("add")
        skipped = set()
        taken = {e.event_id for e in self.events.values() if e.event_id}
        for event in (new.as_event() for new in batch):
            if event.event_id is not None and event.event_id in taken:
                skipped.add(event.id)
                continue
            self.events[event.id] = event
            if event.event_id:
                taken.add(event.event_id)
        return skipped

    async def get(self, event_id: UUID) -> Event | None:
        return self.events.get(event_id)

    async def get_by_event_id(self, event_id: str) -> Event | None:
        return next((e for e in self.events.values() if e.event_id == event_id), None)

    async def search(self, filters: EventFilter, customer_ids: Sequence[UUID] | None,
                     page: KeysetPage) -> list[Event]:
        rows = [e for e in self.events.values()
                if (customer_ids is None or e.customer_id in customer_ids)
                and (filters.type is None or e.type == filters.type)
                and (page.before is None or (e.occurred_at, e.id) < page.before)]
        return sorted(rows, key=lambda e: (e.occurred_at, e.id), reverse=True)[: page.limit + 1]

    async def merged_sources(self, customer_id: UUID) -> list[UUID]:
        found, frontier = [], [customer_id]
        while frontier:
            current = frontier.pop()
            sources = [s for s, t in self.merges.items() if t == current]
            found += sources
            frontier += sources
        return found

    async def timeline(self, customer_ids: Sequence[UUID], filters: TimelineFilter,
                       page: KeysetPage) -> list[TimelineEntry]:
        rows = [TimelineEntry(kind=TimelineKind.EVENT, id=e.id, occurred_at=e.occurred_at,
                              customer_id=e.customer_id, data={"type": e.type})
                for e in self.events.values() if e.customer_id in customer_ids]
        rows = [r for r in rows if r.kind in filters.kinds
                and (page.before is None or (r.occurred_at, r.id) < page.before)]
        return sorted(rows, key=lambda r: (r.occurred_at, r.id), reverse=True)[: page.limit + 1]

    def merge(self, source: UUID, target: UUID) -> None:
        self.customers[source] = replace(self.customers[source], status=CustomerStatus.MERGED,
                                         merged_into=target)
        self.merges[source] = target


class FakeCustomerLookup:
    """The part of CustomerRepository that get_customer needs, over the same customers."""

    def __init__(self, events: FakeEventRepository) -> None:
        self._events = events

    async def get(self, customer_id: UUID) -> Customer | None:
        return self._events.customers.get(customer_id)


class FakeEventsUnitOfWork:
    """Holds its writes in memory; `committed` counts commits and `published` what would be
    delivered after them (rolled-back blocks publish nothing)."""

    def __init__(self) -> None:
        self.events = FakeEventRepository()
        self.customers: Any = FakeCustomerLookup(self.events)
        self.committed = 0
        self.published: list[DomainEvent] = []
        self._pending: list[DomainEvent] = []
        self._depth = 0

    def publish(self, event: DomainEvent) -> None:
        self._pending.append(event)

    async def __aenter__(self) -> FakeEventsUnitOfWork:
        self._depth += 1
        return self

    async def commit(self) -> None:
        if self._depth == 1:
            self.committed += 1
            self.published += self._pending
            self._pending = []

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._pending = []
