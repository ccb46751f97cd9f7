"""Loyalty ledger benchmarks (issue 4).

`loyalty_earn`: orders arriving, each turned into points by the job's use case (earn_for_order:
order and rules read, member row locked, rules evaluated, entries and lots written, tier checked),
with 32 concurrent clients on distinct members, then on one hot member (serialised by its row
lock). Counted in ledger writes (entries) per second. Baseline in the same run: the bare minimum
transaction writing the same rows with asyncpg (lock the member, insert entry and lot, update the
member), 32 connections, same members.

`loyalty_expiry`: the expiry job over N lots all past their expiry (1,000,000 by default), in
batches of 5,000 lots per transaction. Reports wall time and how much the process's peak resident
memory grew during the run,
against the bare set-based SQL doing the same writes in one statement on a copy of the lots.
"""

from __future__ import annotations

import asyncio
import resource
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import text

from bench.common import Figure, kizuna, throwaway_database
from domain.auth.model import TenantRef
from domain.customers.model import CustomerRef
from domain.loyalty import services
from domain.loyalty.model import ProgramTerms, Tier
from domain.loyalty.rules import RuleTerms
from domain.orders.model import LineDraft, OrderDraft
from domain.orders.services import place_orders
from domain.shared.clock import SystemClock
from domain.shared.ids import new_id
from domain.tenants.services import create_tenant
from infra.db.urls import libpq_url
from infra.runtime import Runtime, runtime
from infra.settings import Settings

CLIENTS = 32
CLOCK = SystemClock()


async def _tenant(rt: Runtime, slug: str) -> TenantRef:
    made = await create_tenant(uow=rt.uow_factory(None), clock=CLOCK, slug=slug, name=slug)
    t = made.tenant
    return TenantRef(id=t.id, slug=t.slug, schema=t.schema, timezone=t.timezone, currency=t.currency)


async def _orders(rt: Runtime, tenant: TenantRef, emails: list[str], per_customer: int,
                  prefix: str) -> list[list[UUID]]:
    """`per_customer` orders for each email, placed through the orders use case in batches."""
    at = datetime.now(UTC) - timedelta(days=1)
    drafts = [(e, OrderDraft(order_number=f"{prefix}-{i}-{k}", customer={"email": e}, ordered_at=at,
                             channel="ec", lines=[LineDraft(sku="TEA-1", quantity=2, unit_price=1500),
                                    LineDraft(sku="MUG-1", quantity=1, unit_price=2000)], total=5000))
              for k in range(per_customer) for i, e in enumerate(emails)]
    by_email: dict[str, list[UUID]] = {e: [] for e in emails}
    for start in range(0, len(drafts), 1000):
        chunk = drafts[start:start + 1000]
        report = await place_orders(uow=rt.uow_factory(tenant), clock=CLOCK, tenant_currency="JPY",
                                    drafts=[(j, d) for j, (_, d) in enumerate(chunk)])
        assert not report.errors, report.errors[:3]
        for j, order in report.accepted:
            by_email[chunk[j][0]].append(order.id)
    return [by_email[e] for e in emails]


async def _earn_all(rt: Runtime, tenant: TenantRef, queues: list[list[UUID]]) -> tuple[float, int]:
    written = 0

    async def client(queue: list[UUID]) -> None:
        nonlocal written
        for order_id in queue:
            entries = await services.earn_for_order(uow=rt.uow_factory(tenant), clock=CLOCK,
                                                    order_id=order_id, timezone=tenant.timezone)
            written += len(entries)

    started = time.perf_counter()
    await asyncio.gather(*(client(q) for q in queues))
    return time.perf_counter() - started, written


async def _bare(url: str, schema: str, member_ids: list[UUID], per_member: int) -> float:
    """The same rows with the least work: per order, one transaction that locks the member and
    writes two entries, two lots and the member's totals."""
    pool = await asyncpg.create_pool(libpq_url(url), min_size=CLIENTS, max_size=CLIENTS,
                                     server_settings={"search_path": schema})
    now = datetime.now(UTC)

    async def client(member_id: UUID) -> None:
        async with pool.acquire() as conn:
            for k in range(per_member):
                async with conn.transaction():
                    await conn.fetchrow("SELECT id FROM loyalty_members WHERE id = $1 FOR UPDATE", member_id)
                    for part in ("base", "rule"):
                        entry, lot = new_id(), new_id()
                        await conn.execute(
                            "INSERT INTO loyalty_entries (id, member_id, kind, points, reason, occurred_at,"
                            " idempotency_key, detail) VALUES ($1, $2, 'earn', 30, 'bare', $3, $4, '{}')",
                            entry, member_id, now, f"bare:{k}:{part}")
                        await conn.execute(
                            "INSERT INTO loyalty_lots (id, member_id, entry_id, points, remaining,"
                            " available_at) VALUES ($1, $2, $3, 30, 30, $4)", lot, member_id, entry, now)
                    await conn.execute("UPDATE loyalty_members SET lifetime_points = lifetime_points + 60"
                                       " WHERE id = $1", member_id)

    started = time.perf_counter()
    await asyncio.gather(*(client(m) for m in member_ids))
    elapsed = time.perf_counter() - started
    await pool.close()
    return elapsed


async def _run_earn(url: str, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    per_member = 10 if quick else 40
    hot_orders = 100 if quick else 400
    settings = Settings(database_url=url)
    async with runtime(settings, url, pool_size=CLIENTS + 4) as rt:
        tenant = await _tenant(rt, "bench_earn")
        program = await services.create_program(uow=rt.uow_factory(tenant), clock=CLOCK, terms=ProgramTerms(
            name="Bench", currency="JPY", earn_points=1, earn_per_amount=100,
            tiers=(Tier("Regular", 0), Tier("Gold", 10**9))))
        await services.create_rule(uow=rt.uow_factory(tenant), clock=CLOCK, program_id=program.id,
                                   terms=RuleTerms(name="tea x2", multiplier=Decimal(2),
                                                   skus=("TEA-1",)))
        emails = [f"m{i}@bench.example" for i in range(CLIENTS + 1)]
        members = []
        for e in emails:
            m, _ = await services.enroll_member(uow=rt.uow_factory(tenant), clock=CLOCK,
                                                program_id=program.id,
                                                customer=CustomerRef(identity_type="email", identity_value=e))
            members.append(m.id)
        queues = await _orders(rt, tenant, emails[:CLIENTS], per_member, "D")
        hot = (await _orders(rt, tenant, [emails[CLIENTS]], hot_orders, "H"))[0]
        seconds, written = await _earn_all(rt, tenant, queues)
        hot_seconds, hot_written = await _earn_all(rt, tenant, [hot[i::CLIENTS] for i in range(CLIENTS)])
        async with rt.uow_factory(tenant) as uow:
            inconsistent = len(await uow.loyalty.mismatches())
    # After the runtime's pool is closed: the two never hold connections at the same time.
    bare_seconds = await _bare(url, tenant.schema, members[:CLIENTS], per_member)
    rate, bare_rate = written / seconds, CLIENTS * per_member * 2 / bare_seconds
    figures = [
        Figure(f"earn, {CLIENTS} clients on distinct members", rate, "ledger writes/s", baseline=bare_rate,
               baseline_label="bare SQL transaction", target=">= 1,000 writes/s", met=rate >= 1000),
        Figure(f"earn, {CLIENTS} clients on one hot member", hot_written / hot_seconds, "ledger writes/s",
               baseline=rate, baseline_label="distinct members"),
    ]
    raw = {"orders": CLIENTS * per_member, "entries": written, "seconds": seconds, "hot_orders": hot_orders,
           "hot_entries": hot_written, "hot_seconds": hot_seconds, "bare_seconds": bare_seconds,
           "members_inconsistent_after": inconsistent}
    return figures, raw


async def _seed_lots(url: str, schema: str, n: int) -> None:
    """n lots, all past their expiry, over n / 100 members: set-based SQL (the benchmark measures
    the job, not the seeding)."""
    conn = await asyncpg.connect(libpq_url(url), server_settings={"search_path": schema})
    members = max(n // 100, 1)
    program = new_id()
    await conn.execute("INSERT INTO loyalty_programs (id, name, currency, status, terms, version, created_at,"
                       " updated_at) VALUES ($1, 'x', 'JPY', 'closed', '{}', 1, now(), now())", program)
    await conn.execute(
        "INSERT INTO loyalty_members (id, program_id, customer_id, lifetime_points, debt, status,"
        " enrolled_at, version) SELECT gen_random_uuid(), $1, gen_random_uuid(), 0, 0, 'active', now(), 1"
        " FROM generate_series(1, $2)", program, members)
    await conn.execute(
        "INSERT INTO loyalty_lots (id, member_id, entry_id, points, remaining, available_at, expires_at)"
        " SELECT gen_random_uuid(), m.id, gen_random_uuid(), 100, 1 + (g % 100), now() - interval '400 days',"
        " now() - interval '1 day' - (g % 1000) * interval '1 minute'"
        " FROM generate_series(0, $1 - 1) g"
        " JOIN (SELECT id, row_number() OVER () - 1 AS k FROM loyalty_members) m ON m.k = g % $2",
        n, members)
    await conn.execute("ANALYZE loyalty_lots")
    await conn.close()


async def _bare_expiry(url: str, schema: str) -> float:
    conn = await asyncpg.connect(libpq_url(url), server_settings={"search_path": schema})
    await conn.execute("CREATE TABLE bare_lots AS SELECT * FROM loyalty_lots;"
                       "CREATE TABLE bare_entries (LIKE loyalty_entries INCLUDING ALL);"
                       "CREATE TABLE bare_debits (LIKE loyalty_lot_debits INCLUDING ALL);"
                       "CREATE INDEX ON bare_lots (expires_at, id) WHERE remaining > 0;"
                       "UPDATE bare_lots SET remaining = 1 + (abs(hashtext(id::text)) % 100);"
                       "ANALYZE bare_lots")
    started = time.perf_counter()
    await conn.execute(
        "WITH due AS (SELECT id, member_id, remaining, gen_random_uuid() AS entry FROM bare_lots"
        "   WHERE remaining > 0 AND expires_at <= now() FOR UPDATE),"
        " zeroed AS (UPDATE bare_lots l SET remaining = 0 FROM due WHERE l.id = due.id),"
        " entries AS (INSERT INTO bare_entries (id, member_id, kind, points, reason, occurred_at,"
        "   idempotency_key, source_type, source_id, detail)"
        "   SELECT entry, member_id, 'expire', -remaining, 'points expired', now(), 'expire:' || id,"
        "   'job', 'expire_points', '{}' FROM due)"
        " INSERT INTO bare_debits (entry_id, lot_id, points) SELECT entry, id, remaining FROM due")
    elapsed = time.perf_counter() - started
    await conn.close()
    return elapsed


async def _run_expiry(url: str, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    n = 100_000 if quick else 1_000_000
    settings = Settings(database_url=url)
    async with runtime(settings, url, pool_size=2) as rt:
        tenant = await _tenant(rt, "bench_expiry")
        await _seed_lots(url, tenant.schema, n)
        # Peak resident memory of this process (ru_maxrss, KiB on Linux): tracemalloc would slow
        # the job several times over and measure itself.
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        expired = await services.expire_points(uow=rt.uow_factory(tenant), clock=CLOCK)
        seconds = time.perf_counter() - started
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024
        async with rt.engine.connect() as conn:
            left = (await conn.execute(text(
                f'SELECT count(*) FROM "{tenant.schema}".loyalty_lots WHERE remaining > 0'))).scalar_one()
    bare = await _bare_expiry(url, tenant.schema)
    figures = [
        Figure(f"expiry job over {n:,} lots", seconds, "s", baseline=bare,
               baseline_label="one bare set-based statement"),
        Figure("expiry job growth of peak RSS", peak / 2**20, "MiB", target="constant (streamed in batches)"),
        Figure("expiry job rate", n / seconds, "lots/s"),
    ]
    return figures, {"lots": n, "expired": expired, "seconds": seconds, "peak_bytes": peak,
                     "lots_left_with_points": left, "bare_seconds": bare}


def run_earn(server: str, *, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    with throwaway_database(server) as url:
        kizuna(url, "migrate")
        return asyncio.run(_run_earn(url, quick))


def run_expiry(server: str, *, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    with throwaway_database(server) as url:
        kizuna(url, "migrate")
        return asyncio.run(_run_expiry(url, quick))
