"""Ports every area shares: the unit of work and idempotency records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from domain.analytics.ports import (
        AnalyticsJobRepository,
        AnalyticsSettingsRepository,
        ClvModelRepository,
        CustomerMetricsRepository,
    )
    from domain.analytics.reports import ReportQueries
    from domain.auth.ports import ClientRepository, RevocationRepository
    from domain.customers.ports import AttributeDefinitionRepository, CustomerRepository
    from domain.events.ports import EventRepository
    from domain.imports.ports import ImportRepository
    from domain.loyalty.campaign_ports import EntryCampaignRepository
    from domain.loyalty.ports import LoyaltyRepository
    from domain.marketing.ports import MarketingCostRepository
    from domain.orders.ports import OrderRepository
    from domain.products.ports import ProductRepository
    from domain.shared.events import DomainEvent
    from domain.tenants.ports import SchemaProvisioner, TenantRepository


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    fingerprint: str


class IdempotencyStore(Protocol):
    async def claim(self, *, owner: str, key: str, fingerprint: str, now: datetime) -> StoredResponse | None:
        """Claim `key` for this transaction. Returns the stored response when the key was used
        before (the caller replays or refuses it); raises Conflict when another request holds it."""
        ...

    async def complete(self, *, owner: str, key: str, status: int, body: bytes, now: datetime) -> None:
        """Store the response in the same transaction as the effect."""
        ...


class UnitOfWork(Protocol):
    """One transaction. `commit()` makes it durable; leaving the block without it rolls back.

    Blocks nest: only the outermost block really commits, so a caller (idempotency) can wrap a
    use case and store its response atomically with the effect.
    """

    tenants: TenantRepository
    clients: ClientRepository
    revocations: RevocationRepository
    schemas: SchemaProvisioner
    idempotency: IdempotencyStore
    customers: CustomerRepository
    attribute_definitions: AttributeDefinitionRepository
    products: ProductRepository
    orders: OrderRepository
    events: EventRepository
    imports: ImportRepository
    loyalty: LoyaltyRepository
    analytics_settings: AnalyticsSettingsRepository
    customer_metrics: CustomerMetricsRepository
    clv_models: ClvModelRepository
    analytics_jobs: AnalyticsJobRepository
    entry_campaigns: EntryCampaignRepository
    marketing_costs: MarketingCostRepository
    reports: ReportQueries

    def publish(self, event: DomainEvent) -> None:
        """Deliver `event` after (and only if) the outermost block commits."""
        ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    async def commit(self) -> None: ...
