"""Events through HTTP with two tenants: single and batch ingest, per-item errors, duplicates,
customers created from identities, scopes, listing, and the EventIngested announcement."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import text

from tests.conftest import bearer, get_token


def _id() -> str:
    return secrets.token_hex(6)


def _event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "product_viewed", "customer": {"external_id": "shop-" + _id()},
                            "occurred_at": "2026-11-01T10:00:00+09:00", "properties": {"sku": "TEA-001"}}
    body.update(overrides)
    return body


async def _rows(engine, tenant, where: str = "true", **params) -> list[Any]:
    async with engine.connect() as conn:
        result = await conn.execute(text(f'SELECT * FROM "t_{tenant.slug}".events WHERE {where}'
                                         " ORDER BY occurred_at, id"), params)
        return list(result)


async def _count(engine, tenant, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f'SELECT count(*) FROM "t_{tenant.slug}".{table}'))).scalar_one())


async def _batch(api, tenant, events, **kwargs):
    r = await api.post("/v1/events/batch", json={"events": events}, headers=tenant.auth, **kwargs)
    assert r.status_code == 200, r.text
    return r.json()


async def test_single_event_creates_the_customer_an_unknown_identity_names(api, tenant_a, engine):
    email = f"new-{_id()}@Example.JP"
    r = await api.post("/v1/events", headers=tenant_a.auth, json=_event(
        customer={"email": email}, event_id="web-" + _id(),
        touchpoint={"channel": "web", "stage": "pre_purchase", "campaign_id": "autumn"}))
    assert r.status_code == 201, r.text
    event = r.json()
    assert r.headers["location"] == f"/v1/events/{event['id']}"
    assert event["occurred_at"] == "2026-11-01T01:00:00Z"  # stored and returned in UTC
    assert event["touchpoint"] == {"channel": "web", "stage": "pre_purchase", "campaign_id": "autumn"}
    customer = (await api.get(f"/v1/customers/{event['customer_id']}", headers=tenant_a.auth)).json()
    assert customer["email"] == email.lower()
    # the same person again (other spelling of the same address): the same customer, no new one
    again = await api.post("/v1/events", headers=tenant_a.auth, json=_event(customer={"email": email.upper()}))
    assert again.status_code == 201 and again.json()["customer_id"] == event["customer_id"]
    assert (await api.get(f"/v1/events/{event['id']}", headers=tenant_a.auth)).json() == event
    rows = await _rows(engine, tenant_a, "customer_id = :c", c=event["customer_id"])
    assert [r.touchpoint_stage for r in rows] == ["pre_purchase", None]


async def test_resent_event_id_is_accepted_once(api, tenant_a, engine):
    body = _event(event_id="dup-" + _id())
    first = await api.post("/v1/events", json=body, headers=tenant_a.auth)
    second = await api.post("/v1/events", json={**body, "properties": {"sku": "OTHER"}}, headers=tenant_a.auth)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()  # the event stored the first time
    assert len(await _rows(engine, tenant_a, "event_id = :e", e=body["event_id"])) == 1


async def test_batch_stores_valid_items_and_reports_the_others_by_index(api, tenant_a, engine):
    run = _id()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    events = [
        _event(event_id=f"{run}-0"),                                                         # 0 ok
        _event(type="teleported"),                                                           # 1 type
        _event(properties={"sku": 42}),                                                      # 2 property type
        _event(type="cart_updated", properties={"items": [{"sku": "A", "quantity": -1, "price": "100"}]}),  # 3
        _event(occurred_at=future),                                                          # 4 future
        _event(customer={"email": "not-an-email"}),                                          # 5 bad email
        _event(customer={"external_id": "a", "email": "a@example.jp"}),                      # 6 two keys
        _event(occurred_at="2026-11-01T10:00:00"),                                           # 7 no offset
        "not an object",                                                                     # 8 shape
        _event(type="custom:quiz_finished", properties={"answers": {"q1": [1, 2]}}, event_id=f"{run}-9"),  # 9 ok
        _event(type="campaign_entered", properties={}),                                      # 10 no campaign
        _event(unknown_field=1),                                                             # 11 typo
        _event(type="cart_updated", properties={"items": [{"sku": "A", "quantity": 2, "price": 980}]},
               event_id=f"{run}-12"),                                                        # 12 ok
    ]
    report = await _batch(api, tenant_a, events)
    assert (report["accepted"], report["rejected"], report["duplicates"]) == (3, 10, 0)
    by_index = {e["index"]: e for e in report["errors"]}
    assert sorted(by_index) == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11]
    fields = {i: {f["field"] for f in e["errors"]} for i, e in by_index.items()}
    assert fields[1] == {"type"}
    assert fields[2] == {"properties.sku"}
    assert fields[3] == {"properties.items.0.quantity", "properties.items.0.price"}
    assert fields[4] == {"occurred_at"} and "future" in by_index[4]["detail"]
    assert fields[5] == {"customer.email"}
    assert fields[6] == {"customer"}
    assert fields[7] == {"occurred_at"}
    assert fields[10] == {"touchpoint.campaign_id"}
    assert fields[11] == {"unknown_field"}
    assert all(e["code"] == "invalid_input" for e in report["errors"])
    stored = await _rows(engine, tenant_a, "event_id LIKE :p", p=f"{run}-%")
    assert sorted(r.event_id for r in stored) == [f"{run}-0", f"{run}-12", f"{run}-9"]
    cart = next(r for r in stored if r.event_id == f"{run}-12")
    assert cart.properties == {"items": [{"sku": "A", "quantity": 2, "price": 980}]}


async def test_duplicates_within_a_batch_and_across_requests(api, tenant_a, engine):
    run = _id()
    customer = {"external_id": "dup-" + run}
    events = [_event(customer=customer, event_id=f"{run}-{i % 3}") for i in range(5)]  # 0 1 2 0 1
    first = await _batch(api, tenant_a, events)
    assert (first["accepted"], first["rejected"], first["duplicates"]) == (5, 0, 2)
    assert first["duplicate_indexes"] == [3, 4]
    resent = await _batch(api, tenant_a, [*events, _event(customer=customer, event_id=f"{run}-new")])
    assert (resent["accepted"], resent["duplicates"]) == (6, 5)
    assert resent["duplicate_indexes"] == [0, 1, 2, 3, 4]
    assert len(await _rows(engine, tenant_a, "event_id LIKE :p", p=f"{run}-%")) == 4
    owners = (await api.get("/v1/customers", params={"external_id": customer["external_id"]},
                            headers=tenant_a.auth)).json()["data"]
    assert len(owners) == 1  # one customer for the identity, however often it was named


async def test_more_than_1000_items_refuse_the_whole_request(api, tenant_a, engine):
    before = await _count(engine, tenant_a, "events")
    too_many = await api.post("/v1/events/batch", json={"events": [{}] * 1001}, headers=tenant_a.auth)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "events"
    empty = await api.post("/v1/events/batch", json={"events": []}, headers=tenant_a.auth)
    assert empty.status_code == 422
    assert await _count(engine, tenant_a, "events") == before


async def test_hundreds_of_events_in_one_batch(api, tenant_a, engine):
    run = _id()
    customers = [{"external_id": f"bulk-{run}-{i}"} for i in range(40)]
    events = [{"type": "page_viewed", "customer": customers[i % 40], "occurred_at": "2026-11-02T00:00:00Z",
               "properties": {"url": f"/p/{i}"}, "event_id": f"{run}-{i}"} for i in range(250)]
    report = await _batch(api, tenant_a, events)
    assert (report["accepted"], report["rejected"]) == (250, 0)
    rows = await _rows(engine, tenant_a, "event_id LIKE :p", p=f"{run}-%")
    assert len(rows) == 250 and len({r.customer_id for r in rows}) == 40


async def test_single_event_errors_are_problems(api, tenant_a, engine):
    before = await _count(engine, tenant_a, "events")
    unknown = await api.post("/v1/events", json=_event(type="page_teleported"), headers=tenant_a.auth)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "type"
    wrong = await api.post("/v1/events", json=_event(type="survey_answered",
                                                     properties={"survey_id": "nps", "score": 11}),
                           headers=tenant_a.auth)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "properties.score"
    missing = await api.post("/v1/events", json=_event(type="favorite_added", properties={}),
                             headers=tenant_a.auth)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "properties.sku"
    nul = await api.post("/v1/events", json=_event(type="custom:x", properties={"a": "b\u0000c"}),
                         headers=tenant_a.auth)
    assert nul.status_code == 422 and nul.json()["errors"][0]["field"] == "properties.a"
    big = await api.post("/v1/events", json=_event(type="custom:x", properties={"blob": "x" * 20_000}),
                         headers=tenant_a.auth)
    assert big.status_code == 422 and big.json()["errors"][0]["field"] == "properties"
    bad_id = await api.post("/v1/events", json=_event(event_id=" padded "), headers=tenant_a.auth)
    assert bad_id.status_code == 422
    no_type = await api.post("/v1/events", json={"customer": {"external_id": "x"}}, headers=tenant_a.auth)
    assert no_type.status_code == 422
    assert {e["field"] for e in no_type.json()["errors"]} == {"type", "occurred_at"}
    assert await _count(engine, tenant_a, "events") == before


async def test_occurred_at_may_be_a_little_ahead_but_not_in_the_future(api, tenant_a):
    skew = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    assert (await api.post("/v1/events", json=_event(occurred_at=skew), headers=tenant_a.auth)).status_code == 201
    future = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    r = await api.post("/v1/events", json=_event(occurred_at=future), headers=tenant_a.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "occurred_at"
    ancient = await api.post("/v1/events", json=_event(occurred_at="1970-01-01T00:00:00Z"), headers=tenant_a.auth)
    assert ancient.status_code == 422


async def test_customer_ids_of_other_tenants_are_not_found(api, tenant_a, tenant_b, engine):
    mine = (await api.post("/v1/customers", json={"email": f"{_id()}@example.jp"}, headers=tenant_a.auth)).json()
    event = (await api.post("/v1/events", json=_event(customer={"id": mine["id"]}), headers=tenant_a.auth)).json()
    assert event["customer_id"] == mine["id"]
    before_b = await _count(engine, tenant_b, "events")
    single = await api.post("/v1/events", json=_event(customer={"id": mine["id"]}), headers=tenant_b.auth)
    assert single.status_code == 404
    report = await _batch(api, tenant_b, [_event(customer={"id": mine["id"]}), _event()])
    assert (report["accepted"], report["rejected"]) == (1, 1)
    assert report["errors"][0] == {"index": 0, "code": "not_found", "detail": f"customer {mine['id']} was not found",
                                   "errors": [{"field": "customer.id",
                                               "message": f"customer {mine['id']} was not found"}]}
    assert await _count(engine, tenant_b, "events") == before_b + 1
    assert (await api.get(f"/v1/events/{event['id']}", headers=tenant_b.auth)).status_code == 404
    listed = await api.get("/v1/events", params={"customer_id": mine["id"]}, headers=tenant_b.auth)
    assert listed.status_code == 200 and listed.json()["data"] == []


async def test_a_merged_customer_id_records_on_the_target(api, tenant_a):
    target = (await api.post("/v1/customers", json={"external_id": "t-" + _id()}, headers=tenant_a.auth)).json()
    source = (await api.post("/v1/customers", json={"external_id": "s-" + _id()}, headers=tenant_a.auth)).json()
    merged = await api.post(f"/v1/customers/{target['id']}/merge", json={"source_customer_id": source["id"]},
                            headers=tenant_a.auth)
    assert merged.status_code == 200
    by_id = await api.post("/v1/events", json=_event(customer={"id": source["id"]}), headers=tenant_a.auth)
    by_identity = await api.post("/v1/events", json=_event(customer={"external_id": source["external_id"]}),
                                 headers=tenant_a.auth)
    assert by_id.json()["customer_id"] == target["id"] == by_identity.json()["customer_id"]
    listed = await api.get("/v1/events", params={"customer_id": source["id"]}, headers=tenant_a.auth)
    assert {e["id"] for e in listed.json()["data"]} == {by_id.json()["id"], by_identity.json()["id"]}


async def test_scopes(api, tenant_a):
    read_only = bearer(await get_token(api, tenant_a.client_id, tenant_a.client_secret, "events:read"))
    write_only = bearer(await get_token(api, tenant_a.client_id, tenant_a.client_secret, "events:write"))
    assert (await api.post("/v1/events", json=_event(), headers=read_only)).status_code == 403
    assert (await api.post("/v1/events/batch", json={"events": [_event()]}, headers=read_only)).status_code == 403
    assert (await api.get("/v1/events", headers=write_only)).status_code == 403
    assert (await api.post("/v1/events", json=_event(), headers=write_only)).status_code == 201
    assert (await api.get("/v1/events", headers=read_only)).status_code == 200
    assert (await api.post("/v1/events", json=_event())).status_code == 401


async def test_list_newest_first_with_filters_and_cursor(api, tenant_a, tenant_b):
    customer = {"external_id": "list-" + _id()}
    times = ["2026-10-01T00:00:00Z", "2026-10-03T00:00:00Z", "2026-10-02T00:00:00Z", "2026-10-03T00:00:00Z"]
    types = ["page_viewed", "favorite_added", "favorite_added", "favorite_added"]
    props = [{"url": "/"}, {"sku": "A"}, {"sku": "B"}, {"sku": "C"}]
    await _batch(api, tenant_a, [_event(customer=customer, occurred_at=t, type=ty, properties=p)
                                 for t, ty, p in zip(times, types, props, strict=True)])
    cid = (await api.get("/v1/customers", params=customer, headers=tenant_a.auth)).json()["data"][0]["id"]
    seen, cursor = [], None
    while True:
        params = {"customer_id": cid, "limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/v1/events", params=params, headers=tenant_a.auth)).json()
        seen += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["occurred_at"][:10] for e in seen] == ["2026-10-03", "2026-10-03", "2026-10-02", "2026-10-01"]
    assert seen[0]["id"] > seen[1]["id"]  # ties broken by id, newest first
    favs = await api.get("/v1/events", params={"customer_id": cid, "type": "favorite_added",
                                               "occurred_after": "2026-10-01T00:00:00Z",
                                               "occurred_before": "2026-10-03T00:00:00Z"}, headers=tenant_a.auth)
    assert [e["properties"]["sku"] for e in favs.json()["data"]] == ["B"]
    bad_cursor = await api.get("/v1/events", params={"cursor": "bm9wZQ"}, headers=tenant_a.auth)
    assert bad_cursor.status_code == 422 and bad_cursor.json()["errors"][0]["field"] == "cursor"
    reversed_period = await api.get("/v1/events", params={"occurred_after": "2026-10-03T00:00:00Z",
                                                          "occurred_before": "2026-10-01T00:00:00Z"},
                                    headers=tenant_a.auth)
    assert reversed_period.status_code == 422
    other = await api.get("/v1/events", params={"customer_id": cid}, headers=tenant_b.auth)
    assert other.json() == {"data": [], "next_cursor": None}


async def test_one_event_ingested_announcement_per_batch(api, app, tenant_a):
    seen: list[tuple[Any, Any]] = []

    def handler(tenant_id, event):
        seen.append((tenant_id, event))

    app.state.bus.subscribe("event.ingested", handler)
    try:
        run = _id()
        events = [_event(customer={"external_id": f"ann-{run}-{i % 2}"}, event_id=f"{run}-{i}",
                         type="page_viewed" if i % 2 else "product_viewed",
                         properties={"url": "/"} if i % 2 else {"sku": "A"}) for i in range(6)]
        await _batch(api, tenant_a, events)
        await _batch(api, tenant_a, events)  # all duplicates: nothing new, nothing announced
    finally:
        app.state.bus.subscribers["event.ingested"].remove(handler)
    assert len(seen) == 1
    tenant_id, announced = seen[0]
    assert str(tenant_id) == tenant_a.id
    assert announced.count == 6 and announced.types == ("page_viewed", "product_viewed")
    assert len(announced.customer_ids) == 2
    assert announced.payload()["customer_ids"] == [str(c) for c in announced.customer_ids]


async def test_idempotency_key_replays_the_batch_report(api, tenant_a, engine):
    body = {"events": [_event(), _event(type="nope")]}
    key = {"Idempotency-Key": "batch-" + _id()}
    first = await api.post("/v1/events/batch", json=body, headers=tenant_a.auth | key)
    again = await api.post("/v1/events/batch", json=body, headers=tenant_a.auth | key)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    assert len(await _rows(engine, tenant_a, "customer_id IN (SELECT customer_id FROM"
                           f' "t_{tenant_a.slug}".customer_identities WHERE value = :v)',
                           v=body["events"][0]["customer"]["external_id"])) == 1


async def test_concurrent_batches_naming_the_same_new_people_create_each_once(api, tenant_a, engine):
    run = _id()
    people = [{"external_id": f"race-{run}-{i}"} for i in range(20)]

    def batch(offset: int) -> list[dict[str, Any]]:
        return [_event(customer=people[(i + offset) % 20]) for i in range(20)]

    reports = await asyncio.gather(*(
        api.post("/v1/events/batch", json={"events": batch(k * 7)}, headers=tenant_a.auth) for k in range(4)))
    assert [r.status_code for r in reports] == [200] * 4, [r.text for r in reports]
    assert all(r.json()["accepted"] == 20 for r in reports)
    async with engine.connect() as conn:
        owners = (await conn.execute(text(
            f'SELECT count(DISTINCT customer_id), count(*) FROM "t_{tenant_a.slug}".customer_identities'
            " WHERE value LIKE :p"), {"p": f"race-{run}-%"})).one()
        orphans = (await conn.execute(text(
            f'SELECT count(*) FROM "t_{tenant_a.slug}".customers c WHERE c.external_id LIKE :p AND NOT EXISTS'
            f' (SELECT 1 FROM "t_{tenant_a.slug}".customer_identities i WHERE i.customer_id = c.id)'),
            {"p": f"race-{run}-%"})).scalar_one()
    assert tuple(owners) == (20, 20) and orphans == 0
    assert len(await _rows(engine, tenant_a, "customer_id IN (SELECT customer_id FROM"
                           f' "t_{tenant_a.slug}".customer_identities WHERE value LIKE :p)',
                           p=f"race-{run}-%")) == 80


async def test_a_duplicate_that_slips_past_the_check_is_skipped_not_an_error(engine, tenant_a):
    """Two requests carrying the same new event_id at the same moment: both pass the check against
    stored events, the second COPY hits the unique index, and its rows take the staging path."""
    from domain.customers.model import CustomerRef
    from domain.events.model import NO_TOUCHPOINT, EventDraft, NewEvent
    from domain.shared.ids import new_id
    from infra.db.repositories.events import SqlEventRepository

    now = datetime.now(UTC)
    draft = EventDraft("custom:race", CustomerRef(id=new_id()), now, {"n": 1}, NO_TOUCHPOINT, "race-" + _id())
    first = NewEvent(new_id(), new_id(), draft, now)

    def replace(new: NewEvent, id: UUID, **fields: Any) -> NewEvent:
        return new._replace(id=id, draft=new.draft._replace(**fields))

    async with engine.connect() as conn:
        conn = await conn.execution_options(schema_translate_map={None: f"t_{tenant_a.slug}"})
        await conn.begin()
        repo = SqlEventRepository(conn)
        assert await repo.add([first]) == set()  # straight into events, nothing skipped
        again, fresh = replace(first, id=new_id()), replace(first, id=new_id(), event_id=None)
        assert await repo.add([again, fresh]) == {again.id}  # the unique index refused: staging
        third, once_more = replace(first, id=new_id(), event_id="race-" + _id()), replace(first, id=new_id())
        assert await repo.add([once_more, third]) == {once_more.id}  # twice in one transaction
        await conn.commit()
    rows = await _rows(engine, tenant_a, "event_id = :e OR id = :f", e=first.draft.event_id, f=fresh.id)
    assert sorted(str(r.id) for r in rows) == sorted([str(first.id), str(fresh.id)])


async def test_idempotency_key_on_one_event_replays_its_response_and_stores_it_once(api, tenant_a, tenant_b, engine):
    body = _event(event_id="idem-" + _id())
    key = {"Idempotency-Key": "one-" + _id()}
    first = await api.post("/v1/events", json=body, headers=tenant_a.auth | key)
    again = await api.post("/v1/events", json=body, headers=tenant_a.auth | key)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert first.headers["location"] == f"/v1/events/{first.json()['id']}"
    assert len(await _rows(engine, tenant_a, "event_id = :e", e=body["event_id"])) == 1
    # without an event_id only the key keeps a retried request from storing the event twice
    bare, bare_key = _event(), {"Idempotency-Key": "bare-" + _id()}
    ids = {(await api.post("/v1/events", json=bare, headers=tenant_a.auth | bare_key)).json()["id"]
           for _ in range(3)}
    assert len(ids) == 1
    assert len(await _rows(engine, tenant_a, "id = :i", i=ids.pop())) == 1
    # the same key with another body is refused, and stores nothing
    other = await api.post("/v1/events", json={**body, "event_id": "idem-" + _id()}, headers=tenant_a.auth | key)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert other.headers["content-type"] == "application/problem+json"
    # keys belong to their tenant: tenant B's same key and body is a request of its own
    before_b = await _count(engine, tenant_b, "events")
    theirs = await api.post("/v1/events", json=body, headers=tenant_b.auth | key)
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    assert await _count(engine, tenant_b, "events") == before_b + 1
    assert (await api.get(f"/v1/events/{first.json()['id']}", headers=tenant_b.auth)).status_code == 404


async def test_idempotency_key_replays_a_duplicate_as_the_duplicate_it_was(api, tenant_a):
    body = _event(event_id="dupkey-" + _id())
    stored = await api.post("/v1/events", json=body, headers=tenant_a.auth)
    key = {"Idempotency-Key": "dup-" + _id()}
    resent = [await api.post("/v1/events", json={**body, "properties": {"sku": "LATER"}},
                             headers=tenant_a.auth | key) for _ in range(2)]
    assert [r.status_code for r in resent] == [200, 200]  # the stored status, not the usual 201
    assert resent[0].json() == resent[1].json() == stored.json()
    assert resent[1].headers["idempotent-replayed"] == "true"
    bad = await api.post("/v1/events", json=body, headers=tenant_a.auth | {"Idempotency-Key": "k" * 256})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "Idempotency-Key"
    invalid = await api.post("/v1/events", json=_event(type="nope"), headers=tenant_a.auth | key)
    assert invalid.status_code == 422  # another body under a used key: refused before it is checked
