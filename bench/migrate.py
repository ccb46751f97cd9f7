"""`kizuna migrate` across many tenant schemas for one revision: the tenant tree's head.

Tenants are provisioned through the domain use case (faster than HTTP, same schema), every
schema is taken down to the head's parent (t0001 when the head is t0002, the additive audit_log
revision), and `kizuna migrate` brings them back up as a subprocess, timed whole.
Baselines in the same run: `kizuna migrate` with every schema already current (process start,
control plane and the per-schema version checks), and the same upgrade with --concurrency 1.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from bench.common import Figure, kizuna, throwaway_database
from domain.shared.clock import SystemClock
from domain.tenants.services import create_tenant
from infra.db.migrate import head, migrate_tenant_schema, script_directory
from infra.runtime import runtime
from infra.settings import Settings

PARALLEL = 4


async def _provision(url: str, n: int) -> None:
    settings = Settings(database_url=url)
    async with runtime(settings, url, pool_size=PARALLEL) as rt:
        gate = asyncio.Semaphore(PARALLEL)

        async def one(i: int) -> None:
            async with gate:
                await create_tenant(uow=rt.uow_factory(None), clock=SystemClock(),
                                    slug=f"m_{i:05d}", name=f"Migrate {i}")
        await asyncio.gather(*(one(i) for i in range(n)))


def last_step() -> tuple[str, str]:
    """The tenant tree's head and the revision before it."""
    top = head("tenant")
    parent = script_directory("tenant").get_revision(top).down_revision
    if not isinstance(parent, str):
        raise RuntimeError(f"tenant head {top} has no single parent revision")
    return parent, top


async def _downgrade_all(url: str, parent: str, top: str) -> None:
    settings = Settings(database_url=url)
    async with runtime(settings, url, pool_size=PARALLEL) as rt:
        async with rt.engine.connect() as conn:
            schemas = [r.schema_name for r in await conn.execute(text(
                "SELECT schema_name FROM control.tenants"))]
        gate = asyncio.Semaphore(PARALLEL)

        async def one(schema: str) -> None:
            async with gate, rt.engine.begin() as conn:
                await migrate_tenant_schema(conn, schema, current=top, target=parent)
        await asyncio.gather(*(one(s) for s in schemas))


async def _revisions(url: str) -> dict[str, int]:
    settings = Settings(database_url=url)
    async with runtime(settings, url, pool_size=1) as rt, rt.engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT coalesce(schema_revision, 'none') AS rev, count(*) AS n "
            "FROM control.tenants GROUP BY 1"))
        return {row.rev: row.n for row in rows}


def run(server: str, *, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    n = 100 if quick else 1000
    parent, top = last_step()
    raw: dict[str, Any] = {"tenants": n, "from": parent, "to": top}
    with throwaway_database(server) as url:
        kizuna(url, "migrate")
        asyncio.run(_provision(url, n))
        current, raw["current_output"] = kizuna(url, "migrate")

        asyncio.run(_downgrade_all(url, parent, top))
        raw["before"] = asyncio.run(_revisions(url))
        upgrade, raw["upgrade_output"] = kizuna(url, "migrate")
        raw["after"] = asyncio.run(_revisions(url))
        if raw["after"] != {top: n}:
            raise RuntimeError(f"kizuna migrate left schemas behind: {raw['after']}")

        asyncio.run(_downgrade_all(url, parent, top))
        serial, raw["serial_output"] = kizuna(url, "migrate", "--concurrency", "1")

    raw |= {"upgrade_s": upgrade, "current_s": current, "serial_s": serial}
    figures = [
        Figure(f"kizuna migrate, {n} schemas {parent}->{top} (concurrency 8)", upgrade, "s", current,
               "same command, all schemas current, s", "<= 60 s for 1,000",
               upgrade <= 60 if n >= 1000 else None),
        Figure(f"kizuna migrate, {n} schemas {parent}->{top} (concurrency 8)", upgrade, "s", serial,
               "same upgrade with --concurrency 1, s"),
        Figure("per-schema upgrade cost, net of the all-current run", (upgrade - current) / n * 1000,
               "ms/schema"),
    ]
    return figures, raw
