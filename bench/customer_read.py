"""Reading one customer: `GET /v1/customers/{id}` with a valid token on `kizuna serve --workers 2`,
10 tenants x 100,000 customers, 32 connections, against a bare FastAPI + asyncpg app doing the
same primary-key lookup (no token, no unit of work), in its own uvicorn process with as many
workers, in the same run.

Set-up (not measured): tenants are provisioned through the API; their customers are bulk-loaded
with COPY (profile fields filled, as an import would leave them). Every request reads a random
customer of a random tenant with that tenant's token. Each round runs the bare app, Kizuna, and
the bare app again; figures are medians. wrk drives both (a Lua script picks the targets), or,
without wrk, a Python generator in its own process.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.common import (
    PLATFORM_ID,
    PLATFORM_SECRET,
    RESULTS,
    WRK_DONE_LUA,
    Figure,
    bench_json,
    environment,
    free_port,
    get_token,
    kizuna,
    kizuna_server,
    percentile,
    run_alone,
    run_wrk,
    stop,
    throwaway_database,
    wait_until_up,
)
from bench.load import tool
from domain.shared.ids import new_id
from infra.db.urls import libpq_url

WORKERS = 2
TENANTS = 10
CUSTOMERS = 100_000
CONNECTIONS = 32
TARGETS = 20_000  # distinct (tenant, customer) pairs the load generator cycles through
# Database connections per worker, the same for both apps: one per HTTP connection it serves.
# Kizuna's default pool (10, overflow 10) would open and close overflow connections under 16
# concurrent requests per worker, and measure PostgreSQL's connection start-up instead.
POOL = CONNECTIONS // WORKERS


LUA = r"""
-- GET a different customer each request: lines of "<path> <token>" from BENCH_TARGETS.
local targets = {}
local i = 0

function init(args)
  for line in io.lines(os.getenv("BENCH_TARGETS")) do
    local path, token = line:match("^(%S+) (%S+)$")
    targets[#targets + 1] = {path, "Bearer " .. token}
  end
  i = math.random(#targets)
end

function request()
  i = i % #targets + 1
  local t = targets[i]
  return wrk.format("GET", t[1], {["Authorization"] = t[2]})
end
""" + WRK_DONE_LUA

# -- the bare baseline app ---------------------------------------------------------------------

_SCHEMA = re.compile(r"^t_[a-z][a-z0-9_]{1,40}$")


def bare_app() -> Any:
    """uvicorn factory (`bench.customer_read:bare_app`): FastAPI + an asyncpg pool, one route doing
    Kizuna's primary-key lookup and returning the row as JSON. Nothing else."""
    import orjson
    from fastapi import FastAPI, HTTPException, Response

    dsn = os.environ["BENCH_BARE_DSN"]
    pool: dict[str, asyncpg.Pool] = {}

    async def init(conn: asyncpg.Connection) -> None:  # jsonb as objects, as Kizuna reads it
        await conn.set_type_codec("jsonb", encoder=orjson.dumps, decoder=orjson.loads, schema="pg_catalog")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool["p"] = await asyncpg.create_pool(dsn, min_size=POOL, max_size=POOL, init=init)
        yield
        await pool["p"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/bare/{schema}/customers/{customer_id}")
    async def read(schema: str, customer_id: uuid.UUID) -> Response:
        if not _SCHEMA.fullmatch(schema):
            raise HTTPException(404)
        row = await pool["p"].fetchrow(f'SELECT * FROM "{schema}".customers WHERE id = $1', customer_id)
        if row is None:
            raise HTTPException(404)
        return Response(orjson.dumps(dict(row), default=str), media_type="application/json")

    return app


@contextmanager
def bare_server(url: str) -> Iterator[str]:
    """The bare app under uvicorn in its own process group, stopped by its pid."""
    port = free_port()
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = (RESULTS / f"bare-{port}.log").open("w")
    env = {**os.environ, "BENCH_BARE_DSN": libpq_url(url)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.customer_read:bare_app", "--factory",
                             "--port", str(port), "--workers", str(WORKERS), "--log-level", "warning",
                             "--no-access-log"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, cwd=Path(__file__).resolve().parent.parent)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, f"{base}/docs", "the bare app", log.name)
        time.sleep(1.5)
        yield base
    finally:
        stop(proc)
        log.close()


# -- set-up ------------------------------------------------------------------------------------

_FAMILY = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤"]
_GIVEN = ["花子", "太郎", "陽菜", "蓮", "結衣", "大翔", "葵", "湊", "さくら", "悠真"]


async def load_customers(url: str, schema: str, n: int, seed: int) -> list[uuid.UUID]:
    """n customers with filled profiles, with COPY; returns their ids."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    ids = [new_id() for _ in range(n)]
    records = [(cid, f"ext-{i:07d}", f"user{i}@example.jp", f"+8190{rng.randrange(10**8):08d}",
                rng.choice(_FAMILY), rng.choice(_GIVEN), "ヤマダ", "ハナコ",
                date(1960 + rng.randrange(45), 1 + rng.randrange(12), 1 + rng.randrange(28)),
                rng.choice(["female", "male", "undisclosed"]), "100-0001", f"{1 + rng.randrange(47):02d}",
                "千代田区", "千代田1-1", ["vip"] if i % 10 == 0 else [],
                json.dumps({"rank": rng.choice(["gold", "silver"]), "points": rng.randrange(10_000)}),
                now, now) for i, cid in enumerate(ids)]
    conn = await asyncpg.connect(libpq_url(url))
    try:
        await conn.copy_records_to_table(
            "customers", schema_name=schema, records=records,
            columns=("id", "external_id", "email", "phone", "family_name", "given_name", "family_name_kana",
                     "given_name_kana", "birth_date", "gender", "postal_code", "prefecture", "city", "line1",
                     "tags", "attributes", "created_at", "updated_at"))
        await conn.execute(f'VACUUM ANALYZE "{schema}".customers')
    finally:
        await conn.close()
    return ids


def _drive(url_base: str, targets: Path, seconds: int) -> dict[str, Any]:
    if tool() == "wrk":
        load = run_wrk(LUA, url_base, connections=CONNECTIONS, seconds=seconds, timeout="10s",
                       env={"BENCH_TARGETS": str(targets)})
    else:
        load = bench_json(subprocess.run([sys.executable, "-c", _PYTHON_LOAD, url_base, str(targets),
                                          str(seconds), str(CONNECTIONS)],
                                         capture_output=True, text=True, check=False), "the load generator")
    load["rps"] = load["requests"] / load["duration_s"]
    return load


_PYTHON_LOAD = """
import asyncio, json, sys, time, httpx
base, path, seconds, conns = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
targets = [line.split() for line in open(path)]
lat, bad = [], [0]
async def worker(client, k, deadline):
    i = k * 997
    while time.perf_counter() < deadline:
        p, token = targets[i % len(targets)]; i += 1
        t = time.perf_counter()
        r = await client.get(base + p, headers={"Authorization": "Bearer " + token})
        lat.append(time.perf_counter() - t); bad[0] += r.status_code != 200
async def main():
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=conns)) as c:
        start = time.perf_counter()
        await asyncio.gather(*(worker(c, k, start + seconds) for k in range(conns)))
        return time.perf_counter() - start
took = asyncio.run(main()); lat.sort(); n = len(lat)
pick = lambda p: lat[max(0, int(p * n + 0.999999) - 1)] * 1000
print("BENCH_JSON " + json.dumps({"requests": n, "duration_s": took, "non_2xx": bad[0], "socket_errors": 0,
      "timeouts": 0, "p50_ms": pick(0.5), "p99_ms": pick(0.99), "mean_ms": sum(lat) / n * 1000}))
"""


def _provision(url: str, http: httpx.Client, tenants: int,
               per_tenant: int) -> list[tuple[str, str, list[uuid.UUID]]]:
    """Tenants through the API, their customers with COPY: (slug, token, customer ids) each."""
    platform = {"Authorization": f"Bearer {get_token(http, PLATFORM_ID, PLATFORM_SECRET)}"}
    made = []
    for t in range(tenants):
        slug = f"read{t:02d}"
        created = http.post("/v1/tenants", json={"slug": slug, "name": slug}, headers=platform)
        created.raise_for_status()
        client = created.json()["initial_client"]
        token = get_token(http, client["client_id"], client["client_secret"])
        made.append((slug, token, asyncio.run(load_customers(url, f"t_{slug}", per_tenant, seed=t))))
    return made


def _targets(tmp: str, made: list[tuple[str, str, list[uuid.UUID]]], rng: random.Random) -> tuple[Path, Path]:
    """The same random (tenant, customer) sequence as Kizuna paths with tokens and as bare paths."""
    picks = [(made[t], rng.randrange(len(made[t][2]))) for t in
             (rng.randrange(len(made)) for _ in range(TARGETS))]
    kizuna_targets, bare_targets = Path(tmp) / "kizuna.txt", Path(tmp) / "bare.txt"
    kizuna_targets.write_text("".join(f"/v1/customers/{ids[i]} {token}\n" for (_, token, ids), i in picks))
    bare_targets.write_text("".join(f"/bare/t_{slug}/customers/{ids[i]} -\n" for (slug, _, ids), i in picks))
    return kizuna_targets, bare_targets


def run(server: str, *, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    seconds, rounds = (5, 1) if quick else (10, 3)
    tenants, per_tenant = (3, 10_000) if quick else (TENANTS, CUSTOMERS)
    with throwaway_database(server) as url, tempfile.TemporaryDirectory() as tmp, \
            environment(KIZUNA_DB_POOL_SIZE=str(POOL), KIZUNA_DB_MAX_OVERFLOW="0"):
        kizuna(url, "migrate")
        with kizuna_server(url, workers=WORKERS) as base, httpx.Client(base_url=base, timeout=60) as http:
            started = time.perf_counter()
            made = _provision(url, http, tenants, per_tenant)
            setup_s = time.perf_counter() - started
            kizuna_targets, bare_targets = _targets(tmp, made, random.Random(7))
            slug, token, ids = made[0]
            first = http.get(f"/v1/customers/{ids[0]}", headers={"Authorization": f"Bearer {token}"})
            first.raise_for_status()
            with bare_server(url) as bare:
                assert httpx.get(f"{bare}/bare/t_{slug}/customers/{ids[0]}").json()["id"] == str(ids[0])
                _drive(base, kizuna_targets, 3)  # warm up both: pools, statement caches, key caches
                _drive(bare, bare_targets, 3)
                measured: list[dict[str, Any]] = []
                baseline: list[dict[str, Any]] = []
                raw = []
                for i in range(rounds):
                    for what, target, into in (("bare", bare, baseline), ("kizuna", base, measured),
                                               ("bare", bare, baseline)):
                        load_before = os.getloadavg()[0]
                        result = _drive(target, bare_targets if what == "bare" else kizuna_targets, seconds)
                        into.append(result)
                        raw.append({"round": i, "what": what, "load_average_before": load_before, **result})
                        print(f"    round {i} {what}: {result['rps']:,.0f} req/s,"
                              f" p99 {result['p99_ms']:.1f} ms", flush=True)

    def median(loads: list[dict[str, Any]], key: str) -> float:
        return statistics.median(float(r[key]) for r in loads)

    rps, floor, p99 = median(measured, "rps"), median(baseline, "rps"), median(measured, "p99_ms")
    figures = [
        Figure(f"GET /v1/customers/{{id}} with a token, {tenants} tenants x {per_tenant:,} customers,"
               f" {WORKERS} workers, {CONNECTIONS} connections ({tool()})", rps, "req/s", floor,
               "bare FastAPI+asyncpg req/s", "ratio >= 0.6", rps / floor >= 0.6 if not quick else None),
        Figure("GET /v1/customers/{id} p50 latency", median(measured, "p50_ms"), "ms",
               median(baseline, "p50_ms"), "bare p50 ms"),
        Figure("GET /v1/customers/{id} p99 latency", p99, "ms", median(baseline, "p99_ms"), "bare p99 ms",
               "<= 50 ms", p99 <= 50 if not quick else None),
    ]
    return figures, {"runs": raw, "setup_seconds": setup_s, "tenants": tenants,
                     "customers_per_tenant": per_tenant,
                     "p99_spread_ms": [percentile([r["p99_ms"] for r in measured], p) for p in (0, 100)]}


def main() -> None:
    """`python -m bench.customer_read [--quick]`: this benchmark alone, with its own database."""
    run_alone("customer_read", run)


if __name__ == "__main__":
    main()
