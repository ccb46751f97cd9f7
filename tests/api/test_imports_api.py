"""Async imports over HTTP: upload, a procrastinate worker runs the job, poll for the outcome."""

from __future__ import annotations

from datetime import UTC, datetime

from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import text

from infra.imports.queue import IMPORTS_QUEUE
from infra.job_recovery import RECOVERY_TASK
from infra.jobs import MAINTENANCE_QUEUE, job_app
from infra.settings import Settings
from tests.conftest import bearer, get_token

CUSTOMERS = ("external_id,email,phone,family_name,given_name,family_name_kana,address.postal_code\n"
             "H1,h1@example.jp,090-1234-0001,山田,花子,ﾔﾏﾀﾞ,１００－０００１\n"
             "H2,not-an-email,,鈴木,,,\n"
             "H3,h3@example.jp,,髙橋,,,\n")
CSV = {"Content-Type": "text/csv"}


async def work(database_url: str) -> None:
    async with job_app(Settings(), database_url) as jobs:
        await jobs.run_worker_async(queues=[IMPORTS_QUEUE], wait=False, install_signal_handlers=False)


async def upload(api, tenant, body: bytes, kind: str = "customers", **params: str):
    return await api.post("/v1/imports", params={"kind": kind, **params}, content=body,
                          headers={**tenant.auth, **CSV})


async def test_an_uploaded_cp932_file_is_imported_by_the_worker(api, tenant_a, tenant_b, database_url):
    created = await upload(api, tenant_a, CUSTOMERS.encode("cp932"), filename="顧客.csv")
    assert created.status_code == 202, created.text
    body = created.json()
    assert body["status"] == "queued" and body["encoding"] == "auto" and body["filename"] == "顧客.csv"
    assert created.headers["Location"] == f"/v1/imports/{body['id']}"

    await work(database_url)
    done = (await api.get(f"/v1/imports/{body['id']}", headers=tenant_a.auth)).json()
    assert (done["status"], done["encoding"], done["total_rows"]) == ("succeeded", "cp932", 3)
    assert (done["processed_rows"], done["accepted_rows"], done["rejected_rows"]) == (3, 2, 1)
    (error,) = done["errors"]
    assert error["line"] == 3 and error["errors"][0]["field"] == "email" and not done["errors_truncated"]
    found = (await api.get("/v1/customers", params={"external_id": "H1"}, headers=tenant_a.auth)).json()["data"]
    assert (found[0]["family_name_kana"], found[0]["address"]["postal_code"]) == ("ヤマダ", "100-0001")

    # another tenant learns nothing about it
    assert (await api.get(f"/v1/imports/{body['id']}", headers=tenant_b.auth)).status_code == 404
    assert (await api.get("/v1/imports", headers=tenant_b.auth)).json()["data"] == []
    assert (await api.get("/v1/customers", params={"external_id": "H1"}, headers=tenant_b.auth)).json()["data"] == []


async def test_the_job_is_idempotent_and_the_upload_is_forgotten(api, tenant_a, database_url, engine):
    created = (await upload(api, tenant_a, CUSTOMERS.encode())).json()
    await work(database_url)
    schema = f"t_{tenant_a.slug}"
    async with engine.begin() as conn:  # the job runs again, as a retried job would
        await conn.execute(text(
            "INSERT INTO control.procrastinate_jobs (queue_name, task_name, args) VALUES (:q, 'kizuna.run_import',"
            " CAST(:a AS jsonb))"), {"q": IMPORTS_QUEUE, "a": f'{{"tenant_id": "{tenant_a.id}", '
                                                            f'"import_id": "{created["id"]}"}}'})
    await work(database_url)
    again = (await api.get(f"/v1/imports/{created['id']}", headers=tenant_a.auth)).json()
    assert (again["status"], again["accepted_rows"], again["rejected_rows"]) == ("succeeded", 2, 1)
    async with engine.connect() as conn:
        content = (await conn.execute(text(f'SELECT content FROM "{schema}".imports WHERE id = :id'),
                                      {"id": created["id"]})).scalar()
        customers = (await conn.execute(text(f'SELECT count(*) FROM "{schema}".customers'))).scalar()
    assert content is None and customers == 2


async def test_a_failed_run_resumes_from_its_progress(api, tenant_a, database_url, engine):
    """A run that stopped after some chunks (progress recorded, status failed) continues, as the
    queue's retry does."""
    created = (await upload(api, tenant_a, CUSTOMERS.encode())).json()
    schema = f"t_{tenant_a.slug}"
    async with engine.begin() as conn:  # as if a first run committed row 1 (H1) and then died
        await conn.execute(text(f'UPDATE "{schema}".imports SET status = \'failed\', processed_rows = 1,'
                                " accepted_rows = 1 WHERE id = :id"), {"id": created["id"]})
    await work(database_url)
    done = (await api.get(f"/v1/imports/{created['id']}", headers=tenant_a.auth)).json()
    assert (done["status"], done["processed_rows"], done["accepted_rows"]) == ("succeeded", 3, 2)
    async with engine.connect() as conn:
        ids = (await conn.execute(text(f'SELECT external_id FROM "{schema}".customers'))).scalars().all()
    assert ids == ["H3"]  # H1 was skipped as committed


async def test_an_unreadable_file_fails_the_import_with_its_reason(api, tenant_a, database_url):
    bad_header = (await upload(api, tenant_a, b"external_id,emial\nC1,x\n")).json()
    garbage = (await upload(api, tenant_a, b"external_id\n\x81\x00\xff\n")).json()
    await work(database_url)
    header = (await api.get(f"/v1/imports/{bad_header['id']}", headers=tenant_a.auth)).json()
    assert header["status"] == "failed" and header["errors"][0]["line"] == 1
    assert "unknown column 'emial'" in header["errors"][0]["detail"]
    unreadable = (await api.get(f"/v1/imports/{garbage['id']}", headers=tenant_a.auth)).json()
    assert unreadable["status"] == "failed" and "neither UTF-8 nor cp932" in unreadable["errors"][0]["detail"]


async def test_orders_and_products_over_http(api, tenant_a, database_url):
    products = await upload(api, tenant_a, "sku,name,price\nP-1,抹茶,1500\n".encode(), kind="products")
    orders = await upload(api, tenant_a, (
        b"order_number,customer_email,ordered_at,channel,sku,quantity,unit_price\n"
        b"W-1,web@example.jp,2026/10/01 12:00,ec,P-1,2,1500\n"), kind="orders")
    assert products.status_code == orders.status_code == 202
    await work(database_url)
    for created in (products, orders):
        done = (await api.get(f"/v1/imports/{created.json()['id']}", headers=tenant_a.auth)).json()
        assert (done["status"], done["accepted_rows"]) == ("succeeded", 1), done
    listed = (await api.get("/v1/imports", params={"kind": "orders"}, headers=tenant_a.auth)).json()["data"]
    assert [i["id"] for i in listed] == [orders.json()["id"]]


async def test_scopes_follow_the_kind(api, tenant_a, database_url):
    orders_only = bearer(await get_token(api, tenant_a.client_id, tenant_a.client_secret, "orders:write orders:read"))
    refused = await api.post("/v1/imports", params={"kind": "customers"}, content=b"external_id\nC1\n",
                             headers={**orders_only, **CSV})
    assert refused.status_code == 403 and refused.json()["required_scopes"] == ["customers:write"]
    made = (await upload(api, tenant_a, b"external_id\nS1\n")).json()
    assert (await api.get(f"/v1/imports/{made['id']}", headers=orders_only)).status_code == 403
    assert (await api.get("/v1/imports", params={"kind": "customers"}, headers=orders_only)).status_code == 403
    listed = (await api.get("/v1/imports", headers=orders_only)).json()["data"]
    assert all(i["kind"] == "orders" for i in listed)
    reader = bearer(await get_token(api, tenant_a.client_id, tenant_a.client_secret, "customers:read"))
    assert (await api.get(f"/v1/imports/{made['id']}", headers=reader)).status_code == 200
    assert (await api.post("/v1/imports", params={"kind": "customers"}, content=b"external_id\nC1\n",
                           headers={**reader, **CSV})).status_code == 403
    await work(database_url)


async def test_bad_requests(api, tenant_a, tenant_b):
    as_json = await api.post("/v1/imports", params={"kind": "customers"}, json={"a": 1}, headers=tenant_a.auth)
    assert as_json.status_code == 415
    assert (await upload(api, tenant_a, b"a\n1\n", kind="events")).status_code == 422
    assert (await upload(api, tenant_a, b"a\n1\n", encoding="latin-1")).status_code == 422
    empty = await upload(api, tenant_a, b"")
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "body"
    too_big = await upload(api, tenant_a, b"external_id\n" + b"C1234567\n" * 10_000)
    assert too_big.status_code == 413
    assert (await api.get("/v1/imports/01a20000-0000-7000-8000-000000000000",
                          headers=tenant_b.auth)).status_code == 404
    assert (await api.get("/v1/imports/nope", headers=tenant_b.auth)).status_code == 422


async def test_an_idempotency_key_replays_the_first_upload(api, tenant_a, engine, database_url):
    headers = {**tenant_a.auth, **CSV, "Idempotency-Key": "upload-1"}
    first = await api.post("/v1/imports", params={"kind": "customers"}, content=b"external_id\nK1\n", headers=headers)
    second = await api.post("/v1/imports", params={"kind": "customers"}, content=b"external_id\nK1\n", headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"] and second.headers["Idempotent-Replayed"] == "true"
    async with engine.connect() as conn:
        queued = (await conn.execute(text(
            "SELECT count(*) FROM control.procrastinate_jobs WHERE args->>'import_id' = :id"),
            {"id": first.json()["id"]})).scalar()
    assert queued == 1
    await work(database_url)


async def _die_mid_run(engine, tenant, import_id: str, committed: int) -> None:
    """As if a worker took the job, committed `committed` rows, and was killed: the import stays
    running with its progress; the job stays `doing`, owned by a worker whose heartbeat stopped."""
    async with engine.begin() as conn:
        worker = (await conn.execute(text(
            "INSERT INTO control.procrastinate_workers (last_heartbeat) VALUES (now() - interval '5 minutes')"
            " RETURNING id"))).scalar()
        await conn.execute(text(
            "UPDATE control.procrastinate_jobs SET status = 'doing', worker_id = :w WHERE args->>'import_id' = :i"),
            {"w": worker, "i": import_id})
        await conn.execute(text(
            f'UPDATE "t_{tenant.slug}".imports SET status = \'running\', started_at = now(),'
            " processed_rows = :n, accepted_rows = :n WHERE id = :i"), {"n": committed, "i": import_id})


async def recover(database_url: str) -> None:
    """The recovery the workers schedule every minute, run now, then the jobs it put back."""
    async with job_app(Settings(), database_url) as jobs:
        try:
            await jobs.configure_task(RECOVERY_TASK).defer_async(timestamp=int(datetime.now(UTC).timestamp()))
        except AlreadyEnqueued:
            pass  # a worker's periodic deferrer queued this minute's run already: that one runs below
        await jobs.run_worker_async(queues=[MAINTENANCE_QUEUE, IMPORTS_QUEUE], wait=False,
                                    install_signal_handlers=False)


async def test_an_import_whose_worker_died_finishes_on_the_next_worker(api, tenant_a, tenant_b, database_url,
                                                                       engine):
    created = (await upload(api, tenant_a, CUSTOMERS.encode())).json()
    await _die_mid_run(engine, tenant_a, created["id"], committed=1)

    await work(database_url)  # a worker alone never takes a job another worker holds
    stuck = (await api.get(f"/v1/imports/{created['id']}", headers=tenant_a.auth)).json()
    assert (stuck["status"], stuck["processed_rows"]) == ("running", 1)

    await recover(database_url)
    done = (await api.get(f"/v1/imports/{created['id']}", headers=tenant_a.auth)).json()
    assert (done["status"], done["processed_rows"], done["accepted_rows"], done["rejected_rows"]) == (
        "succeeded", 3, 2, 1), done
    async with engine.connect() as conn:
        ids = (await conn.execute(text(f'SELECT external_id FROM "t_{tenant_a.slug}".customers'))).scalars().all()
    assert ids == ["H3"]  # it resumed after the committed row (H1), and H2 is the rejected one
    assert (await api.get(f"/v1/imports/{created['id']}", headers=tenant_b.auth)).status_code == 404


async def test_a_live_workers_import_is_not_taken_over(api, tenant_a, database_url, engine):
    created = (await upload(api, tenant_a, CUSTOMERS.encode())).json()
    await _die_mid_run(engine, tenant_a, created["id"], committed=1)
    async with engine.begin() as conn:  # the worker is alive after all: its heartbeat is fresh
        await conn.execute(text(
            "UPDATE control.procrastinate_workers w SET last_heartbeat = now() FROM control.procrastinate_jobs j"
            " WHERE j.worker_id = w.id AND j.args->>'import_id' = :i"), {"i": created["id"]})
    await recover(database_url)
    still = (await api.get(f"/v1/imports/{created['id']}", headers=tenant_a.auth)).json()
    assert (still["status"], still["processed_rows"]) == ("running", 1)
    async with engine.begin() as conn:  # let the rest of the session's workers finish it
        await conn.execute(text("UPDATE control.procrastinate_workers w SET last_heartbeat = now() - interval"
                                " '1 hour' FROM control.procrastinate_jobs j WHERE j.worker_id = w.id"
                                " AND j.args->>'import_id' = :i"), {"i": created["id"]})


async def test_a_resume_refuses_a_stored_file_that_changed(api, tenant_a, database_url, engine):
    """The digest recorded at upload is checked before a run reads the stored file: a resume skips
    `processed_rows` rows, which is right only for the very file those rows came from."""
    created = (await upload(api, tenant_a, CUSTOMERS.encode())).json()
    async with engine.begin() as conn:
        await conn.execute(text(f'UPDATE "t_{tenant_a.slug}".imports SET content = :c, processed_rows = 1,'
                                " accepted_rows = 1, status = 'failed' WHERE id = :i"),
                           {"c": CUSTOMERS.replace("H3", "X3").encode(), "i": created["id"]})
    await work(database_url)
    failed = (await api.get(f"/v1/imports/{created['id']}", headers=tenant_a.auth)).json()
    assert failed["status"] == "failed" and "not the file" in failed["errors"][-1]["detail"], failed
    assert failed["processed_rows"] == 1
