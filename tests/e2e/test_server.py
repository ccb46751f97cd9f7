"""A real `kizuna serve` (two worker processes) driven through an SDK generated from
openapi/openapi.json, as a platform operator and a partner would use it."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.engine import make_engine
from infra.db.migrate import head, migrate_tenant_schema, quote_schema, script_directory
from infra.settings import Settings
from tests.e2e.support import KIZUNA, OPERATOR_ID, OPERATOR_SECRET, Sdk, Server, server_env

pytestmark = pytest.mark.e2e

PROBLEM_JSON = "application/problem+json"
COMMAND_TIMEOUT = 60.0
# A new TCP connection per request, so that requests spread over both worker processes.
FRESH = {"limits": httpx.Limits(max_keepalive_connections=0)}


# -- helpers ---------------------------------------------------------------------------------

def anonymous(sdk: Sdk, server: Server) -> Any:
    return sdk.package.Client(base_url=server.base_url, raise_on_unexpected_status=True,
                              timeout=httpx.Timeout(10.0), httpx_args=FRESH)


def bearer(sdk: Sdk, server: Server, token: str) -> Any:
    return sdk.package.AuthenticatedClient(base_url=server.base_url, token=token,
                                           raise_on_unexpected_status=True,
                                           timeout=httpx.Timeout(10.0), httpx_args=FRESH)


async def fetch_token(sdk: Sdk, server: Server, client_id: str, client_secret: str) -> Any:
    """POST /oauth/token (form-encoded, client_secret_post); returns the SDK's response."""
    body = sdk.models.BodyOauthToken(grant_type="client_credentials", client_id=client_id,
                                     client_secret=client_secret)
    async with anonymous(sdk, server) as client:
        return await sdk.oauth.oauth_token.asyncio_detailed(client=client, body=body)


async def token_for(sdk: Sdk, server: Server, client_id: str, client_secret: str) -> str:
    response = await fetch_token(sdk, server, client_id, client_secret)
    assert response.status_code == 200, response.content
    assert isinstance(response.parsed, sdk.models.TokenResponse)
    assert response.headers["cache-control"] == "no-store"
    return str(response.parsed.access_token)


@dataclass
class Provisioned:
    id: UUID
    slug: str
    client_id: str
    client_secret: str
    token: str


async def provision(sdk: Sdk, server: Server, platform: Any, prefix: str) -> Provisioned:
    slug = f"{prefix}_{secrets.token_hex(4)}"
    response = await sdk.tenants.tenants_create.asyncio_detailed(
        client=platform, body=sdk.models.TenantCreate(slug=slug, name=f"E2E {slug} 株式会社"),
        idempotency_key=f"create-{slug}")
    assert response.status_code == 201, response.content
    created = response.parsed
    assert isinstance(created, sdk.models.TenantCreated)
    assert response.headers["location"] == f"/v1/tenants/{created.id}"
    initial = created.initial_client
    token = await token_for(sdk, server, initial.client_id, initial.client_secret)
    return Provisioned(id=created.id, slug=slug, client_id=initial.client_id,
                       client_secret=initial.client_secret, token=token)


async def workers_that_served(server: Server, method: str, route: str, status: int,
                              scrapes: int = 40) -> int:
    """How many worker processes have served `method route -> status` at least once.

    Each worker has its own Prometheus registry; the `_created` timestamp of a labelled counter
    is set when that worker first counts it, so distinct timestamps are distinct workers. Scrape
    over fresh connections until both are seen (or give up after `scrapes`)."""
    series = (f'kizuna_http_requests_created{{method="{method}",route="{route}",'
              f'status="{status}"}} ')
    seen: set[str] = set()
    async with httpx.AsyncClient(base_url=server.base_url, **FRESH) as http:
        for _ in range(scrapes):
            body = (await http.get("/metrics")).text
            seen.update(line[len(series):] for line in body.splitlines() if line.startswith(series))
            if len(seen) >= 2:
                break
    return len(seen)


async def kizuna(server: Server, *args: str) -> tuple[int, str]:
    """Run the `kizuna` command against the test database; returns (exit code, output)."""
    proc = await asyncio.create_subprocess_exec(
        str(KIZUNA), *args, env=server_env(server.database_url, KIZUNA_MIGRATE_CONCURRENCY="4"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(COMMAND_TIMEOUT):
            output, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, output.decode("utf-8", "replace")


async def schema_of(engine: AsyncEngine, tenant_id: UUID) -> tuple[str, str | None]:
    async with engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT schema_name, schema_revision FROM control.tenants WHERE id = :id"),
            {"id": tenant_id})).one()
    return str(row.schema_name), row.schema_revision


# -- tests -----------------------------------------------------------------------------------

async def test_operator_and_partner_journey(server: Server, sdk: Sdk) -> None:
    m = sdk.models
    async with anonymous(sdk, server) as anon:
        live = await sdk.health.health_live.asyncio_detailed(client=anon)
        assert live.status_code == 200 and live.parsed.status == "ok"

    # A platform operator (the bootstrap client `serve` ensured) gets a token...
    wrong = await fetch_token(sdk, server, OPERATOR_ID, "not-the-secret")
    assert wrong.status_code == 401
    assert isinstance(wrong.parsed, m.OAuthErrorBody) and wrong.parsed.error == "invalid_client"
    operator = await token_for(sdk, server, OPERATOR_ID, OPERATOR_SECRET)

    async with bearer(sdk, server, operator) as platform:
        # ...provisions a tenant, whose initial client gets a token of its own.
        tenant = await provision(sdk, server, platform, "e2e")

        async with bearer(sdk, server, tenant.token) as partner:
            listed = await sdk.clients.clients_list.asyncio_detailed(client=partner, limit=50)
            assert listed.status_code == 200
            assert isinstance(listed.parsed, m.PageClientRead)
            assert [c.client_id for c in listed.parsed.data] == [tenant.client_id]

            made = await sdk.clients.clients_create.asyncio_detailed(
                client=partner, body=m.ClientCreate(name="shop-sync", scopes=["clients:read"]),
                idempotency_key=f"shop-sync-{tenant.slug}")
            assert made.status_code == 201, made.content
            shop = made.parsed
            assert isinstance(shop, m.ClientWithSecret) and shop.scopes == ["clients:read"]
            shop_token = await token_for(sdk, server, shop.client_id, shop.client_secret)

            # The narrow client reads but may not write: 403 insufficient-scope, as problem+json.
            async with bearer(sdk, server, shop_token) as narrow:
                assert (await sdk.clients.clients_list.asyncio_detailed(client=narrow)).status_code == 200
                refused = await sdk.clients.clients_create.asyncio_detailed(
                    client=narrow, body=m.ClientCreate(name="nope", scopes=["clients:read"]))
                assert refused.status_code == 403
                assert refused.headers["content-type"].startswith(PROBLEM_JSON)
                assert refused.parsed.code == "insufficient_scope"

            # Rotation without overlap: the new secret works, the old one stops at once.
            rotated = await sdk.clients.clients_rotate_secret.asyncio_detailed(
                shop.id, client=partner, body=m.SecretRotation(overlap_seconds=0))
            assert rotated.status_code == 200, rotated.content
            assert isinstance(rotated.parsed, m.ClientWithSecret)
            assert rotated.parsed.client_secret != shop.client_secret
            await token_for(sdk, server, shop.client_id, rotated.parsed.client_secret)
            old = await fetch_token(sdk, server, shop.client_id, shop.client_secret)
            assert old.status_code == 401 and old.parsed.error == "invalid_client"

            listed = await sdk.clients.clients_list.asyncio_detailed(client=partner)
            assert {c.client_id for c in listed.parsed.data} == {tenant.client_id, shop.client_id}

            # A tenant token is not a platform token.
            denied = await sdk.tenants.tenants_get.asyncio_detailed(tenant.id, client=partner)
            assert denied.status_code == 403

        # Optimistic concurrency: read with ETag, write with If-Match, a stale tag is 412.
        read = await sdk.tenants.tenants_get.asyncio_detailed(tenant.id, client=platform)
        assert read.status_code == 200 and read.parsed.slug == tenant.slug
        first_tag = read.headers["etag"]
        renamed = await sdk.tenants.tenants_update.asyncio_detailed(
            tenant.id, client=platform, body=m.TenantUpdate(name="Renamed 株式会社"), if_match=first_tag)
        assert renamed.status_code == 200, renamed.content
        assert renamed.parsed.name == "Renamed 株式会社"
        assert renamed.headers["etag"] != first_tag
        stale = await sdk.tenants.tenants_update.asyncio_detailed(
            tenant.id, client=platform, body=m.TenantUpdate(name="Lost update"), if_match=first_tag)
        assert stale.status_code == 412
        assert stale.headers["content-type"].startswith(PROBLEM_JSON)
        assert isinstance(stale.parsed, m.Problem)
        assert stale.parsed.code == "precondition_failed"
        assert stale.parsed.type_ == "https://kizuna.dev/problems/precondition-failed"
        assert stale.parsed.request_id == stale.headers["x-request-id"]
        again = await sdk.tenants.tenants_get.asyncio_detailed(tenant.id, client=platform)
        assert again.parsed.name == "Renamed 株式会社" and again.headers["etag"] == renamed.headers["etag"]


async def test_suspension_reaches_every_worker_at_once(server: Server, sdk: Sdk) -> None:
    """Each worker caches the tenant registry (TTL 600 s here); only LISTEN/NOTIFY can tell the
    worker that did not handle the PATCH that the tenant is suspended."""
    m = sdk.models
    operator = await token_for(sdk, server, OPERATOR_ID, OPERATOR_SECRET)
    async with bearer(sdk, server, operator) as platform:
        tenant = await provision(sdk, server, platform, "e2e_susp")
        async with bearer(sdk, server, tenant.token) as partner:
            # Warm both workers: each resolves (and caches) the tenant as active. Deleting an
            # unknown client is 404 after authentication, a route no other test uses.
            for _ in range(10):
                for _ in range(6):
                    probe = await sdk.clients.clients_delete.asyncio_detailed(uuid4(), client=partner)
                    assert probe.status_code == 404, probe.content
                if await workers_that_served(server, "DELETE", "/v1/clients/{client_id}", 404) == 2:
                    break
            else:
                pytest.fail("the requests never reached both workers")

            suspended = await sdk.tenants.tenants_update.asyncio_detailed(
                tenant.id, client=platform, body=m.TenantUpdate(status=m.TenantUpdateStatusType0.SUSPENDED))
            assert suspended.status_code == 200 and suspended.parsed.status == "suspended"

            # The very next requests, wherever they land, are refused.
            for _ in range(10):
                for _ in range(6):
                    refused = await sdk.clients.clients_list.asyncio_detailed(client=partner)
                    assert refused.status_code == 403, refused.content
                    assert refused.parsed.code == "tenant_suspended"
                if await workers_that_served(server, "GET", "/v1/clients", 403) == 2:
                    break
            else:
                pytest.fail("the refusals never came from both workers")

            # And back: reactivation also holds on every worker at once.
            resumed = await sdk.tenants.tenants_update.asyncio_detailed(
                tenant.id, client=platform, body=m.TenantUpdate(status=m.TenantUpdateStatusType0.ACTIVE))
            assert resumed.status_code == 200 and resumed.parsed.status == "active"
            for _ in range(12):
                listed = await sdk.clients.clients_list.asyncio_detailed(client=partner)
                assert listed.status_code == 200, listed.content


async def test_readyz_follows_migrations(server: Server, sdk: Sdk, database_url: str) -> None:
    """`serve` never migrates: a tenant schema behind its head makes /readyz 503 until
    `kizuna migrate` upgrades it; a failing tenant makes `migrate` exit 1 after doing the rest."""
    m = sdk.models
    tenant_head = head("tenant")
    previous = script_directory("tenant").get_revision(tenant_head).down_revision
    if not isinstance(previous, str):
        pytest.skip("the tenant tree has a single revision: nothing to downgrade to")

    async with anonymous(sdk, server) as anon:
        async def readyz() -> Any:
            response = await sdk.health.health_ready.asyncio_detailed(client=anon)
            assert isinstance(response.parsed, m.Readiness)
            return response

        code, output = await kizuna(server, "migrate")
        assert code == 0, output
        ready = await readyz()
        assert ready.status_code == 200 and ready.parsed.status == "ready", ready.content

        operator = await token_for(sdk, server, OPERATOR_ID, OPERATOR_SECRET)
        async with bearer(sdk, server, operator) as platform:
            behind = await provision(sdk, server, platform, "e2e_behind")
            broken = await provision(sdk, server, platform, "e2e_broken")

        engine = make_engine(database_url, Settings(), pool_size=1)
        try:
            behind_schema, revision = await schema_of(engine, behind.id)
            assert revision == tenant_head
            broken_schema, _ = await schema_of(engine, broken.id)
            # Really take both schemas one revision back, each in its own transaction.
            for schema in (behind_schema, broken_schema):
                async with engine.begin() as conn:
                    await migrate_tenant_schema(conn, schema, current=tenant_head, target=previous)
            assert (await schema_of(engine, behind.id))[1] == previous

            pending = await readyz()
            assert pending.status_code == 503
            assert pending.parsed.status == "migrations_pending"
            assert pending.parsed.tenants_behind >= 2
            assert pending.parsed.tenant_head == tenant_head

            # One schema names a revision Alembic does not know: migrate upgrades the other,
            # reports this one and exits 1.
            version_table = f"{quote_schema(broken_schema)}.alembic_version"
            async with engine.begin() as conn:
                await conn.execute(text(f"UPDATE {version_table} SET version_num = 'bogus'"))
            code, output = await kizuna(server, "migrate")
            assert code == 1, output
            assert re.search(rf"failed.*{broken_schema}", output), output
            assert (await schema_of(engine, behind.id))[1] == tenant_head
            still = await readyz()
            assert still.status_code == 503 and still.parsed.tenants_behind >= 1

            # Repaired, the next migrate finishes the job and the server is ready again.
            async with engine.begin() as conn:
                await conn.execute(text(f"UPDATE {version_table} SET version_num = :v"),
                                   {"v": previous})
            code, output = await kizuna(server, "migrate")
            assert code == 0, output
            assert (await schema_of(engine, broken.id))[1] == tenant_head
        finally:
            await engine.dispose()

        ready = await readyz()
        assert ready.status_code == 200 and ready.parsed.status == "ready", ready.content
        assert ready.parsed.tenants_behind == 0

    # The serving workers still work on the migrated schemas (no stale prepared statements).
    for tenant in (behind, broken):
        async with bearer(sdk, server, tenant.token) as partner:
            for attempt in range(4):
                made = await sdk.clients.clients_create.asyncio_detailed(
                    client=partner, body=m.ClientCreate(name=f"after-migrate-{attempt}",
                                                        scopes=["clients:read"]),
                    idempotency_key=f"after-migrate-{tenant.slug}-{attempt}")
                assert made.status_code == 201, made.content
