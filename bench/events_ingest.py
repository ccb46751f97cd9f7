"""Event ingest end to end: `POST /v1/events/batch` with 1,000 events a request on `kizuna serve
--workers 2`, against raw asyncpg COPY of the same rows into the same table, in the same run.

Set-up: a tenant with CUSTOMERS customers (bulk-loaded with COPY) named by external_id in the
events, as a shop's tracker does once people are known; every event has a unique event_id (the
de-duplication check runs for all of them) and a mix of catalogue types and touchpoints.

Each round runs the baseline, the endpoint, and the baseline again. The endpoint is driven by wrk
(a Lua script gives every request fresh event ids) or, without wrk, by a Python generator in its
own process. The baseline copies pre-built rows (customer ids already resolved, properties
already JSON) 1,000 at a time on as many connections as the endpoint has HTTP connections, each
COPY in its own transaction: the database floor of storing these rows. Before every run the
events table is vacuumed and a checkpoint forced (_settle), so no run pays for the one before it.
Figures are medians.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.common import (
    PLATFORM_ID,
    PLATFORM_SECRET,
    WRK_DONE_LUA,
    Figure,
    bench_json,
    cpu_snapshot,
    cpu_spent,
    get_token,
    kizuna,
    kizuna_server,
    run_alone,
    run_wrk,
    throwaway_database,
)
from bench.load import tool
from domain.shared.ids import new_id
from infra.db.urls import database_name, libpq_url

WORKERS = 2
BATCH = 1000
# 2 per worker: one request in Python while the other waits on the database. More only adds live
# objects (and garbage-collector work) per worker; BENCH_EVENTS_CONNECTIONS overrides it.
CONNECTIONS = int(os.environ.get("BENCH_EVENTS_CONNECTIONS", "4"))
CUSTOMERS = 20_000
RUN_TOKEN = "@RUN@"  # replaced per request by the load generator: unique event ids

COPY_COLUMNS = ("id", "event_id", "type", "customer_id", "occurred_at", "received_at", "properties",
                "touchpoint_channel", "touchpoint_stage", "campaign_id")

LUA = r"""
-- POST a body template; every request puts a fresh prefix where the template says @RUN@ (unique
-- event ids). The template is split at @RUN@ once, and each body is one table.concat of the pieces
-- with the prefix as separator: a gsub over the 265 KB template per request cost wrk 3.5 ms of CPU
-- per request, which on this two-core machine is taken from the server being measured.
local pieces = {}
local counter = 0
local run = os.getenv("BENCH_RUN") or "r"
wrk.method = "POST"

function init(args)
  local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
  local template = f:read("*a")
  f:close()
  local start = 1
  while true do
    local at = string.find(template, "@RUN@", start, true)
    if not at then break end
    pieces[#pieces + 1] = string.sub(template, start, at - 1)
    start = at + 5
  end
  pieces[#pieces + 1] = string.sub(template, start)
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, table.concat(pieces, run .. "-" .. counter))
end
""" + WRK_DONE_LUA

def _sku(r: random.Random) -> str:
    return f"SKU-{r.randrange(500):04d}"


def _items(r: random.Random) -> list[dict[str, Any]]:
    return [{"sku": _sku(r), "quantity": r.randrange(1, 4), "price": r.randrange(500, 20000)}
            for _ in range(r.randrange(1, 4))]


_TYPES = [  # (type, weight, properties maker)
    ("page_viewed", 40, lambda r: {"url": f"/products/{r.randrange(500)}", "title": "商品ページ"}),
    ("product_viewed", 25, lambda r: {"sku": _sku(r), "price": r.randrange(500, 20000)}),
    ("cart_updated", 10, lambda r: {"items": _items(r), "currency": "JPY"}),
    ("email_opened", 10, lambda r: {"message_id": f"m-{r.randrange(10**6)}"}),
    ("favorite_added", 5, lambda r: {"sku": _sku(r)}),
    ("ad_clicked", 5, lambda r: {"ad_id": f"ad-{r.randrange(100)}", "network": "line"}),
    ("checkout_started", 5, lambda r: {"cart_total": r.randrange(1000, 50000), "currency": "JPY"}),
]
_STAGES = {"page_viewed": "pre_purchase", "product_viewed": "pre_purchase", "cart_updated": "purchase",
           "checkout_started": "purchase", "email_opened": "post_purchase", "favorite_added": "pre_purchase",
           "ad_clicked": "pre_purchase"}


def make_events(rng: random.Random, externals: list[str], n: int, run: str) -> list[dict[str, Any]]:
    """n events as a tracker sends them; event ids start with `run`."""
    names = [t for t, _, _ in _TYPES]
    weights = [w for _, w, _ in _TYPES]
    makers = {t: m for t, _, m in _TYPES}
    now = datetime.now(UTC)
    tokyo = timedelta(hours=9)
    events = []
    for i in range(n):
        kind = rng.choices(names, weights)[0]
        at = (now - timedelta(seconds=rng.randrange(86_400)) + tokyo).replace(tzinfo=None)
        events.append({
            "type": kind, "customer": {"external_id": rng.choice(externals)},
            "occurred_at": at.isoformat(timespec="milliseconds") + "+09:00",
            "event_id": f"{run}-{i}", "properties": makers[kind](rng),
            "touchpoint": {"channel": "web" if kind != "email_opened" else "email", "stage": _STAGES[kind],
                           "campaign_id": "autumn-sale" if kind == "ad_clicked" else None},
        })
    return events


def copy_rows(events: list[dict[str, Any]], owners: dict[str, uuid.UUID]) -> list[tuple[Any, ...]]:
    """The rows the endpoint would store for these events (event_id still holding RUN_TOKEN)."""
    received = datetime.now(UTC)
    return [(new_id(), e["event_id"], e["type"], owners[e["customer"]["external_id"]],
             datetime.fromisoformat(e["occurred_at"]), received, json.dumps(e["properties"]),
             e["touchpoint"]["channel"], e["touchpoint"]["stage"], e["touchpoint"]["campaign_id"])
            for e in events]


def fresh(rows: list[tuple[Any, ...]], run: str) -> list[tuple[Any, ...]]:
    """The same rows with new ids and event ids, as the next request would bring."""
    return [(new_id(), r[1].replace(RUN_TOKEN, run), *r[2:]) for r in rows]


# -- set-up ------------------------------------------------------------------------------------

async def load_customers(url: str, schema: str, n: int) -> dict[str, uuid.UUID]:
    """n customers, each with an external_id identity, with COPY (set-up, not measured)."""
    owners = {f"bench-{i:07d}": new_id() for i in range(n)}
    now = datetime.now(UTC)
    conn = await asyncpg.connect(libpq_url(url))
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "customers", schema_name=schema, columns=("id", "external_id", "created_at", "updated_at"),
                records=[(cid, ext, now, now) for ext, cid in owners.items()])
            await conn.copy_records_to_table(
                "customer_identities", schema_name=schema,
                columns=("type", "value", "customer_id", "created_at"),
                records=[("external_id", ext, cid, now) for ext, cid in owners.items()])
        await conn.execute(f'ANALYZE "{schema}".customers; ANALYZE "{schema}".customer_identities')
    finally:
        await conn.close()
    return owners


@contextmanager
def _serving(server: str):  # type: ignore[no-untyped-def]
    with throwaway_database(server) as url:
        kizuna(url, "migrate")
        with kizuna_server(url, workers=WORKERS) as base, httpx.Client(base_url=base, timeout=60) as http:
            platform = {"Authorization": f"Bearer {get_token(http, PLATFORM_ID, PLATFORM_SECRET)}"}
            made = http.post("/v1/tenants", json={"slug": "bench", "name": "Bench"}, headers=platform)
            made.raise_for_status()
            client = made.json()["initial_client"]
            token = get_token(http, client["client_id"], client["client_secret"])
            yield url, base, http, token


# -- the two measurements ----------------------------------------------------------------------

def _wrk(url: str, token: str, body_file: Path, run: str, seconds: int) -> dict[str, Any]:
    return run_wrk(LUA, url, connections=CONNECTIONS, seconds=seconds, timeout="30s",
                   env={"BENCH_BODY_FILE": str(body_file), "BENCH_RUN": run},
                   args=("-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json"))


def _python_load(url: str, token: str, body_file: Path, run: str, seconds: int) -> dict[str, Any]:
    """Without wrk: the same requests from a separate Python process."""
    code = (
        "import asyncio, json, sys, time, httpx\n"
        "url, token, path, run, seconds, conns = sys.argv[1:7]\n"
        "template = open(path, 'rb').read()\n"
        "lat, counts = [], {'n': 0, 'bad': 0}\n"
        "async def worker(client, k, deadline):\n"
        "    i = 0\n"
        "    while time.perf_counter() < deadline:\n"
        "        i += 1\n"
        "        body = template.replace(b'@RUN@', f'{run}-{k}-{i}'.encode())\n"
        "        t = time.perf_counter()\n"
        "        r = await client.post(url, content=body, headers={'Authorization': 'Bearer ' + token,"
        " 'Content-Type': 'application/json'})\n"
        "        lat.append(time.perf_counter() - t); counts['bad'] += r.status_code != 200\n"
        "async def main():\n"
        "    async with httpx.AsyncClient(timeout=60) as c:\n"
        "        start = time.perf_counter(); deadline = start + float(seconds)\n"
        "        await asyncio.gather(*(worker(c, k, deadline) for k in range(int(conns))))\n"
        "        return time.perf_counter() - start\n"
        "took = asyncio.run(main()); lat.sort(); n = len(lat)\n"
        "pick = lambda p: lat[max(0, int(p * n + 0.999999) - 1)] * 1000\n"
        "print('BENCH_JSON ' + json.dumps({'requests': n, 'duration_s': took, 'non_2xx': counts['bad'],"
        " 'socket_errors': 0, 'timeouts': 0, 'p50_ms': pick(0.5), 'p99_ms': pick(0.99),"
        " 'mean_ms': sum(lat) / n * 1000}))\n")
    done = subprocess.run([sys.executable, "-c", code, url, token, str(body_file), run, str(seconds),
                           str(CONNECTIONS)], capture_output=True, text=True, check=False)
    return bench_json(done, "the load generator")


# -- where the CPU goes: the server's processes, PostgreSQL's (common.cpu_snapshot), the load
# generator (this process's children) ----------------------------------------------------------

def drive_endpoint(base: str, database: str, token: str, body_file: Path, run: str,
                   seconds: int) -> dict[str, Any]:
    url = f"{base}/v1/events/batch"
    port = int(base.rsplit(":", 1)[1])
    before, children = cpu_snapshot(port, database), resource.getrusage(resource.RUSAGE_CHILDREN)
    load = (_wrk if tool() == "wrk" else _python_load)(url, token, body_file, run, seconds)
    spent = cpu_spent(before, cpu_snapshot(port, database))
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    load["events_per_s"] = load["requests"] * BATCH / load["duration_s"]
    batches = max(load["requests"], 1)
    load["cpu_ms_per_batch"] = {
        "server": spent["server"] * 1000 / batches,
        "postgres": spent["postgres"] * 1000 / batches,
        "load_generator": (children_after.ru_utime + children_after.ru_stime - children.ru_utime
                           - children.ru_stime) * 1000 / batches}
    return load


async def raw_copy(url: str, schema: str, batches: list[list[tuple[Any, ...]]]) -> dict[str, Any]:
    """COPY every batch into the events table, CONNECTIONS at a time, one transaction each."""
    conns = [await asyncpg.connect(libpq_url(url)) for _ in range(CONNECTIONS)]
    database = str(database_name(url))
    before, own = cpu_snapshot(0, database), time.process_time()
    queue: asyncio.Queue[list[tuple[Any, ...]]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)
    latencies: list[float] = []

    async def worker(conn: asyncpg.Connection) -> None:
        while not queue.empty():
            batch = queue.get_nowait()
            t0 = time.perf_counter()
            async with conn.transaction():
                await conn.copy_records_to_table("events", schema_name=schema, columns=COPY_COLUMNS,
                                                 records=batch)
            latencies.append(time.perf_counter() - t0)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in conns))
        took = time.perf_counter() - started
        # read before the connections close: a backend's CPU time leaves with its process
        cpu = {"postgres": cpu_spent(before, cpu_snapshot(0, database))["postgres"] * 1000 / len(batches),
               "copying_process": (time.process_time() - own) * 1000 / len(batches)}
    finally:
        for c in conns:
            await c.close()
    latencies.sort()
    return {"batches": len(batches), "duration_s": took, "events_per_s": len(batches) * BATCH / took,
            "cpu_ms_per_batch": cpu,
            "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000}


def run(server: str, *, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    seconds, rounds = (5, 1) if quick else (15, 3)
    rng = random.Random(20261122)
    schema = "t_bench"
    with _serving(server) as (url, base, _http, token), tempfile.TemporaryDirectory() as tmp:
        database = str(database_name(url))
        owners = asyncio.run(load_customers(url, schema, 2_000 if quick else CUSTOMERS))
        externals = list(owners)
        body_file = Path(tmp) / "batch.json"
        template = make_events(rng, externals, BATCH, RUN_TOKEN)
        body_file.write_text(json.dumps({"events": template}, ensure_ascii=False))
        rows = copy_rows(template, owners)
        size = body_file.stat().st_size
        # warm up: connection pools, statement caches, the staging table's plan
        drive_endpoint(base, database, token, body_file, "warm", 3)
        endpoint: list[dict[str, Any]] = []
        baseline: list[dict[str, Any]] = []
        raw: list[dict[str, Any]] = []
        for i in range(rounds):
            for what in ("copy", "endpoint", "copy"):
                asyncio.run(_settle(url, schema))
                load_before = os.getloadavg()[0]
                if what == "copy":
                    batches = [fresh(rows, f"copy{len(raw)}-{b}") for b in range(seconds * 40)]
                    result = asyncio.run(raw_copy(url, schema, batches))
                    baseline.append(result)
                else:
                    result = drive_endpoint(base, database, token, body_file, f"r{i}", seconds)
                    endpoint.append(result)
                raw.append({"round": i, "what": what, "load_average_before": load_before, **result})
                cpu = ", ".join(f"{k} {v:.1f}" for k, v in result["cpu_ms_per_batch"].items())
                print(f"    round {i} {what}: {result['events_per_s']:,.0f} events/s"
                      f" (CPU ms per 1,000 events: {cpu})", flush=True)
        stored = asyncio.run(_count(url, schema))

    rate = statistics.median(r["events_per_s"] for r in endpoint)
    floor = statistics.median(r["events_per_s"] for r in baseline)
    figures = [
        Figure(f"POST /v1/events/batch, {BATCH} events/request, {WORKERS} workers, {CONNECTIONS} connections"
               f" ({tool()})", rate, "events/s", floor, "raw asyncpg COPY events/s",
               ">= 0.5 of raw COPY and >= 40,000 events/s", rate >= 0.5 * floor and rate >= 40_000),
        Figure("POST /v1/events/batch p50 latency (1,000 events)",
               statistics.median(r["p50_ms"] for r in endpoint), "ms",
               statistics.median(r["p50_ms"] for r in baseline), "raw COPY of 1,000 rows p50 ms"),
        Figure("POST /v1/events/batch p99 latency (1,000 events)",
               statistics.median(r["p99_ms"] for r in endpoint), "ms",
               statistics.median(r["p99_ms"] for r in baseline), "raw COPY of 1,000 rows p99 ms"),
    ]
    return figures, {"runs": raw, "body_bytes": size, "customers": len(owners), "events_stored": stored}


async def _settle(url: str, schema: str) -> None:
    """Vacuum and analyse the events table and force a checkpoint, so that each run starts with no
    maintenance left over from the run before it. A copy run inserts 1.5 million rows in 15 s;
    without this its autovacuum and checkpoint (and the full-page writes after it) landed in the
    next run, which for the endpoint was always the window right after a copy run."""
    conn = await asyncpg.connect(libpq_url(url))
    try:
        await conn.execute(f'VACUUM (ANALYZE) "{schema}".events')
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def _count(url: str, schema: str) -> int:
    conn = await asyncpg.connect(libpq_url(url))
    try:
        return int(await conn.fetchval(f'SELECT count(*) FROM "{schema}".events'))
    finally:
        await conn.close()


def main() -> None:
    """`python -m bench.events_ingest [--quick]`: this benchmark alone, with its own database."""
    run_alone("events_ingest", run)


if __name__ == "__main__":
    main()
