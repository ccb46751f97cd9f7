"""Shared fixtures: one throw-away database per test session on a real PostgreSQL server.

The server is KIZUNA_DATABASE_URL when set (CI's PostgreSQL 15), else the embedded one under
.kizuna/ (as `make run` uses). The database is created at session start and dropped at the end.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from infra.db.engine import make_engine
from infra.db.migrate import upgrade_control
from infra.db.urls import with_database
from infra.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_ID = "platform-test"
PLATFORM_SECRET = "platform-test-secret-" + "x" * 32


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    configured = os.environ.get("KIZUNA_DATABASE_URL")
    if configured:
        yield configured
        return
    from infra.db.embedded import start_embedded, stop_embedded

    url, handle = start_embedded(ROOT / ".kizuna")
    yield url
    stop_embedded(handle)


async def _admin(url: str, sql: str) -> None:
    engine = make_engine(url, Settings(), pool_size=1)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql(sql)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    name = f"kizuna_test_{os.getpid()}_{secrets.token_hex(4)}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = with_database(server_url, name)
    engine = make_engine(url, Settings(), pool_size=1)
    await upgrade_control(engine)
    await engine.dispose()
    yield url
    await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, bootstrap_client_id=PLATFORM_ID,
                    bootstrap_client_secret=PLATFORM_SECRET, cors_origins=["https://app.example"],
                    max_body_bytes=64 * 1024, log_format="console", cache_ttl_seconds=30)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings, database_url=settings.database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def engine(app: Any) -> AsyncEngine:
    return app.state.engine  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
async def api(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kizuna.test") as client:
        yield client


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def get_token(api: httpx.AsyncClient, client_id: str, secret: str, scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    response = await api.post("/oauth/token", data=data, headers=basic(client_id, secret))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
async def platform(api: httpx.AsyncClient) -> dict[str, str]:
    """Headers of a platform operator (scope platform:admin)."""
    return bearer(await get_token(api, PLATFORM_ID, PLATFORM_SECRET))


@dataclass
class TenantHandle:
    id: str
    slug: str
    client_id: str
    client_secret: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


@pytest.fixture(scope="session")
async def make_tenant(api: httpx.AsyncClient, platform: dict[str, str]) -> Any:
    async def make(prefix: str = "t") -> TenantHandle:
        slug = f"{prefix}_{secrets.token_hex(5)}"
        response = await api.post("/v1/tenants", json={"slug": slug, "name": f"Tenant {slug}"},
                                  headers=platform)
        assert response.status_code == 201, response.text
        body = response.json()
        client = body["initial_client"]
        token = await get_token(api, client["client_id"], client["client_secret"])
        return TenantHandle(id=body["id"], slug=slug, client_id=client["client_id"],
                            client_secret=client["client_secret"], token=token)
    return make


@pytest.fixture
async def tenant_a(make_tenant: Any) -> TenantHandle:
    return await make_tenant("a")  # type: ignore[no-any-return]


@pytest.fixture
async def tenant_b(make_tenant: Any) -> TenantHandle:
    return await make_tenant("b")  # type: ignore[no-any-return]
