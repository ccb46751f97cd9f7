"""The two Alembic trees on real PostgreSQL: stairway, rendered == online, migrate across tenants."""

from __future__ import annotations

import secrets

from sqlalchemy import text

from infra.db.engine import make_engine
from infra.db.migrate import (
    head,
    migrate_all_tenants,
    migrate_tenant_schema,
    run_tenant_online,
    script_directory,
    tenant_schema_revision,
    upgrade_control,
)
from infra.db.urls import with_database
from infra.settings import Settings
from tests.conftest import _admin

CATALOG = """
SELECT 'column' AS kind, table_name || '.' || column_name || ' ' || data_type || ' '
       || is_nullable || ' ' || coalesce(column_default, '') AS item
  FROM information_schema.columns WHERE table_schema = :s
UNION ALL
SELECT 'constraint', conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(c.oid)
  FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = :s
UNION ALL
SELECT 'index', indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = :s
"""


def _revisions() -> list[str]:
    return [r.revision for r in reversed(list(script_directory("tenant").walk_revisions()))]


async def _catalog(conn, schema: str) -> set[str]:
    rows = await conn.execute(text(CATALOG), {"s": schema})
    # The schema name appears in qualified names; compare shapes, not names.
    return {f"{r.kind}:{r.item}".replace(schema + ".", "") for r in rows}


async def test_tenant_tree_stairway_upgrades_and_downgrades_every_revision(db):
    schema = f"t_stair_{secrets.token_hex(3)}"
    async with db.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    revisions = _revisions()
    assert revisions[-1] == head("tenant") and len(revisions) >= 2
    previous = "base"
    for revision in revisions:
        async with db.begin() as conn:
            await run_tenant_online(conn, schema, "upgrade", revision)
            assert await tenant_schema_revision(conn, schema) == revision
            await run_tenant_online(conn, schema, "downgrade", previous)
            assert await tenant_schema_revision(conn, schema) == (None if previous == "base" else previous)
            await run_tenant_online(conn, schema, "upgrade", revision)
        previous = revision
    async with db.begin() as conn:
        await run_tenant_online(conn, schema, "downgrade", "base")
        tables = (await conn.execute(text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
            {"s": schema})).scalars().all()
        assert tables == ["alembic_version"]
        await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


async def test_rendered_provisioning_ends_at_the_same_schema_as_online_alembic(db):
    rendered, online = f"t_rend_{secrets.token_hex(3)}", f"t_onl_{secrets.token_hex(3)}"
    async with db.begin() as conn:
        await migrate_tenant_schema(conn, rendered, current=None, create=True)
        await conn.exec_driver_sql(f'CREATE SCHEMA "{online}"')
        await run_tenant_online(conn, online, "upgrade", "head")
        a, b = await _catalog(conn, rendered), await _catalog(conn, online)
        assert a == b
        assert any("idempotency_keys" in item for item in a)
        assert await tenant_schema_revision(conn, rendered) == await tenant_schema_revision(conn, online)
        # and one step down and up again by the rendered path matches too
        await migrate_tenant_schema(conn, rendered, current=head("tenant"), target=_revisions()[0])
        await migrate_tenant_schema(conn, rendered, current=_revisions()[0], target="head")
        assert await _catalog(conn, rendered) == b
        await conn.exec_driver_sql(f'DROP SCHEMA "{rendered}" CASCADE')
        await conn.exec_driver_sql(f'DROP SCHEMA "{online}" CASCADE')


async def test_migrate_all_continues_past_a_failing_tenant_and_names_it(server_url):
    name = f"kizuna_mig_{secrets.token_hex(4)}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    engine = make_engine(with_database(server_url, name), Settings(), pool_size=4)
    try:
        await upgrade_control(engine)
        first = _revisions()[0]
        async with engine.begin() as conn:
            for slug in ("good_one", "broken", "good_two"):
                await conn.execute(text(
                    "INSERT INTO control.tenants (id, slug, name, timezone, currency, status, schema_name,"
                    " created_at, updated_at) VALUES (gen_random_uuid(), :slug, :name, 'Asia/Tokyo', 'JPY',"
                    " 'active', :schema, now(), now())"), {"slug": slug, "name": slug, "schema": f"t_{slug}"})
                await migrate_tenant_schema(conn, f"t_{slug}", current=None, target=first, create=True)
            # Something in the way of the next revision's table: that tenant's upgrade must fail.
            await conn.exec_driver_sql('CREATE TABLE "t_broken".audit_log (x int)')
        done: list[str] = []
        report = await migrate_all_tenants(engine, concurrency=2, on_done=done.append)
        assert sorted(report.upgraded) == ["t_good_one", "t_good_two"]
        assert list(report.failed) == ["t_broken"] and "audit_log" in report.failed["t_broken"]
        assert sorted(done) == ["t_broken", "t_good_one", "t_good_two"]
        async with engine.connect() as conn:
            assert await tenant_schema_revision(conn, "t_broken") == first  # rolled back whole
            assert await tenant_schema_revision(conn, "t_good_one") == head("tenant")
            behind = (await conn.execute(text(
                "SELECT slug FROM control.tenants WHERE schema_revision IS DISTINCT FROM :h"),
                {"h": head("tenant")})).scalars().all()
            assert behind == ["broken"]
        again = await migrate_all_tenants(engine, concurrency=2)
        assert sorted(again.current) == ["t_good_one", "t_good_two"] and list(again.failed) == ["t_broken"]
    finally:
        await engine.dispose()
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_control_tree_downgrades_to_base_and_back(server_url):
    name = f"kizuna_ctl_{secrets.token_hex(4)}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    engine = make_engine(with_database(server_url, name), Settings(), pool_size=1)
    try:
        await upgrade_control(engine)
        from alembic import command

        from infra.db.migrate import alembic_config
        async with engine.begin() as conn:
            await conn.run_sync(lambda s: command.downgrade(alembic_config("control", connection=s), "base"))
            left = (await conn.execute(text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'control' AND tablename <> 'alembic_version'"
            ))).scalar()
            assert left == 0
        await upgrade_control(engine)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM control.procrastinate_jobs"))).scalar() == 0
    finally:
        await engine.dispose()
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_tenant_tables_and_migrations_agree(db):
    """Autogenerate against a schema at head finds nothing: the table definitions in
    infra/db/tables/tenant.py and the tenant migrations describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from infra.db.tables.base import tenant_metadata

    schema = f"t_cmp_{secrets.token_hex(3)}"
    async with db.begin() as conn:
        await migrate_tenant_schema(conn, schema, current=None, create=True)
        await conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')

        def diff(sync):
            context = MigrationContext.configure(sync, opts={
                "include_name": lambda name, type_, parent: not (type_ == "table" and name == "alembic_version")})
            return compare_metadata(context, tenant_metadata)

        assert await conn.run_sync(diff) == []
        await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
