"""The job queue on real PostgreSQL: procrastinate's tables in `control`, housekeeping job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from uuid import uuid4

from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import text

from domain.shared.events import DomainEvent
from infra.db.maintenance import purge_expired
from infra.db.migrate import migrate_tenant_schema
from infra.events import EventBus
from infra.job_recovery import retry_stalled_jobs
from infra.jobs import MAINTENANCE_QUEUE, job_app
from infra.settings import Settings


@dataclass(frozen=True)
class Happened(DomainEvent):
    name: ClassVar[str] = "test.happened"
    at: datetime


async def _seed(db, schema: str, now: datetime) -> None:
    async with db.begin() as conn:
        await conn.execute(text(
            "INSERT INTO control.tenants (id, slug, name, timezone, currency, status, schema_name, created_at,"
            " updated_at) VALUES (gen_random_uuid(), :slug, 'x', 'Asia/Tokyo', 'JPY', 'active', :schema, now(), now())"),
            {"slug": schema[2:], "schema": schema})
        await migrate_tenant_schema(conn, schema, current=None, create=True)
        for key, expires in (("old", now - timedelta(seconds=1)), ("new", now + timedelta(hours=1))):
            await conn.execute(text(
                f'INSERT INTO "{schema}".idempotency_keys (owner, key, fingerprint, created_at, expires_at)'
                " VALUES ('c', :k, 'f', now(), :e)"), {"k": key, "e": expires})
            await conn.execute(text(
                "INSERT INTO control.revoked_tokens (jti, expires_at) VALUES (:j, :e)"),
                {"j": f"{schema}-{key}", "e": expires})


async def _left(db, schema: str) -> tuple[list[str], list[str]]:
    async with db.connect() as conn:
        keys = (await conn.execute(text(f'SELECT key FROM "{schema}".idempotency_keys'))).scalars().all()
        jtis = (await conn.execute(text(
            "SELECT jti FROM control.revoked_tokens WHERE jti LIKE :p"), {"p": f"{schema}-%"})).scalars().all()
    return sorted(keys), sorted(jtis)


async def test_purge_removes_only_expired_rows_and_is_idempotent(db):
    now = datetime.now(UTC)
    await _seed(db, "t_purge_one", now)
    first = await purge_expired(db, now)
    assert first["idempotency_keys"] >= 1 and first["revoked_tokens"] >= 1
    assert await _left(db, "t_purge_one") == (["new"], ["t_purge_one-new"])
    await purge_expired(db, now)
    assert await _left(db, "t_purge_one") == (["new"], ["t_purge_one-new"])


async def test_worker_runs_a_deferred_job_from_control_schema(db, database_url):
    now = datetime.now(UTC)
    await _seed(db, "t_purge_two", now)
    async with job_app(Settings(), database_url) as jobs:
        try:
            await jobs.configure_task("kizuna.purge_expired").defer_async(timestamp=int(now.timestamp()))
        except AlreadyEnqueued:
            # Another test's worker ran procrastinate's periodic deferrer at minute 17 of the hour
            # and queued it already (the task has a queueing lock): running that one is the test.
            pass
        await jobs.run_worker_async(queues=[MAINTENANCE_QUEUE], wait=False, install_signal_handlers=False)
    assert await _left(db, "t_purge_two") == (["new"], ["t_purge_two-new"])
    async with db.connect() as conn:
        status = (await conn.execute(text(
            "SELECT status FROM control.procrastinate_jobs WHERE task_name = 'kizuna.purge_expired'"
            " ORDER BY id DESC LIMIT 1"))).scalar()
        in_public = (await conn.execute(text(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'procrastinate%'"
        ))).scalar()
    assert status == "succeeded" and in_public == 0


async def test_domain_events_routed_to_jobs_are_enqueued_in_the_same_transaction(db):
    bus = EventBus()
    bus.route_to_job("test.happened", task_name="kizuna.test_task", queue="test_queue")
    tenant = uuid4()
    at = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    async with db.connect() as conn:
        async with conn.begin():
            await bus.enqueue(conn, tenant, [Happened(at=at), Happened(at=at)])
            await conn.rollback()  # the cause did not commit: no job either
        async with conn.begin():
            await bus.enqueue(conn, tenant, [Happened(at=at), Happened(at=at)])
        rows = (await conn.execute(text(
            "SELECT args FROM control.procrastinate_jobs WHERE queue_name = 'test_queue'"))).scalars().all()
    assert len(rows) == 2
    assert rows[0] == {"tenant_id": str(tenant), "event": "test.happened",
                       "payload": {"at": "2026-11-22T09:00:00+00:00"}}


async def test_purge_drops_old_import_files_and_error_details(db):
    from infra.db.maintenance import IMPORT_CONTENT_DAYS, IMPORT_ERRORS_DAYS

    now = datetime.now(UTC)
    await _seed(db, "t_purge_three", now)
    schema = "t_purge_three"
    rows = [("old", now - timedelta(days=IMPORT_ERRORS_DAYS + 1), "succeeded"),
            ("middle", now - timedelta(days=IMPORT_CONTENT_DAYS + 1), "failed"),
            ("running", now - timedelta(days=IMPORT_ERRORS_DAYS + 1), "running"),
            ("new", now, "succeeded")]
    async with db.begin() as conn:
        for name, created, status in rows:
            await conn.execute(text(
                f'INSERT INTO "{schema}".imports (id, kind, status, filename, content, errors, created_by, created_at)'
                " VALUES (gen_random_uuid(), 'customers', :s, :n, 'a,b', CAST(:e AS jsonb), 'c', :t)"),
                {"s": status, "n": name, "e": '[{"line": 2, "detail": "hanako@example.jp is taken"}]', "t": created})
    await purge_expired(db, now)
    async with db.connect() as conn:
        left = {r.filename: (r.content is not None, r.errors != []) for r in await conn.execute(text(
            f'SELECT filename, content, errors FROM "{schema}".imports'))}
    assert left == {"old": (False, False), "middle": (False, True), "running": (True, True),
                    "new": (True, True)}


async def test_jobs_of_any_task_held_by_a_dead_worker_are_put_back(db, database_url):
    """Not only imports: a loyalty or metrics job whose worker was killed returns to `todo`; jobs
    of live workers stay where they are."""
    async with job_app(Settings(), database_url) as jobs:
        async with db.begin() as conn:
            dead = (await conn.execute(text(
                "INSERT INTO control.procrastinate_workers (last_heartbeat) VALUES (now() - interval '5 minutes')"
                " RETURNING id"))).scalar()
            alive = (await conn.execute(text(
                "INSERT INTO control.procrastinate_workers (last_heartbeat) VALUES (now()) RETURNING id"))).scalar()
            made = {}
            for name, worker in (("kizuna.analytics.refresh_customer", dead),
                                 ("kizuna.loyalty.order_placed", dead), ("kizuna.loyalty.order_refunded", alive)):
                made[name] = (await conn.execute(text(
                    "INSERT INTO control.procrastinate_jobs (queue_name, task_name, args, status, worker_id)"
                    " VALUES ('stall_test', :t, '{}', 'doing', :w) RETURNING id"), {"t": name, "w": worker})).scalar()
        retried = await retry_stalled_jobs(jobs.job_manager)
        async with db.begin() as conn:
            status = dict((await conn.execute(text(
                "SELECT task_name, status FROM control.procrastinate_jobs WHERE queue_name = 'stall_test'"))).all())
            await conn.execute(text("DELETE FROM control.procrastinate_jobs WHERE queue_name = 'stall_test'"))
    assert set(retried) >= {made["kizuna.analytics.refresh_customer"], made["kizuna.loyalty.order_placed"]}
    assert made["kizuna.loyalty.order_refunded"] not in retried
    assert status == {"kizuna.analytics.refresh_customer": "todo", "kizuna.loyalty.order_placed": "todo",
                      "kizuna.loyalty.order_refunded": "doing"}
