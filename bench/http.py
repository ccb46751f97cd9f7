"""Throughput of the token endpoint and of an authenticated endpoint on `kizuna serve --workers 2`.

Each round runs /healthz, the measured endpoint, and /healthz again with the same load generator,
settings and server. Figures are medians over the rounds; the baseline is the median of all the
/healthz runs, so drift (another process taking CPU) shows as spread in the raw results.

Throughput on a shared 2-core machine moves with whatever else runs, so each run also records the
CPU time the server's processes and its PostgreSQL backends spent per request (from /proc): that
cost ratio hardly depends on other load and says what the throughput ratio would be on an
otherwise idle machine (PostgreSQL's part counts only backends open for the whole run, so it is a
lower bound). New PostgreSQL sessions opened during a run are counted as well: more than zero
means the connection pool is opening and closing connections under this load.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from bench.common import (
    PLATFORM_ID,
    PLATFORM_SECRET,
    Figure,
    basic,
    cpu_delta,
    cpu_seconds,
    get_token,
    kizuna,
    kizuna_server,
    process_tree,
    throwaway_database,
)
from bench.load import Load, drive
from infra.db.urls import database_name, libpq_url

WORKERS = 2


@dataclass
class Target:
    base: str
    server_pid: int
    postgres: str
    database: str
    client_id: str
    secret: str
    token: str

    def _stat(self, sql: str) -> list[Any]:
        with psycopg.connect(libpq_url(self.postgres), autocommit=True) as conn:
            return [row[0] for row in conn.execute(sql, (self.database,))]

    def sessions(self) -> int:
        return int(self._stat("SELECT sessions FROM pg_stat_database WHERE datname = %s")[0])

    def backends(self) -> list[int]:
        return [int(pid) for pid in self._stat(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'kizuna'")]


@dataclass
class Run:
    load: Load
    app_cpu_ms: float  # per request, server processes
    db_cpu_ms: float  # per request, PostgreSQL backends open for the whole run (a lower bound)

    @property
    def cpu_ms(self) -> float:
        return self.app_cpu_ms + self.db_cpu_ms


@contextmanager
def _serving(postgres: str) -> Iterator[Target]:
    """A migrated database, a server, and one tenant's client credentials and token."""
    with throwaway_database(postgres) as url:
        kizuna(url, "migrate")
        with kizuna_server(url, workers=WORKERS) as base, httpx.Client(base_url=base) as http:
            platform = {"Authorization": f"Bearer {get_token(http, PLATFORM_ID, PLATFORM_SECRET)}"}
            made = http.post("/v1/tenants", json={"slug": "bench", "name": "Bench"}, headers=platform)
            made.raise_for_status()
            client = made.json()["initial_client"]
            yield Target(base=base, server_pid=base.pid, postgres=postgres, database=str(database_name(url)),
                         client_id=client["client_id"], secret=client["client_secret"],
                         token=get_token(http, client["client_id"], client["client_secret"]))


def _measure(target: Target, path: str, seconds: int, request: dict[str, Any]) -> tuple[Run, int]:
    app, sessions, backends = process_tree(target.server_pid), target.sessions(), target.backends()
    app_cpu, db_cpu = cpu_seconds(app), cpu_seconds(backends)
    load = drive(f"{target.base}{path}", seconds=seconds, **request)
    if load.non_2xx or load.socket_errors:
        raise RuntimeError(f"{path}: {load.non_2xx} non-2xx, {load.socket_errors} socket errors")
    per_request = 1000 / max(1, load.requests)
    run = Run(load=load, app_cpu_ms=cpu_delta(app_cpu, cpu_seconds(app)) * per_request,
              db_cpu_ms=cpu_delta(db_cpu, cpu_seconds(backends)) * per_request)
    return run, target.sessions() - sessions


def _rounds(target: Target, *, quick: bool, path: str,
            **request: Any) -> tuple[list[Run], list[Run], list[dict[str, Any]]]:
    """Warm up, then rounds of healthz, the endpoint, healthz; returns the healthz runs, the
    endpoint's runs and every run's raw figures."""
    seconds, rounds = (3, 1) if quick else (10, 3)
    drive(f"{target.base}{path}", seconds=2, **request)
    drive(f"{target.base}/healthz", seconds=2)
    healthz: list[Run] = []
    measured: list[Run] = []
    raw = []
    for i in range(rounds):
        plan = (("/healthz", {}, healthz), (path, request, measured), ("/healthz", {}, healthz))
        for url, req, into in plan:
            run, new_sessions = _measure(target, url, seconds, req)
            into.append(run)
            raw.append({"round": i, "endpoint": url, **vars(run.load), "rps": run.load.rps,
                        "app_cpu_ms_per_request": run.app_cpu_ms, "db_cpu_ms_per_request": run.db_cpu_ms,
                        "new_pg_sessions": new_sessions})
    return healthz, measured, raw


def _median(runs: list[Run], attr: str) -> float:
    def get(run: Run) -> float:
        return float(getattr(run.load, attr) if hasattr(run.load, attr) else getattr(run, attr))
    return statistics.median(get(run) for run in runs)


def _figures(name: str, healthz: list[Run], measured: list[Run], *, unit: str, target: str,
             met: Any) -> list[Figure]:
    rps, baseline = _median(measured, "rps"), _median(healthz, "rps")
    cost, base_cost = _median(measured, "cpu_ms"), _median(healthz, "cpu_ms")
    return [
        Figure(f"{name}, {WORKERS} workers ({measured[0].load.tool})", rps, unit, baseline,
               "GET /healthz req/s", target, met(rps, baseline)),
        Figure(f"{name} p99 latency", _median(measured, "p99_ms"), "ms", _median(healthz, "p99_ms"),
               "GET /healthz p99 ms"),
        Figure(f"{name} CPU per request (server + PostgreSQL)", cost, "ms", base_cost,
               "GET /healthz CPU ms"),
        Figure(f"{name}: healthz CPU / this CPU (the throughput ratio when CPU-bound)",
               base_cost / cost, "x"),
    ]


def run_token(server: str, *, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    with _serving(server) as target:
        healthz, token, raw = _rounds(
            target, quick=quick, path="/oauth/token", method="POST", body="grant_type=client_credentials",
            headers=(f"Authorization: {basic(target.client_id, target.secret)}",
                     "Content-Type: application/x-www-form-urlencoded"))
    figures = _figures("POST /oauth/token", healthz, token, unit="tokens/s", target=">= 500 tokens/s",
                       met=lambda rps, _baseline: rps >= 500)
    return figures, {"runs": raw}


def run_auth(server: str, *, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    """The issue's "authenticated trivial endpoint": GET /v1/me verifies the token, binds the
    tenant from the registry and answers without a query. GET /v1/clients?limit=1 adds one
    indexed read, for comparison (no target)."""
    with _serving(server) as target:
        auth = (f"Authorization: Bearer {target.token}",)
        healthz, me, raw = _rounds(target, quick=quick, path="/v1/me", headers=auth)
        healthz_db, listed, raw_db = _rounds(target, quick=quick, path="/v1/clients?limit=1", headers=auth)
    figures = _figures("GET /v1/me (tenant token)", healthz, me, unit="req/s",
                       target="ratio >= 0.7", met=lambda rps, baseline: rps / baseline >= 0.7)
    figures += _figures("GET /v1/clients?limit=1 (one indexed read)", healthz_db, listed, unit="req/s",
                        target="", met=lambda _rps, _baseline: None)
    return figures, {"runs": raw, "runs_with_read": raw_db}
