"""Events use cases: ingesting one event or a batch, reading them back, a customer's timeline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any
from uuid import UUID

from domain.customers.events import CustomerCreated
from domain.customers.model import Customer, CustomerRef, CustomerStatus
from domain.customers.services import MAX_MERGE_HOPS, get_customer
from domain.events.events import EventIngested
from domain.events.keyset import KeysetPage, KeysetResult, keyset_page_from
from domain.events.model import Event, EventDraft, NewEvent, TypedBatch, parse_batch
from domain.events.ports import EventFilter
from domain.events.timeline import TimelineEntry, TimelineFilter
from domain.shared.batch import MAX_BATCH, ItemError
from domain.shared.clock import Clock
from domain.shared.errors import InvalidInput, NotFound
from domain.shared.ids import new_id, new_ids
from domain.shared.ports import UnitOfWork


@dataclass
class IngestReport:
    """What became of a batch. Every item is either rejected (in `errors`) or accepted; an
    accepted item is either stored now (`written`) or a duplicate of an event stored earlier, in
    this batch or before (`duplicates`, by index), which is not stored again."""

    received: int
    written: list[NewEvent] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    customers_created: int = 0

    @property
    def stored(self) -> list[Event]:
        """The events stored now (built on demand: a batch's response needs only counts)."""
        return [new.as_event() for new in self.written]

    @property
    def accepted(self) -> int:
        return self.received - len(self.errors)

    @property
    def rejected(self) -> int:
        return len(self.errors)


async def _follow_ids(uow: UnitOfWork, ids: Iterable[UUID]) -> dict[UUID, UUID | None]:
    """Each id to the customer it names now (merges followed), or None (unknown or erased).
    One query per level of merge chain, not per id."""
    resolved: dict[UUID, UUID | None] = {}
    pending = {i: i for i in ids}
    for _ in range(MAX_MERGE_HOPS + 1):
        if not pending:
            break
        states = await uow.events.customer_states(sorted(set(pending.values())))
        following: dict[UUID, UUID] = {}
        for original, current in pending.items():
            state = states.get(current)
            if state is None or state.status is CustomerStatus.ERASED:
                resolved[original] = None
            elif state.status is CustomerStatus.MERGED and state.merged_into is not None:
                following[original] = state.merged_into
            else:
                resolved[original] = current
        pending = following
    resolved.update(dict.fromkeys(pending))  # pragma: no cover - merges never form long chains
    return resolved


Key = UUID | tuple[str, str]  # how a batch looks a reference up: its id, or (identity type, value)


def _key(ref: CustomerRef) -> Key:
    """A reference's look-up key. Plain tuples of strings hash in C, where the frozen dataclass
    hashes through Python: a batch hashes a thousand references several times."""
    if ref.id is not None:
        return ref.id
    assert ref.identity_type is not None and ref.identity_value is not None
    return (ref.identity_type, ref.identity_value)


@dataclass
class _Resolution:
    """What a batch's references name: `owners` maps each key to its customer, or to None for an
    id that names no customer (unknown or erased); `missing` are identities nobody holds yet."""

    owners: dict[Key, UUID | None]
    missing: list[tuple[str, str]]


async def _look_up(uow: UnitOfWork, keys: Iterable[Key]) -> _Resolution:
    """One query for the ids (plus one per level of merge chain), one for the identities."""
    ids: list[UUID] = []
    pairs: list[tuple[str, str]] = []
    for key in set(keys):
        if isinstance(key, tuple):
            pairs.append(key)
        else:
            ids.append(key)
    owners: dict[Key, UUID | None] = {}
    if ids:
        owners.update((await _follow_ids(uow, ids)).items())
    if pairs:
        pairs.sort()
        found = await uow.events.identity_owners(pairs)
        owners.update(found.items())
        return _Resolution(owners, [pair for pair in pairs if pair not in found])
    return _Resolution(owners, [])


async def _create_customers(uow: UnitOfWork, clock: Clock, missing: Sequence[tuple[str, str]],
                            owners: dict[Key, UUID | None]) -> int:
    """Create a customer for each identity nobody holds (the documented rule), recording the
    owners in `owners`; returns how many this transaction created (an identity created
    concurrently by another transaction is used, not duplicated)."""
    now = clock.now()
    new = []
    for kind, value in missing:
        profile: dict[str, Any] = {kind: value}  # the identity is also its profile field
        new.append((Customer(id=new_id(), created_at=now, updated_at=now, **profile), (kind, value)))
    claimed = await uow.events.add_customers(new, now)
    owners.update(claimed.items())
    created = 0
    for customer, pair in new:
        if claimed.get(pair) == customer.id:
            created += 1
            uow.publish(CustomerCreated(customer_id=customer.id))
    return created


async def resolve_customers(*, uow: UnitOfWork, clock: Clock,
                            refs: Iterable[CustomerRef]) -> tuple[dict[CustomerRef, UUID | None], int]:
    """Resolve many references at once, inside the caller's unit of work, by the documented rule
    of `domain.customers.services.resolve_customer`: an id must name an existing customer (merged
    ids follow their merge; unknown or erased: None); an unknown identity creates a customer
    holding just that identity. Returns the customer of each reference and how many were created.

    A batch costs one query for its ids, one for its identities and, when some are new, one bulk
    insert; an identity created concurrently by another transaction is used, not duplicated."""
    wanted = set(refs)
    found = await _look_up(uow, (_key(r) for r in wanted))
    created = await _create_customers(uow, clock, found.missing, found.owners) if found.missing else 0
    return {r: found.owners.get(_key(r)) for r in wanted}, created


def _not_found(ref: CustomerRef) -> NotFound:
    return NotFound("customer", ref.id if ref.id is not None else f"{ref.identity_type}={ref.identity_value}")


async def _ingest(uow: UnitOfWork, clock: Clock, items: Sequence[Any] | TypedBatch, *,
                  stored_first: bool = False) -> IngestReport:
    """The body of ingest_events, run inside the caller's open unit of work (no commit).
    `stored_first` always looks event ids up before writing (one probe for one event, where a
    refused COPY would cost a staging table)."""
    now = clock.now()
    report = IngestReport(received=len(items))
    drafts, invalid = parse_batch(items, now=now)
    report.errors.extend(ItemError(index, exc) for index, exc in invalid)

    keys = [_key(d.customer) for _, d in drafts]
    found = await _look_up(uow, keys)
    owners, missing = found.owners, found.missing
    if stored_first or missing or None in owners.values():
        # Something would be created or refused: events stored before are set aside first, so a
        # re-sent event creates no customer and is a duplicate even if its customer is gone now.
        # Otherwise no look-up by event_id is made: the unique index judges re-sent events
        # when they are written (SqlEventRepository.add), which costs a query less per batch.
        drafts, keys = await _set_aside_stored(uow, drafts, keys, report)
        if missing:
            named = set(keys)
            missing = [pair for pair in missing if pair in named]
    if missing:
        report.customers_created = await _create_customers(uow, clock, missing, owners)

    events: list[NewEvent] = []
    indexes: list[int] = []
    seen: set[str] = set()
    owner_of = owners.get
    for (index, draft), key, event_id in zip(drafts, keys, new_ids(len(drafts)), strict=True):
        customer_id = owner_of(key)
        if customer_id is None:
            report.errors.append(ItemError(index, _not_found(draft.customer)))
            continue
        if draft.event_id is not None:
            if draft.event_id in seen:  # re-sent within the batch: the first valid one wins
                report.duplicates.append(index)
                continue
            seen.add(draft.event_id)
        events.append(NewEvent(event_id, customer_id, draft, now))
        indexes.append(index)

    if events:
        skipped = await uow.events.add(events)
        if not skipped:  # the usual case: every row written
            report.written = events
        else:  # stored before, by an earlier request or a concurrent one
            for index, new in zip(indexes, events, strict=True):
                if new.id in skipped:
                    report.duplicates.append(index)
                else:
                    report.written.append(new)
    report.errors.sort(key=_by_index)
    report.duplicates.sort()
    if report.written:
        uow.publish(EventIngested(
            count=len(report.written), received_at=now,
            types=tuple(sorted({e.draft.type for e in report.written})),
            # by the number: the same order as sorting the UUIDs, without a Python comparison each
            customer_ids=tuple(sorted({e.customer_id for e in report.written}, key=_as_int))))
    return report


_by_index = attrgetter("index")
_as_int = attrgetter("int")


async def _set_aside_stored(uow: UnitOfWork, drafts: list[tuple[int, EventDraft]], keys: list[Key],
                            report: IngestReport) -> tuple[list[tuple[int, EventDraft]], list[Key]]:
    """Report the drafts whose event_id is stored already as duplicates; the others, with their
    keys."""
    event_ids = {d.event_id for _, d in drafts if d.event_id is not None}
    stored_before = await uow.events.existing_event_ids(sorted(event_ids)) if event_ids else set()
    if not stored_before:
        return drafts, keys
    report.duplicates.extend(i for i, d in drafts if d.event_id in stored_before)
    kept = [(draft, key) for draft, key in zip(drafts, keys, strict=True)
            if draft[1].event_id not in stored_before]
    return [d for d, _ in kept], [k for _, k in kept]


async def ingest_events(*, uow: UnitOfWork, clock: Clock, items: Sequence[Any] | TypedBatch) -> IngestReport:
    """Store a batch of up to MAX_BATCH events, as decoded from JSON (plain objects, or typed
    records with the plain objects on demand: parse_batch); each item is checked alone
    (parse_event) and the valid ones are stored even when others fail. An event whose `event_id`
    was stored before (or earlier in this batch) is accepted and reported as a duplicate, not
    stored twice."""
    if len(items) > MAX_BATCH:
        raise InvalidInput(f"a batch holds at most {MAX_BATCH} events; split it", field="events")
    async with uow:
        report = await _ingest(uow, clock, items)
        await uow.commit()
    return report


async def record_event(*, uow: UnitOfWork, clock: Clock, item: Mapping[str, Any]) -> tuple[Event, bool]:
    """Store one event. Returns (event, stored): a re-sent `event_id` returns the event stored
    the first time and False. Invalid input raises InvalidInput, an unknown customer id NotFound."""
    async with uow:
        report = await _ingest(uow, clock, [item], stored_first=True)
        if report.errors:
            raise report.errors[0].error
        if report.stored:
            await uow.commit()
            return report.stored[0], True
        event_id = item.get("event_id")
        original = await uow.events.get_by_event_id(str(event_id))
        if original is None:  # pragma: no cover - stored and then deleted in between
            raise NotFound("event", event_id)
        await uow.commit()  # the commit keeps a claimed Idempotency-Key with its response
        return original, False


async def get_event(*, uow: UnitOfWork, event_id: UUID) -> Event:
    async with uow:
        event = await uow.events.get(event_id)
    if event is None:
        raise NotFound("event", event_id)
    return event


async def _with_merged(uow: UnitOfWork, customer_id: UUID) -> list[UUID]:
    """The customer an id names now (merges followed) and every customer merged into it."""
    found = await get_customer(uow=uow, customer_id=customer_id)
    target = found.customer.id
    return [target, *await uow.events.merged_sources(target)]


def _check_period(start: datetime | None, end: datetime | None, names: tuple[str, str]) -> None:
    for value, name in zip((start, end), names, strict=True):
        if value is not None and value.tzinfo is None:
            raise InvalidInput("must be a date-time with a UTC offset", field=name)
    if start is not None and end is not None and start >= end:
        raise InvalidInput(f"{names[1]} must be later than {names[0]}", field=names[1])


async def list_events(*, uow: UnitOfWork, filters: EventFilter, page: KeysetPage) -> KeysetResult[Event]:
    """Newest first by occurred_at. A `customer_id` filter follows merges like GET /customers/{id}
    and lists the events of the customer it names now; an unknown customer lists nothing."""
    _check_period(filters.occurred_after, filters.occurred_before, ("occurred_after", "occurred_before"))
    async with uow:
        customer_ids: list[UUID] | None = None
        if filters.customer_id is not None:
            try:
                customer_ids = await _with_merged(uow, filters.customer_id)
            except NotFound:
                return KeysetResult(items=[], next_before=None)
        rows = await uow.events.search(filters, customer_ids, page)
    return keyset_page_from(rows, page, lambda e: (e.occurred_at, e.id))


async def customer_timeline(*, uow: UnitOfWork, customer_id: UUID, filters: TimelineFilter,
                            page: KeysetPage) -> tuple[UUID, KeysetResult[TimelineEntry]]:
    """Orders, events, consent decisions and merges of a customer and of every customer merged
    into it, newest first. A merged id reads its target's timeline; returns (target id, page)."""
    _check_period(filters.start, filters.end, ("from", "to"))
    async with uow:
        ids = await _with_merged(uow, customer_id)
        rows = await uow.events.timeline(ids, filters, page)
    return ids[0], keyset_page_from(rows, page, lambda e: (e.occurred_at, e.id))
