"""The `kizuna` command against the session's database, as an operator would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

KIZUNA = str(Path(sys.executable).parent / "kizuna")


def run(database_url: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"KIZUNA_DATABASE_URL": database_url, "KIZUNA_LOG_LEVEL": "warning"}
    done = subprocess.run([KIZUNA, *args], env=env, capture_output=True, text=True, timeout=60)
    if ok:
        assert done.returncode == 0, done.stderr + done.stdout
    return done


def test_tenants_clients_keys_and_demo(database_url):
    made = run(database_url, "tenants", "create", "cli_shop", "--name", "CLI 商店")
    assert "client_secret: ksec_" in made.stdout
    assert "cli_shop" in run(database_url, "tenants", "list").stdout
    again = run(database_url, "tenants", "create", "cli_shop", "--name", "x", ok=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert "suspended" in run(database_url, "tenants", "suspend", "cli_shop").stdout
    assert "active" in run(database_url, "tenants", "resume", "cli_shop").stdout
    client = run(database_url, "clients", "create", "--tenant", "cli_shop", "--name", "etl",
                 "--scopes", "orders:read orders:write")
    assert "scopes:        orders:read orders:write" in client.stdout
    assert "signing with key" in run(database_url, "keys", "rotate").stdout
    first = run(database_url, "demo").stdout
    second = run(database_url, "demo").stdout
    secret = [line for line in first.splitlines() if line.startswith("client_secret:")]
    assert secret and secret[0] not in second  # a fresh secret each time; the old one is replaced
    assert "curl -s -u" in first and "/oauth/token" in first


def test_demo_tenant_has_sample_data_seeded_once(database_url):
    import asyncio

    from sqlalchemy import text

    from infra.db.engine import make_engine
    from infra.settings import Settings

    run(database_url, "demo")
    run(database_url, "demo")

    async def counts():
        engine = make_engine(database_url, Settings(), pool_size=1)
        try:
            async with engine.connect() as conn:
                return [(await conn.execute(text(f"SELECT count(*) FROM t_demo.{t}"))).scalar()
                        for t in ("customers", "orders", "products", "events", "consents")]
        finally:
            await engine.dispose()

    customers, orders, products, events, consents = asyncio.run(counts())
    assert (customers, orders, products, consents) == (3, 6, 3, 3) and events == 3


def test_migrate_reports_a_clean_run(database_url):
    done = run(database_url, "migrate")
    assert "0 failed" in done.stderr


def test_openapi_command_writes_the_document(tmp_path, database_url):
    target = tmp_path / "doc.json"
    run(database_url, "openapi", "--output", str(target))
    assert (Path(__file__).resolve().parents[2] / "openapi" / "openapi.json").read_text() == target.read_text()
