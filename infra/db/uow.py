"""The SQL unit of work: one connection, one transaction, repositories bound to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

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

R = TypeVar("R")


class _Repository(Generic[R]):
    """A repository built on first use in a block, on that block's connection.

    A request uses one or two of the unit of work's repositories: building all of them on every
    `async with` was 5.5% of a customer read's CPU (docs/performance.md). Each block starts with
    none built, so a repository never outlives the connection it was built on.
    """

    def __init__(self, build: Callable[[SqlUnitOfWork, AsyncConnection], R]) -> None:
        self._build = build
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, uow: None, owner: type) -> _Repository[R]: ...
    @overload
    def __get__(self, uow: SqlUnitOfWork, owner: type) -> R: ...

    def __get__(self, uow: SqlUnitOfWork | None, owner: type) -> _Repository[R] | R:
        if uow is None:
            return self
        built = uow._repositories
        try:
            repository: R = built[self._name]
        except KeyError:
            repository = built[self._name] = self._build(uow, uow.connection)
        return repository

    def __set__(self, uow: SqlUnitOfWork, repository: R) -> None:
        # The UnitOfWork port declares plain attributes; replacing one (a test's stand-in) holds
        # for the current block, like any repository built in it.
        uow._repositories[self._name] = repository


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
        self._repositories: dict[str, Any] = {}

    tenants = _Repository(lambda uow, conn: SqlTenantRepository(
        conn, uow._on_commit, uow._caches.tenants.evict))
    clients = _Repository(lambda uow, conn: SqlClientRepository(
        conn, uow._on_commit, uow._caches.revoked.add_client))
    revocations = _Repository(lambda uow, conn: SqlRevocationRepository(
        conn, uow._on_commit, uow._caches.revoked.add))
    schemas = _Repository(lambda uow, conn: SqlSchemaProvisioner(conn))
    idempotency = _Repository(lambda uow, conn: SqlIdempotencyStore(
        conn, idempotency_keys if uow._schema is not None else platform_idempotency_keys,
        uow._schema or "control", uow._ttl))
    customers = _Repository(lambda uow, conn: SqlCustomerRepository(conn))
    attribute_definitions = _Repository(lambda uow, conn: SqlAttributeDefinitionRepository(conn))
    products = _Repository(lambda uow, conn: SqlProductRepository(conn))
    orders = _Repository(lambda uow, conn: SqlOrderRepository(conn))
    events = _Repository(lambda uow, conn: SqlEventRepository(
        conn, uow._caches.identities, uow._on_commit, uow._tenant.id if uow._tenant else None))
    imports = _Repository(lambda uow, conn: SqlImportRepository(conn))
    loyalty = _Repository(lambda uow, conn: SqlLoyaltyRepository(conn))
    entry_campaigns = _Repository(lambda uow, conn: SqlEntryCampaignRepository(conn))
    analytics_settings = _Repository(lambda uow, conn: SqlAnalyticsSettingsRepository(conn))
    customer_metrics = _Repository(lambda uow, conn: SqlCustomerMetricsRepository(
        conn, uow._schema or "control"))
    clv_models = _Repository(lambda uow, conn: SqlClvModelRepository(conn))
    analytics_jobs = _Repository(lambda uow, conn: SqlAnalyticsJobRepository(conn))
    marketing_costs = _Repository(lambda uow, conn: SqlMarketingCostRepository(conn))
    reports = _Repository(lambda uow, conn: SqlReportQueries(conn))

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
            self._repositories = {}
        return self

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

