"""Personal data rights through HTTP: export everything, erase what identifies the person."""

from __future__ import annotations

import io
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

import pytest
from sqlalchemy import text

from domain.auth.model import TenantRef
from domain.imports.columns import resolve_header
from domain.imports.model import ImportInterrupted, ImportKind, ImportStopped
from domain.imports.services import RunOptions, Tenancy, get_import, run_import, start_stored_import
from domain.shared.clock import SystemClock
from infra.imports.queue import IMPORTS_QUEUE
from infra.imports.source import CsvSource
from infra.jobs import job_app
from infra.settings import Settings


async def _customer(api, tenant, **fields):
    r = await api.post("/v1/customers", json=fields, headers=tenant.auth)
    assert r.status_code == 201, r.text
    return r.json()


async def _order_and_event(engine, tenant, customer_id):
    schema = f"t_{tenant.slug}"
    order_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(text(
            f'INSERT INTO "{schema}".orders (id, order_number, customer_id, ordered_at, currency, subtotal,'
            " discount_total, shipping_total, total, cost_total, channel, status, created_at, updated_at)"
            " VALUES (:id, :n, :c, :t, 'JPY', 5000, 0, 500, 5500, 3000, 'ec', 'placed', :t, :t)"),
            {"id": order_id, "n": f"N-{order_id.hex[:8]}", "c": customer_id, "t": now})
        await conn.execute(text(
            f'INSERT INTO "{schema}".order_lines (order_id, line_no, sku, quantity, unit_price, unit_cost)'
            " VALUES (:id, 1, 'SKU-1', 1, 5000, 3000)"), {"id": order_id})
        await conn.execute(text(
            f'INSERT INTO "{schema}".events (id, type, customer_id, occurred_at, received_at, properties)'
            " VALUES (:id, 'product_viewed', :c, :t, :t, CAST(:p AS jsonb))"),
            {"id": uuid.uuid4(), "c": customer_id, "t": now, "p": '{"sku": "SKU-1", "note": "山田 花子"}'})
    return order_id


async def test_export_contains_profile_identities_consents_orders_events_and_merged_history(api, engine, tenant_a, tenant_b):
    target = await _customer(api, tenant_a, email="export@example.jp", family_name="山田")
    source = await _customer(api, tenant_a, phone="090-2345-6789")
    await api.put(f"/v1/customers/{source['id']}/consents/email", json={"status": "granted"}, headers=tenant_a.auth)
    order_id = await _order_and_event(engine, tenant_a, source["id"])
    merged = await api.post(f"/v1/customers/{target['id']}/merge", json={"source_customer_id": source["id"]},
                            headers=tenant_a.auth)
    assert merged.status_code == 200
    r = await api.get(f"/v1/customers/{target['id']}/export", headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["format"] == "kizuna.customer_export.v1"
    assert doc["customer"]["family_name"] == "山田" and doc["merged_customer_ids"] == [source["id"]]
    assert {(i["type"], i["value"]) for i in doc["identities"]} == {("email", "export@example.jp"),
                                                                  ("phone", "+819023456789")}
    assert [c["channel"] for c in doc["consents"]] == ["email"]
    assert len(doc["consent_history"]) >= 2  # the original decision and the one the merge carried over
    assert [o["id"] for o in doc["orders"]] == [str(order_id)] and doc["orders"][0]["lines"][0]["sku"] == "SKU-1"
    assert doc["events"][0]["properties"]["note"] == "山田 花子"
    assert (await api.get(f"/v1/customers/{target['id']}/export", headers=tenant_b.auth)).status_code == 404


async def test_erasure_removes_personal_data_keeps_orders_and_cannot_be_reidentified(api, engine, tenant_a, tenant_b):
    c = await _customer(api, tenant_a, email="erase.me@example.jp", phone="080-1111-2222", family_name="消去",
                        attributes={"note": "likes cats"}, tags=["vip"])
    await api.put(f"/v1/customers/{c['id']}/consents/line", json={"status": "granted"}, headers=tenant_a.auth)
    await _order_and_event(engine, tenant_a, c["id"])
    assert (await api.post(f"/v1/customers/{c['id']}/erasure", json={}, headers=tenant_b.auth)).status_code == 404
    r = await api.post(f"/v1/customers/{c['id']}/erasure", json={"reason": "本人からの削除依頼"}, headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    assert r.json()["removed"]["identities"] == 2
    for url in (f"/v1/customers/{c['id']}", f"/v1/customers/{c['id']}/export",
                f"/v1/customers/{c['id']}/consents"):
        assert (await api.get(url, headers=tenant_a.auth)).status_code == 404, url
    again = await api.post(f"/v1/customers/{c['id']}/erasure", json={}, headers=tenant_a.auth)
    assert again.status_code == 404
    into_erased = await _customer(api, tenant_a)
    merge = await api.post(f"/v1/customers/{c['id']}/merge", json={"source_customer_id": into_erased["id"]},
                           headers=tenant_a.auth)
    assert merge.status_code == 409
    # the same email now names nobody: a new customer can take it
    fresh = await _customer(api, tenant_a, email="erase.me@example.jp")
    assert fresh["id"] != c["id"]
    found = (await api.get("/v1/customers", params={"q": "消去"}, headers=tenant_a.auth)).json()["data"]
    assert found == []
    schema = f"t_{tenant_a.slug}"
    async with engine.connect() as conn:
        row = (await conn.execute(text(f'SELECT * FROM "{schema}".customers WHERE id = :i'), {"i": c["id"]})).one()
        assert (row.email, row.phone, row.family_name, row.attributes, row.tags, row.status) == (
            None, None, None, {}, [], "erased")
        orders = (await conn.execute(text(f'SELECT total FROM "{schema}".orders WHERE customer_id = :i'),
                                     {"i": c["id"]})).scalars().all()
        assert orders == [5500]  # revenue figures stay right
        props = (await conn.execute(text(f'SELECT properties FROM "{schema}".events WHERE customer_id = :i'),
                                    {"i": c["id"]})).scalars().all()
        assert props == [{}]
        consents = (await conn.execute(text(
            f'SELECT count(*) FROM "{schema}".consent_events WHERE customer_id = :i'), {"i": c["id"]})).scalar()
        assert consents == 0
        record = (await conn.execute(text(f'SELECT reason FROM "{schema}".erasures WHERE customer_id = :i'),
                                     {"i": c["id"]})).scalar()
        assert record == "本人からの削除依頼"


# -- erasure and imports -------------------------------------------------------------------------

PERSON = {"email": "Import.Erase@Example.jp", "phone": "090-3333-4444", "family_name": "削除",
          "given_name": "花子", "kana": "サクジョ"}
# the person's data in every form it may be stored or quoted in (raw, normalised, E.164)
TRACES = ("import.erase@example.jp", "Import.Erase", "090-3333-4444", "09033334444", "+819033334444",
          "削除", "花子", "サクジョ")


def _rows(*external_ids: str) -> bytes:
    """A customers file naming the person once per external id: the first row creates them, the
    others are rejected because the email already belongs to that customer (the reason used to
    quote the address)."""
    lines = ["external_id,email,phone,family_name,given_name,family_name_kana"]
    lines += [f"{x},{PERSON['email']},{PERSON['phone']},{PERSON['family_name']},{PERSON['given_name']},"
              f"{PERSON['kana']}" for x in external_ids]
    return ("\n".join(lines) + "\n").encode()


async def _upload(api, tenant, body: bytes):
    r = await api.post("/v1/imports", params={"kind": "customers"}, content=body,
                       headers={**tenant.auth, "Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    return r.json()["id"]


async def _work(database_url: str) -> None:
    """Run every queued import job (of both tenants), as `kizuna worker` would."""
    async with job_app(Settings(), database_url) as jobs:
        await jobs.run_worker_async(queues=[IMPORTS_QUEUE], wait=False, install_signal_handlers=False)


async def _stored(engine, tenant, import_id: str):
    async with engine.connect() as conn:
        return (await conn.execute(text(
            f'SELECT status, content, errors::text AS errors FROM "t_{tenant.slug}".imports WHERE id = :i'),
            {"i": import_id})).one()


def _leaks(text_: str) -> list[str]:
    return [t for t in TRACES if t.casefold() in text_.casefold()]


async def test_rejected_rows_kept_by_an_import_quote_no_personal_data(api, tenant_a, tenant_b, database_url):
    done_id = await _upload(api, tenant_a, _rows("E1", "E2", "E3"))
    await _work(database_url)
    done = await api.get(f"/v1/imports/{done_id}", headers=tenant_a.auth)
    body = done.json()
    assert (body["status"], body["accepted_rows"], body["rejected_rows"]) == ("succeeded", 1, 2), body
    # the reason still says which field and why, on which line
    assert [(e["line"], e["errors"][0]["field"]) for e in body["errors"]] == [(3, "email"), (4, "email")]
    assert all("already belongs to" in e["detail"] for e in body["errors"])
    assert _leaks(done.text) == []
    assert (await api.get(f"/v1/imports/{done_id}", headers=tenant_b.auth)).status_code == 404


async def test_erasure_stops_unfinished_imports_and_deletes_their_files(api, engine, tenant_a, tenant_b,
                                                                        database_url):
    person = await _customer(api, tenant_a, email=PERSON["email"], phone=PERSON["phone"],
                             family_name=PERSON["family_name"])
    queued = await _upload(api, tenant_a, _rows("Q1"))  # would re-create the person after the erasure
    other_tenant = await _upload(api, tenant_b, _rows("B1"))
    assert (await _stored(engine, tenant_a, queued)).content is not None

    r = await api.post(f"/v1/customers/{person['id']}/erasure", json={}, headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    stopped = await _stored(engine, tenant_a, queued)
    assert stopped.status == "failed" and stopped.content is None and _leaks(stopped.errors) == []
    shown = await api.get(f"/v1/imports/{queued}", headers=tenant_a.auth)
    assert "erased" in shown.json()["errors"][-1]["detail"] and _leaks(shown.text) == []
    # another tenant's import is not touched by this tenant's erasure
    untouched = await _stored(engine, tenant_b, other_tenant)
    assert untouched.status == "queued" and untouched.content is not None

    await _work(database_url)  # the queued job runs and finds nothing to import
    assert (await _stored(engine, tenant_a, queued)).status == "failed"
    found = (await api.get("/v1/customers", params={"email": PERSON["email"]}, headers=tenant_a.auth)).json()
    assert found["data"] == []  # the file did not bring the person back
    assert (await _stored(engine, tenant_b, other_tenant)).status == "succeeded"


async def test_an_import_running_when_the_erasure_lands_stops_at_its_next_chunk(app, api, engine, tenant_a,
                                                                                 tenant_b):
    person = await _customer(api, tenant_a, email=PERSON["email"], family_name=PERSON["family_name"])
    body = _rows("R2").replace(b"\n", b"\nR1,other@example.jp,,\xe4\xbb\x96\xe4\xba\xba,,\n", 1)  # 他人 first
    import_id = UUID(await _upload(api, tenant_a, body))
    tenant = TenantRef(id=UUID(tenant_a.id), slug=tenant_a.slug, schema=f"t_{tenant_a.slug}",
                       timezone="Asia/Tokyo", currency="JPY")
    factory, clock = app.state.wiring.uow_factory, SystemClock()
    job, content = await start_stored_import(uow=factory(tenant), clock=clock, import_id=import_id)

    async def run(job, **options):
        """The worker's loop over the rows after those the import committed, file in memory."""
        source = CsvSource(io.BytesIO(content), "utf-8")
        source.skip(job.processed_rows)
        return await run_import(uow=factory(tenant), clock=clock, job=job, records=source.records(),
                                columns=resolve_header(ImportKind.CUSTOMERS, source.header),
                                tenancy=Tenancy(timezone="Asia/Tokyo", currency="JPY"),
                                options=RunOptions(chunk_rows=1, **options))

    with pytest.raises(ImportInterrupted):  # the first row (another person) is committed
        await run(job, stop_after_chunks=1)
    erased = await api.post(f"/v1/customers/{person['id']}/erasure", json={}, headers=tenant_a.auth)
    assert erased.status_code == 200 and erased.json()["removed"]["unfinished_imports"] == 1
    progress = await get_import(uow=factory(tenant), import_id=import_id)
    assert progress.processed_rows == 1
    with pytest.raises(ImportStopped):  # the run still holds the file; the import row stops it
        await run(replace(progress, status=job.status))
    found = (await api.get("/v1/customers", params={"email": PERSON["email"]}, headers=tenant_a.auth)).json()
    assert found["data"] == []
    assert (await _stored(engine, tenant_a, str(import_id))).status == "failed"
    assert (await api.get(f"/v1/imports/{import_id}", headers=tenant_b.auth)).status_code == 404


async def test_responses_kept_for_idempotent_replays_forget_an_erased_customer(api, tenant_a, tenant_b):
    """A POST with Idempotency-Key stores its response (24 h) for replays: after the erasure, a
    replay answers 410 without the person's data and does not create them again; other customers'
    stored responses, and the other tenant's, replay as before."""
    body = {"email": "replay@example.jp", "family_name": "再送", "given_name": "花子"}
    key = {"Idempotency-Key": "create-replay-1"}
    first = await api.post("/v1/customers", json=body, headers=tenant_a.auth | key)
    assert first.status_code == 201, first.text
    other = await api.post("/v1/customers", json={"email": "stays@example.jp"},
                           headers=tenant_a.auth | {"Idempotency-Key": "create-stays"})
    in_b = await api.post("/v1/customers", json=body, headers=tenant_b.auth | key)
    assert other.status_code == 201 and in_b.status_code == 201
    assert (await api.post("/v1/customers", json=body, headers=tenant_a.auth | key)).json() == first.json()

    erased = await api.post(f"/v1/customers/{first.json()['id']}/erasure", json={}, headers=tenant_a.auth)
    assert erased.status_code == 200, erased.text
    assert erased.json()["removed"]["idempotent_responses"] == 1

    replay = await api.post("/v1/customers", json=body, headers=tenant_a.auth | key)
    assert replay.status_code == 410
    assert replay.headers["content-type"] == "application/problem+json"
    assert "replay@example.jp" not in replay.text and "再送" not in replay.text
    assert replay.json()["code"] == "gone"
    found = await api.get("/v1/customers", params={"email": "replay@example.jp"}, headers=tenant_a.auth)
    assert found.status_code == 200 and found.json()["data"] == []  # not created again
    kept = await api.post("/v1/customers", json={"email": "stays@example.jp"},
                          headers=tenant_a.auth | {"Idempotency-Key": "create-stays"})
    assert (kept.status_code, kept.json()) == (201, other.json())
    in_b_again = await api.post("/v1/customers", json=body, headers=tenant_b.auth | key)
    assert (in_b_again.status_code, in_b_again.json()) == (201, in_b.json())
