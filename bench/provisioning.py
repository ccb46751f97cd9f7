"""Tenant provisioning through the real HTTP path: POST /v1/tenants on a `kizuna serve` process.

Baselines in the same run: GET /healthz latency over the same keep-alive connection (the HTTP
floor); `CREATE SCHEMA` + one `CREATE TABLE` committed in one transaction straight from this
process (the database floor of making any schema); and the tenant tree's rendered SQL (base to
head, what provisioning runs) executed the same way (the database floor of making a tenant schema
as it is today).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import psycopg

from bench.common import (
    PLATFORM_ID,
    PLATFORM_SECRET,
    Figure,
    get_token,
    kizuna,
    kizuna_server,
    percentile,
    throwaway_database,
)
from infra.db.migrate import tenant_script
from infra.db.urls import libpq_url

WARM_UP = 5


BASE_DDL = "CREATE TABLE t (id uuid PRIMARY KEY, body jsonb NOT NULL)"


def _ms(fn: Any, *args: Any) -> float:
    started = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - started) * 1000


def run(postgres: str, *, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    """Interleaved: each step times a /healthz, each baseline schema and one tenant back to back,
    so a burst of load elsewhere on the machine hits the figure and its baselines alike."""
    n = 50 if quick else 200
    tenant_sql = tenant_script(None, "head")
    health: list[float] = []
    schema: list[float] = []
    script: list[float] = []
    tenants: list[float] = []
    with throwaway_database(postgres) as url:
        kizuna(url, "migrate")
        with kizuna_server(url, workers=1) as base, httpx.Client(base_url=base, timeout=30) as http, \
                psycopg.connect(libpq_url(url)) as conn:
            auth = {"Authorization": f"Bearer {get_token(http, PLATFORM_ID, PLATFORM_SECRET)}"}

            def provision(slug: str) -> None:
                body = {"slug": slug, "name": f"ベンチ {slug}"}
                response = http.post("/v1/tenants", headers=auth, json=body)
                if response.status_code != 201:
                    raise RuntimeError(f"POST /v1/tenants: {response.status_code} {response.text}")

            def create_schema(name: str, ddl: str) -> None:
                with conn.transaction():
                    conn.execute(f"CREATE SCHEMA {name}")
                    conn.execute(f"SET LOCAL search_path TO {name}")
                    conn.execute(ddl.encode())  # no parameters: one simple-protocol round trip

            for i in range(WARM_UP):
                provision(f"warm_{i}")
            for i in range(n):
                health.append(_ms(lambda: http.get("/healthz").raise_for_status()))
                schema.append(_ms(create_schema, f"base_{i:04d}", BASE_DDL))
                script.append(_ms(create_schema, f"script_{i:04d}", tenant_sql))
                tenants.append(_ms(provision, f"bench_{i:04d}"))

    p50, p99 = percentile(tenants, 50), percentile(tenants, 99)
    rate, script_rate = 1000 * n / sum(tenants), 1000 * n / sum(script)
    step_ratio = statistics.median(t / s for t, s in zip(tenants, script, strict=True))
    figures = [
        Figure("provisioning p50", p50, "ms/tenant", percentile(health, 50), "GET /healthz p50 ms"),
        Figure("provisioning p50", p50, "ms/tenant", percentile(schema, 50),
               "CREATE SCHEMA + 1 table p50 ms"),
        Figure("provisioning p50", p50, "ms/tenant", percentile(script, 50),
               "tenant migration SQL alone p50 ms"),
        Figure("provisioning / SQL alone, median of the per-step ratios", step_ratio, "x"),
        Figure("provisioning p99", p99, "ms/tenant", percentile(script, 99),
               "tenant migration SQL alone p99 ms", "<= 150 ms", p99 <= 150),
        Figure("provisioning rate (one request at a time)", rate, "tenants/s", script_rate,
               "tenant migration SQL alone per s", ">= 10 tenants/s", rate >= 10),
    ]
    raw = {"tenants": n, "tenant_ms": tenants, "healthz_ms": health, "schema_baseline_ms": schema,
           "script_baseline_ms": script}
    return figures, raw
