"""Running the two Alembic trees.

Control plane: Alembic online, once. Tenant schemas: Alembic renders the tenant tree as SQL once
per revision range (offline mode, unqualified names), and that script runs in each schema under
`SET LOCAL search_path` (transaction-scoped, so nothing leaks through the pool). One rendering
serves thousands of schemas with real concurrency, which Alembic's module-global `op` proxy does
not allow in one process. The online path exists for the stairway test and autogenerate, and a
test proves both paths end at the same schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from io import StringIO
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import migrations
from infra.db.scripts import execute_script_async
from infra.db.tables.base import CONTROL_SCHEMA

TREES = Path(migrations.__file__).parent


def alembic_config(tree: str, **attributes: Any) -> Config:
    cfg = Config(output_buffer=attributes.pop("output_buffer", None))
    cfg.set_main_option("script_location", str(TREES / tree))
    cfg.attributes.update(attributes)
    return cfg


@lru_cache(maxsize=2)
def script_directory(tree: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(tree))


def head(tree: str) -> str:
    revision = script_directory(tree).get_current_head()
    assert revision is not None
    return revision


def quote_schema(schema: str) -> str:
    # Schema names come from the validated tenant registry (t_ + ^[a-z][a-z0-9_]{1,40}$); quoting
    # is a second guard, never the first.
    if not schema.replace("_", "").isalnum() or not schema.isascii() or '"' in schema:
        raise ValueError(f"refusing schema name {schema!r}")
    return f'"{schema}"'


# -- control plane ---------------------------------------------------------------------------

async def upgrade_control(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {CONTROL_SCHEMA}")
        await conn.run_sync(
            lambda sync: command.upgrade(alembic_config("control", connection=sync), revision))


async def control_revision(conn: AsyncConnection) -> str | None:
    return await conn.run_sync(lambda sync: MigrationContext.configure(
        sync, opts={"version_table_schema": CONTROL_SCHEMA}).get_current_revision())


# -- tenant schemas --------------------------------------------------------------------------

@lru_cache(maxsize=64)
def tenant_script(start: str | None, end: str) -> str:
    """The SQL that takes a tenant schema from `start` (None: empty) to `end`, either way."""
    buffer = StringIO()
    cfg = alembic_config("tenant", output_buffer=buffer)
    script = script_directory("tenant")
    going_down = start is not None and end != "head" and _is_ancestor(script, end, start)
    if going_down:
        command.downgrade(cfg, f"{start}:{end}", sql=True)
    else:
        command.upgrade(cfg, f"{start}:{end}" if start else end, sql=True)
    return buffer.getvalue()


def _is_ancestor(script: ScriptDirectory, older: str, newer: str) -> bool:
    if older == "base":
        return True
    return any(rev.revision == older for rev in script.iterate_revisions(newer, "base"))


def _resolve(target: str) -> str:
    return head("tenant") if target == "head" else target


async def tenant_schema_revision(conn: AsyncConnection, schema: str) -> str | None:
    exists = (await conn.execute(text(
        "SELECT to_regclass(:t) IS NOT NULL"), {"t": f"{quote_schema(schema)}.alembic_version"})).scalar()
    if not exists:
        return None
    return (await conn.execute(text(
        f"SELECT version_num FROM {quote_schema(schema)}.alembic_version"))).scalar()  # noqa: S608


async def migrate_tenant_schema(conn: AsyncConnection, schema: str, *, current: str | None,
                                target: str = "head", create: bool = False) -> str:
    """Bring `schema` from `current` to `target` inside the caller's transaction."""
    target = _resolve(target)
    if current == target and not create:
        return target
    down_to_base = target == "base"
    sql = "" if (current is None and down_to_base) else tenant_script(current, target)
    prefix = f"CREATE SCHEMA {quote_schema(schema)};\n" if create else ""
    await execute_script_async(conn, (
        f"{prefix}SET LOCAL search_path TO {quote_schema(schema)};\n{sql}\n"
        "SET LOCAL search_path TO DEFAULT;"))
    revision = None if down_to_base else target
    await conn.execute(text(
        "UPDATE control.tenants SET schema_revision = :rev WHERE schema_name = :schema"),
        {"rev": revision, "schema": schema})
    return target


async def run_tenant_online(conn: AsyncConnection, schema: str, action: str, revision: str) -> None:
    """Alembic online on one schema (stairway test, autogenerate); `action` is upgrade|downgrade."""
    def run(sync: Any) -> None:
        cfg = alembic_config("tenant", connection=sync, schema=schema)
        getattr(command, action)(cfg, revision)
    await conn.run_sync(run)


@dataclass
class MigrationReport:
    upgraded: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


async def migrate_all_tenants(engine: AsyncEngine, *, concurrency: int, target: str = "head",
                              on_done: Callable[[str], None] | None = None) -> MigrationReport:
    """Every tenant schema to `target`, `concurrency` at a time, each in its own transaction; a
    failing tenant is reported and the others carry on."""
    async with engine.connect() as conn:
        schemas = [row.schema_name for row in await conn.execute(text(
            "SELECT schema_name FROM control.tenants ORDER BY slug"))]
    report = MigrationReport()
    gate = asyncio.Semaphore(max(1, concurrency))
    wanted = _resolve(target)

    async def one(schema: str) -> None:
        async with gate:
            try:
                async with engine.begin() as conn:
                    current = await tenant_schema_revision(conn, schema)
                    if current == wanted:
                        # keep the registry's copy honest (readiness reads it)
                        await conn.execute(text(
                            "UPDATE control.tenants SET schema_revision = :rev WHERE schema_name = :s"
                            " AND schema_revision IS DISTINCT FROM :rev"), {"rev": current, "s": schema})
                        report.current.append(schema)
                    else:
                        await migrate_tenant_schema(conn, schema, current=current, target=wanted)
                        report.upgraded.append(schema)
            except Exception as exc:  # one tenant's failure must not stop the others
                report.failed[schema] = f"{type(exc).__name__}: {exc}"
            finally:
                if on_done is not None:
                    on_done(schema)

    await asyncio.gather(*(one(schema) for schema in schemas))
    return report
