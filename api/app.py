"""The composition root: wires infra adapters into domain ports and builds the FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import Gauge

from api import errors
from api.deps import Wiring
from api.http.middleware import BodyGuardMiddleware, RequestContextMiddleware
from api.openapi_doc import customise_openapi
from api.routers import (
    analytics,
    clients,
    customers,
    events,
    health,
    imports,
    jobs,
    loyalty,
    loyalty_campaigns,
    marketing,
    me,
    oauth,
    orders,
    products,
    reports,
    tenants,
    timeline,
)
from domain.auth.model import TenantRef
from domain.auth.services import TokenPolicy, ensure_platform_client
from domain.shared.clock import Clock, SystemClock
from infra.auth.keys import KeyStore, ensure_signing_key
from infra.auth.tokens import JwtSigner, JwtVerifier, TokenAuthenticator
from infra.caches import Caches, RevokedTokens, TenantRegistry
from infra.db.engine import make_engine
from infra.db.notify import CacheListener
from infra.db.readiness import readiness
from infra.db.uow import SqlUnitOfWork
from infra.db.urls import libpq_url
from infra.event_routes import build_event_bus
from infra.settings import Settings

POOL_IN_USE = Gauge("kizuna_db_pool_checked_out", "Database connections in use")
POOL_SIZE = Gauge("kizuna_db_pool_size", "Database pool size")

VERSION = "0.1.0"
DESCRIPTION = """
Kizuna (絆) is a multi-tenant API for customer-relationship and retention marketing.

* **Authentication**: OAuth 2 client credentials. `POST /oauth/token` with your client id and
  secret, then send `Authorization: Bearer <access_token>`. Tokens are ES256 JWTs; keys at
  `/.well-known/jwks.json`.
* **Errors** are RFC 9457 `application/problem+json` with a stable `code` and the `request_id`.
* **Lists** use cursor pagination: `limit`, `cursor`; responses `{"data": [...], "next_cursor"}`.
* **Idempotency**: send `Idempotency-Key` on POSTs; the same key and body replays the first
  response for 24 hours.
* **Concurrency**: reads of mutable resources return `ETag`; send it back in `If-Match`.
"""


def create_app(settings: Settings, *, database_url: str | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the app. Without `database_url` it serves no requests that need the database (used to
    generate the OpenAPI document)."""
    clock = clock or SystemClock()
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if database_url is None:
            yield
            return
        engine = make_engine(database_url, settings)
        keys = KeyStore(engine, settings.cache_ttl_seconds)
        caches = Caches(tenants=TenantRegistry(engine, settings.cache_ttl_seconds),
                        revoked=RevokedTokens(engine, settings.cache_ttl_seconds,
                                               settings.token_ttl_seconds), keys=keys)
        await ensure_signing_key(engine)
        await keys.load()
        def on_message(payload: str) -> None:
            caches.handle(payload)
            if payload == "migrated":
                # Prepared statements cached per connection may describe old table shapes
                # (InvalidCachedStatementError): start over with fresh connections.
                asyncio.get_running_loop().create_task(engine.dispose())

        listener = CacheListener(libpq_url(settings.listen_database_url or database_url), on_message)
        await listener.start()
        ttl = timedelta(hours=settings.idempotency_ttl_hours)

        bus = build_event_bus()

        def uow_factory(tenant: TenantRef | None, *, read_only: bool = False) -> SqlUnitOfWork:
            return SqlUnitOfWork(engine, caches, tenant=tenant, idempotency_ttl=ttl, bus=bus,
                                 read_only=read_only)

        async def jwks() -> dict[str, Any]:
            await keys.refresh_if_stale()
            return keys.jwks()

        verifier = JwtVerifier(keys, issuer=settings.issuer, audience=settings.audience)
        app.state.wiring = Wiring(
            clock=clock, authenticator=TokenAuthenticator(verifier, caches), signer=JwtSigner(keys),
            verifier=verifier,
            token_policy=TokenPolicy(issuer=settings.issuer, audience=settings.audience,
                                     ttl_seconds=settings.token_ttl_seconds),
            uow_factory=uow_factory, jwks=jwks, readiness=lambda: readiness(engine))
        app.state.engine = engine
        app.state.bus = bus
        app.state.caches = caches

        def collect_metrics() -> None:
            pool: Any = engine.pool
            POOL_IN_USE.set(pool.checkedout())
            POOL_SIZE.set(pool.size())

        app.state.collect_metrics = collect_metrics
        if settings.bootstrap_client_id and settings.bootstrap_client_secret:
            await ensure_platform_client(uow=uow_factory(None), clock=clock,
                                         client_id=settings.bootstrap_client_id,
                                         client_secret=settings.bootstrap_client_secret)
        state["engine"] = engine
        try:
            yield
        finally:
            await listener.stop()
            await asyncio.shield(engine.dispose())

    app = FastAPI(title="Kizuna API", version=VERSION, description=DESCRIPTION, lifespan=lifespan,
                  openapi_tags=[
                      {"name": "oauth", "description": "OAuth 2 authorization server"},
                      {"name": "tenants", "description": "Tenant provisioning (platform operators)"},
                      {"name": "clients", "description": "A tenant's OAuth clients"},
                      {"name": "customers", "description": "Profiles, identities, consents, merges"},
                      {"name": "products", "description": "The catalogue (favourites, restock, price drops)"},
                      {"name": "orders", "description": "Orders, lines, refunds"},
                      {"name": "events", "description": "Behaviour events from every touchpoint"},
                      {"name": "imports", "description": "Bulk CSV imports run as jobs"},
                      {"name": "health", "description": "Liveness and readiness"},
                      {"name": "analytics", "description": "Customer metrics, RFM, lifetime value"},
                      {"name": "jobs", "description": "Background jobs: status and progress"},
                      {"name": "marketing", "description": "Marketing costs (CPO and ROMI read them)"},
                      {"name": "loyalty",
                       "description": "Point programs, ledger, tiers, rewards, entry campaigns"},
                  ])
    errors.install(app)
    # The busiest routes first: FastAPI matches a request against every route in order, and a
    # customer read used to try ~20 others first (10% of its CPU, docs/performance.md).
    for router in (customers.router, events.router, oauth.router, tenants.router, clients.router, me.router,
                   customers.attributes_router, timeline.router, products.router, orders.router,
                   imports.router, health.router):
        app.include_router(router)
    app.include_router(analytics.router)
    app.include_router(analytics.customer_metrics_router)
    app.include_router(jobs.router)
    app.include_router(marketing.router)
    app.include_router(loyalty.router)
    app.include_router(loyalty_campaigns.router)
    app.include_router(reports.router)
    app.add_middleware(BodyGuardMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    # Added last, so outermost: refusals (413, 415, 500) also carry CORS headers browsers can read.
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key",
                                          "If-Match", "X-Request-ID"],
                           expose_headers=["ETag", "Location", "X-Request-ID", "Idempotent-Replayed"],
                           max_age=600)
    customise_openapi(app)
    return app


def app_from_env() -> FastAPI:
    """uvicorn's factory in each worker process: the parent resolved the database URL already."""
    from infra.heap import settle_after_startup
    from infra.logging import configure_logging

    settle_after_startup()
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings, database_url=settings.database_url)
