"""The SQL unit of work: one connection, one transaction, repositories bound to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.auth.model import TenantRef
from domain.shared.events import DomainEvent
from infra.analytics.reports import SqlReportQueries
from infra.caches import Caches
from infra.db.repositories.analytics import (
    SqlAnalyticsJobRepository,
    SqlAnalyticsSettingsRepository,
    SqlClvModelRepository,
    SqlCustomerMetricsRepository,
)
from infra.db.repositories.auth import SqlClientRepository, SqlRevocationRepository
from infra.db.repositories.customers import SqlAttributeDefinitionRepository, SqlCustomerRepository
from infra.db.repositories.events import SqlEventRepository
from infra.db.repositories.idempotency import SqlIdempotencyStore
from infra.db.repositories.imports import SqlImportRepository
from infra.db.repositories.loyalty import SqlLoyaltyRepository
from infra.db.repositories.loyalty_campaigns import SqlEntryCampaignRepository
from infra.db.repositories.marketing import SqlMarketingCostRepository
from infra.db.repositories.orders import SqlOrderRepository
from infra.db.repositories.products import SqlProductRepository
from infra.db.repositories.tenants import SqlSchemaProvisioner, SqlTenantRepository
from infra.db.tables.control import platform_idempotency_keys
from infra.db.tables.tenant import idempotency_keys
from infra.events import EventBus


class SqlUnitOfWork:
    """`tenant=None`: control plane only. With a tenant, its tables resolve to `t_<slug>` through
    `schema_translate_map` (never `SET search_path`, which leaks through pools).

    Blocks nest; only the outermost commits or rolls back (see domain.shared.ports.UnitOfWork).
    """

    def __init__(self, engine: AsyncEngine, caches: Caches, *, tenant: TenantRef | None = None,
                 idempotency_ttl: timedelta = timedelta(hours=24), bus: EventBus | None = None,
                 read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._caches = caches
        self._tenant = tenant
        self._schema = tenant.schema if tenant else None
        self._bus = bus or EventBus()
        self._events: list[DomainEvent] = []
        self._ttl = idempotency_ttl
        self._depth = 0
        self._conn: AsyncConnection | None = None
        self._committed = False
        self._on_commit: list[Callable[[], None]] = []

    @property
    def connection(self) -> AsyncConnection:
        assert self._conn is not None, "use the unit of work inside `async with`"
        return self._conn

    async def __aenter__(self) -> SqlUnitOfWork:
        self._depth += 1
        if self._depth == 1:
            conn = await self._engine.connect()
            options: dict[str, object] = {}
            if self._schema is not None:
                options["schema_translate_map"] = {None: self._schema}
            if self._read_only:
                # Reads need no transaction: without BEGIN and ROLLBACK a one-query read is one
                # round trip instead of three.
                options["isolation_level"] = "AUTOCOMMIT"
            if options:
                conn = await conn.execution_options(**options)
            if not self._read_only:
                await conn.begin()
            self._conn = conn
            self._committed = False
            self._on_commit = []
            self._events = []
            self._bind(conn)
        return self

    def _bind(self, conn: AsyncConnection) -> None:
        caches = self._caches
        self.tenants = SqlTenantRepository(conn, self._on_commit, caches.tenants.evict)
        self.clients = SqlClientRepository(conn, self._on_commit, caches.revoked.add_client)
        self.revocations = SqlRevocationRepository(conn, self._on_commit, caches.revoked.add)
        self.schemas = SqlSchemaProvisioner(conn)
        table = idempotency_keys if self._schema is not None else platform_idempotency_keys
        self.idempotency = SqlIdempotencyStore(conn, table, self._schema or "control", self._ttl)
        self.customers = SqlCustomerRepository(conn)
        self.attribute_definitions = SqlAttributeDefinitionRepository(conn)
        self.products = SqlProductRepository(conn)
        self.orders = SqlOrderRepository(conn)
        self.events = SqlEventRepository(conn)
        self.imports = SqlImportRepository(conn)
        self.loyalty = SqlLoyaltyRepository(conn)
        self.entry_campaigns = SqlEntryCampaignRepository(conn)
        self.analytics_settings = SqlAnalyticsSettingsRepository(conn)
        self.customer_metrics = SqlCustomerMetricsRepository(conn, self._schema or "control")
        self.clv_models = SqlClvModelRepository(conn)
        self.analytics_jobs = SqlAnalyticsJobRepository(conn)
        self.marketing_costs = SqlMarketingCostRepository(conn)
        self.reports = SqlReportQueries(conn)

    def publish(self, event: DomainEvent) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit: this use case writes")
        if self._depth > 1:
            self._committed = True  # the outermost block commits
            return
        assert self._conn is not None
        tenant_id = self._tenant.id if self._tenant else None
        if self._events:
            await self._bus.enqueue(self._conn, tenant_id, self._events)
        await self._conn.commit()
        self._committed = True

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        conn, self._conn = self._conn, None
        assert conn is not None
        try:
            if not self._read_only and (not self._committed or exc is not None):
                await conn.rollback()
        finally:
            await conn.close()
        if self._committed and exc is None:
            for callback in self._on_commit:
                callback()
            events, self._events = self._events, []
            if events:
                await self._bus.deliver(self._tenant.id if self._tenant else None, events)

