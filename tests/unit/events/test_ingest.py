"""Ingesting events with fakes: per-item results, duplicates, customers resolved in bulk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import RFC_4122, UUID

import pytest

from domain.customers.events import CustomerCreated
from domain.customers.model import Customer, CustomerRef, CustomerStatus
from domain.events.events import EventIngested
from domain.events.keyset import KeysetPage
from domain.events.ports import EventFilter
from domain.events.services import (
    MAX_BATCH,
    customer_timeline,
    ingest_events,
    list_events,
    record_event,
    resolve_customers,
)
from domain.events.timeline import TimelineFilter
from domain.shared.errors import InvalidInput, NotFound
from domain.shared.ids import new_id, new_ids
from tests.fakes import FixedClock
from tests.unit.events.fakes import FakeEventsUnitOfWork

CLOCK = FixedClock("2026-11-22T12:00:00+00:00")


def item(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "favorite_added", "customer": {"external_id": "c1"},
                            "occurred_at": CLOCK.now() - timedelta(days=1), "event_id": None,
                            "properties": {"sku": "A"}, "touchpoint": None}
    body.update(overrides)
    return body


def a_customer(uow: FakeEventsUnitOfWork, **fields: Any) -> Customer:
    now = CLOCK.now()
    customer = Customer(id=new_id(), created_at=now, updated_at=now, **fields)
    uow.events.customers[customer.id] = customer
    for pair in customer.identities():
        uow.events.identities[pair] = customer.id
    return customer


async def test_valid_items_are_stored_and_the_others_reported_by_index():
    uow = FakeEventsUnitOfWork()
    report = await ingest_events(uow=uow, clock=CLOCK, items=[
        item(), item(type="nope"), "not an object", item(properties={})])
    assert (report.accepted, report.rejected) == (1, 3)
    assert [e.index for e in report.errors] == [1, 2, 3]
    assert len(uow.events.events) == 1 and uow.committed == 1


async def test_batches_are_bounded():
    with pytest.raises(InvalidInput) as exc:
        await ingest_events(uow=FakeEventsUnitOfWork(), clock=CLOCK, items=[item()] * (MAX_BATCH + 1))
    assert exc.value.problems[0].field == "events"


async def test_event_ids_are_stored_once_in_a_batch_and_across_batches():
    uow = FakeEventsUnitOfWork()
    first = await ingest_events(uow=uow, clock=CLOCK, items=[item(event_id="a"), item(event_id="b"),
                                                             item(event_id="a"), item()])
    assert (first.accepted, len(first.stored), first.duplicates) == (4, 3, [2])
    again = await ingest_events(uow=uow, clock=CLOCK, items=[item(event_id="b"), item(event_id="c")])
    assert (len(again.stored), again.duplicates) == (1, [0])
    assert sorted(str(e.event_id) for e in uow.events.events.values()) == ["None", "a", "b", "c"]


async def test_a_resent_event_creates_no_customer():
    uow = FakeEventsUnitOfWork()
    await ingest_events(uow=uow, clock=CLOCK, items=[item(event_id="x", customer={"email": "a@example.jp"})])
    uow.events.identities.clear()  # as if the customer had been erased since
    report = await ingest_events(uow=uow, clock=CLOCK, items=[item(event_id="x", customer={"email": "a@example.jp"})])
    assert report.duplicates == [0] and report.customers_created == 0 and report.errors == []
    assert "add_customers" not in uow.events.calls[-2:]


async def test_known_customers_need_no_look_up_by_event_id_and_resent_events_stay_duplicates():
    uow = FakeEventsUnitOfWork()
    a_customer(uow, external_id="c1")
    first = await ingest_events(uow=uow, clock=CLOCK, items=[item(event_id="a"), item(event_id="b")])
    assert len(first.stored) == 2 and "existing_event_ids" not in uow.events.calls
    again = await ingest_events(uow=uow, clock=CLOCK, items=[item(event_id="b"), item(event_id="c"),
                                                             item(event_id="c"), item(event_id="a")])
    # the writer's unique event_id judged the re-sent ones: duplicates, in index order
    assert again.duplicates == [0, 2, 3] and [e.event_id for e in again.stored] == ["c"]
    assert "existing_event_ids" not in uow.events.calls and again.customers_created == 0
    assert sorted(str(e.event_id) for e in uow.events.events.values()) == ["a", "b", "c"]
    # one event looks its event_id up first: a probe, where a refused write would cost staging
    event, stored = await record_event(uow=uow, clock=CLOCK, item=item(event_id="a"))
    assert not stored and event.event_id == "a"
    assert uow.events.calls[-2:] == ["identity_owners", "existing_event_ids"]


async def test_a_resent_event_whose_customer_id_is_gone_is_still_a_duplicate():
    uow = FakeEventsUnitOfWork()
    customer = a_customer(uow)
    await ingest_events(uow=uow, clock=CLOCK, items=[item(event_id="x", customer={"id": str(customer.id)})])
    uow.events.customers[customer.id] = customer.bump(CLOCK.now(), status=CustomerStatus.ERASED)
    report = await ingest_events(uow=uow, clock=CLOCK, items=[
        item(event_id="x", customer={"id": str(customer.id)}), item(customer={"id": str(customer.id)})])
    assert report.duplicates == [0] and [(e.index, type(e.error)) for e in report.errors] == [(1, NotFound)]


def test_batch_ids_are_time_ordered_version_7_uuids_like_new_id():
    before = new_id()
    ids = new_ids(1000)
    after = new_id()
    assert [before, *ids, after] == sorted({before, *ids, after})  # strictly increasing
    for made in ids:
        assert made.version == 7 and made.variant == RFC_4122
        assert made == UUID(str(made)) and hash(made) == hash(UUID(str(made)))
        assert before.int >> 80 <= made.int >> 80 <= after.int >> 80  # the same millisecond clock


async def test_unknown_identities_create_one_customer_each_in_bulk():
    uow = FakeEventsUnitOfWork()
    known = a_customer(uow, email="known@example.jp")
    items = [item(customer={"email": "NEW@example.jp"}), item(customer={"email": "new@example.jp"}),
             item(customer={"line_user_id": "U123"}), item(customer={"email": "known@example.jp"})]
    report = await ingest_events(uow=uow, clock=CLOCK, items=items)
    assert report.customers_created == 2 and report.rejected == 0
    by_customer = [e.customer_id for e in report.stored]
    assert by_customer[0] == by_customer[1] != by_customer[2] and by_customer[3] == known.id
    created = uow.events.customers[by_customer[0]]
    assert created.email == "new@example.jp" and created.status is CustomerStatus.ACTIVE
    assert uow.events.calls.count("identity_owners") == 1 and uow.events.calls.count("add_customers") == 1
    assert sum(isinstance(e, CustomerCreated) for e in uow.published) == 2


async def test_an_identity_claimed_concurrently_is_used_not_duplicated():
    uow = FakeEventsUnitOfWork()
    winner = UUID(int=7)
    uow.events.claimed_elsewhere[("external_id", "c1")] = winner
    ref = CustomerRef.parse({"external_id": "c1"})
    resolved, created = await resolve_customers(uow=uow, clock=CLOCK, refs=[ref, ref])
    assert resolved == {ref: winner} and created == 0
    assert uow.published == [] and list(uow.events.customers) == []


async def test_ids_follow_merges_and_unknown_or_erased_ids_are_not_found():
    uow = FakeEventsUnitOfWork()
    target, source = a_customer(uow), a_customer(uow)
    uow.events.merge(source.id, target.id)
    erased = a_customer(uow)
    uow.events.customers[erased.id] = erased.bump(CLOCK.now(), status=CustomerStatus.ERASED)
    report = await ingest_events(uow=uow, clock=CLOCK, items=[
        item(customer={"id": str(source.id)}), item(customer={"id": str(new_id())}),
        item(customer={"id": str(erased.id)})])
    assert report.stored[0].customer_id == target.id
    assert [(e.index, type(e.error)) for e in report.errors] == [(1, NotFound), (2, NotFound)]


async def test_one_announcement_per_batch_and_none_when_nothing_is_new():
    uow = FakeEventsUnitOfWork()
    await ingest_events(uow=uow, clock=CLOCK, items=[item(event_id=str(i)) for i in range(10)])
    await ingest_events(uow=uow, clock=CLOCK, items=[item(event_id=str(i)) for i in range(10)])
    announced = [e for e in uow.published if isinstance(e, EventIngested)]
    assert len(announced) == 1 and announced[0].count == 10 and announced[0].types == ("favorite_added",)
    assert announced[0].received_at == CLOCK.now()
    assert announced[0].payload()["received_at"] == "2026-11-22T12:00:00+00:00"


async def test_record_event_returns_the_original_of_a_duplicate_and_raises_for_errors():
    uow = FakeEventsUnitOfWork()
    event, stored = await record_event(uow=uow, clock=CLOCK, item=item(event_id="e"))
    again, stored_again = await record_event(uow=uow, clock=CLOCK, item=item(event_id="e", properties={"sku": "B"}))
    assert (stored, stored_again) == (True, False) and again == event
    with pytest.raises(InvalidInput):
        await record_event(uow=uow, clock=CLOCK, item=item(type="nope"))
    with pytest.raises(NotFound):
        await record_event(uow=uow, clock=CLOCK, item=item(customer={"id": str(new_id())}))


async def test_lists_and_timelines_page_newest_first_and_follow_merges():
    uow = FakeEventsUnitOfWork()
    target, source = a_customer(uow, external_id="t"), a_customer(uow, external_id="s")
    day = datetime(2026, 11, 1, tzinfo=UTC)
    await ingest_events(uow=uow, clock=CLOCK, items=[
        item(customer={"external_id": "s"}, occurred_at=day + timedelta(days=i)) for i in range(5)])
    uow.events.merge(source.id, target.id)  # rows stay with the source: the timeline still finds them
    page = await list_events(uow=uow, filters=EventFilter(customer_id=source.id), page=KeysetPage(limit=2))
    assert [e.occurred_at.day for e in page.items] == [5, 4] and page.next_before is not None
    rest = await list_events(uow=uow, filters=EventFilter(customer_id=source.id),
                             page=KeysetPage(limit=10, before=page.next_before))
    assert [e.occurred_at.day for e in rest.items] == [3, 2, 1] and rest.next_before is None
    resolved, timeline = await customer_timeline(uow=uow, customer_id=source.id, filters=TimelineFilter(),
                                                 page=KeysetPage(limit=10))
    assert resolved == target.id and len(timeline.items) == 5
    nobody = await list_events(uow=uow, filters=EventFilter(customer_id=new_id()), page=KeysetPage())
    assert nobody.items == []
    with pytest.raises(NotFound):
        await customer_timeline(uow=uow, customer_id=new_id(), filters=TimelineFilter(), page=KeysetPage())
    with pytest.raises(InvalidInput):
        await customer_timeline(uow=uow, customer_id=target.id, page=KeysetPage(),
                                filters=TimelineFilter(start=day, end=day))


async def test_a_copy_of_a_rejected_event_is_not_reported_as_a_stored_duplicate():
    uow = FakeEventsUnitOfWork()
    report = await ingest_events(uow=uow, clock=CLOCK, items=[
        item(event_id="x", customer={"id": str(new_id())}), item(event_id="x"), item(event_id="x")])
    assert [e.index for e in report.errors] == [0]
    assert len(report.stored) == 1 and report.stored[0].event_id == "x" and report.duplicates == [2]
