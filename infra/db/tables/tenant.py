"""Tables that exist once in every tenant schema (no schema declared: the connection decides)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import Uuid
from sqlmodel import Field

from infra.db.tables.base import TenantModel


class IdempotencyKeyRow(TenantModel, table=True):
    __tablename__ = "idempotency_keys"

    owner: str = Field(sa_column=Column(String(64), primary_key=True))
    key: str = Field(sa_column=Column(String(255), primary_key=True))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    status: int | None = Field(sa_column=Column(Integer, nullable=True))
    body: bytes | None = Field(sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AuditEntryRow(TenantModel, table=True):
    """Who changed what in the tenant: written by later areas' use cases."""

    __tablename__ = "audit_log"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str = Field(sa_column=Column(String(64), nullable=False))
    action: str = Field(sa_column=Column(String(64), nullable=False))
    subject: str = Field(sa_column=Column(Text, nullable=False))
    detail: dict = Field(sa_column=Column(JSONB, nullable=False))  # type: ignore[type-arg]


idempotency_keys = IdempotencyKeyRow.__table__
audit_log = AuditEntryRow.__table__


# -- customer data platform (migration t0003) -------------------------------------------------
from sqlalchemy import BigInteger, Boolean, Date, Index, SmallInteger, text  # noqa: E402
from sqlalchemy.dialects.postgresql import ARRAY  # noqa: E402


def _ts(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable)


class CustomerRow(TenantModel, table=True):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_external_id", "external_id"),
        Index("ix_customers_email", "email"),
        Index("ix_customers_phone", "phone"),
        Index("ix_customers_tags", "tags", postgresql_using="gin"),
        Index("ix_customers_created_at_id", "created_at", "id"),
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    external_id: str | None = Field(sa_column=Column(Text, nullable=True))
    email: str | None = Field(sa_column=Column(Text, nullable=True))
    phone: str | None = Field(sa_column=Column(String(20), nullable=True))
    line_user_id: str | None = Field(sa_column=Column(Text, nullable=True))
    family_name: str | None = Field(sa_column=Column(Text, nullable=True))
    given_name: str | None = Field(sa_column=Column(Text, nullable=True))
    family_name_kana: str | None = Field(sa_column=Column(Text, nullable=True))
    given_name_kana: str | None = Field(sa_column=Column(Text, nullable=True))
    birth_date: Any = Field(sa_column=Column(Date, nullable=True))
    gender: str | None = Field(sa_column=Column(String(16), nullable=True))
    postal_code: str | None = Field(sa_column=Column(String(8), nullable=True))
    prefecture: str | None = Field(sa_column=Column(String(2), nullable=True))
    city: str | None = Field(sa_column=Column(Text, nullable=True))
    line1: str | None = Field(sa_column=Column(Text, nullable=True))
    line2: str | None = Field(sa_column=Column(Text, nullable=True))
    tags: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False, server_default=text("'{}'")))
    attributes: dict = Field(sa_column=Column(JSONB, nullable=False, server_default=text("'{}'")))  # type: ignore[type-arg]
    acquisition: dict | None = Field(sa_column=Column(JSONB, nullable=True))  # type: ignore[type-arg]
    status: str = Field(sa_column=Column(String(16), nullable=False, server_default=text("'active'")))
    merged_into: uuid.UUID | None = Field(sa_column=Column(Uuid, nullable=True))
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("1")))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())
    erased_at: datetime | None = Field(sa_column=_ts(nullable=True))


class CustomerIdentityRow(TenantModel, table=True):
    """Unique per tenant: one (type, value) names one customer."""

    __tablename__ = "customer_identities"
    __table_args__ = (Index("ix_customer_identities_customer_id", "customer_id"),)

    type: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(sa_column=Column(Text, primary_key=True))
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    created_at: datetime = Field(sa_column=_ts())


class IdentityGenerationRow(TenantModel, table=True):
    """One row: a number a trigger (migration t0008) raises with every statement that updates or
    deletes customer identities. Holders of cached identity owners (infra.caches.IdentityOwners)
    compare it to the number their entries were read under: equal means no owner changed since."""

    __tablename__ = "identity_generation"

    id: int = Field(sa_column=Column(SmallInteger, primary_key=True, server_default=text("1")))
    n: int = Field(sa_column=Column(BigInteger, nullable=False, server_default=text("0")))


class ConsentRow(TenantModel, table=True):
    __tablename__ = "consents"

    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    channel: str = Field(sa_column=Column(String(16), primary_key=True))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    source: str | None = Field(sa_column=Column(Text, nullable=True))
    occurred_at: datetime = Field(sa_column=_ts())
    recorded_at: datetime = Field(sa_column=_ts())


class ConsentEventRow(TenantModel, table=True):
    """Every consent decision ever recorded (who, when, source)."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_customer_id_occurred_at", "customer_id", "occurred_at"),)

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    source: str | None = Field(sa_column=Column(Text, nullable=True))
    actor: str = Field(sa_column=Column(String(64), nullable=False))
    occurred_at: datetime = Field(sa_column=_ts())
    recorded_at: datetime = Field(sa_column=_ts())


class CustomerMergeRow(TenantModel, table=True):
    __tablename__ = "customer_merges"
    __table_args__ = (Index("ix_customer_merges_target_id", "target_id"),)

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    source_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, unique=True))
    target_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    actor: str = Field(sa_column=Column(String(64), nullable=False))
    report: dict = Field(sa_column=Column(JSONB, nullable=False))  # type: ignore[type-arg]
    merged_at: datetime = Field(sa_column=_ts())


class AttributeDefinitionRow(TenantModel, table=True):
    __tablename__ = "attribute_definitions"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    type: str = Field(sa_column=Column(String(16), nullable=False))
    enum_values: list[str] | None = Field(sa_column=Column(ARRAY(Text), nullable=True))
    required: bool = Field(sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    description: str | None = Field(sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=_ts())


class ProductRow(TenantModel, table=True):
    __tablename__ = "products"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    sku: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    category_path: list[str] = Field(
        sa_column=Column(ARRAY(Text), nullable=False, server_default=text("'{}'")))
    price: int | None = Field(sa_column=Column(BigInteger, nullable=True))
    cost: int | None = Field(sa_column=Column(BigInteger, nullable=True))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    stock_quantity: int | None = Field(sa_column=Column(Integer, nullable=True))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    attributes: dict = Field(sa_column=Column(JSONB, nullable=False, server_default=text("'{}'")))  # type: ignore[type-arg]
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("1")))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


class OrderRow(TenantModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_id_ordered_at", "customer_id", "ordered_at"),
                      Index("ix_orders_ordered_at", "ordered_at"))

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    order_number: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    ordered_at: datetime = Field(sa_column=_ts())
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    subtotal: int = Field(sa_column=Column(BigInteger, nullable=False))
    discount_total: int = Field(sa_column=Column(BigInteger, nullable=False))
    shipping_total: int = Field(sa_column=Column(BigInteger, nullable=False))
    total: int = Field(sa_column=Column(BigInteger, nullable=False))
    cost_total: int = Field(sa_column=Column(BigInteger, nullable=False))
    refunded_total: int = Field(sa_column=Column(BigInteger, nullable=False, server_default=text("0")))
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    store_id: str | None = Field(sa_column=Column(Text, nullable=True))
    status: str = Field(sa_column=Column(String(24), nullable=False))
    touchpoint: dict | None = Field(sa_column=Column(JSONB, nullable=True))  # type: ignore[type-arg]
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("1")))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


class OrderLineRow(TenantModel, table=True):
    __tablename__ = "order_lines"

    order_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    line_no: int = Field(sa_column=Column(SmallInteger, primary_key=True))
    sku: str = Field(sa_column=Column(String(128), nullable=False))
    quantity: int = Field(sa_column=Column(Integer, nullable=False))
    unit_price: int = Field(sa_column=Column(BigInteger, nullable=False))
    unit_cost: int | None = Field(sa_column=Column(BigInteger, nullable=True))
    refunded_quantity: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("0")))


class RefundRow(TenantModel, table=True):
    __tablename__ = "refunds"
    __table_args__ = (Index("ix_refunds_order_id", "order_id"),)

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    order_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    lines: list | None = Field(sa_column=Column(JSONB, nullable=True))  # type: ignore[type-arg]
    reason: str | None = Field(sa_column=Column(Text, nullable=True))
    refunded_at: datetime = Field(sa_column=_ts())
    created_at: datetime = Field(sa_column=_ts())


class EventRow(TenantModel, table=True):
    """Behaviour events: no foreign keys (bulk COPY ingest); `event_id` de-duplicates re-sends."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_customer_id_occurred_at", "customer_id", "occurred_at"),
        Index("uq_events_event_id", "event_id", unique=True, postgresql_where=text("event_id IS NOT NULL")),
        Index("ix_events_type_occurred_at", "type", "occurred_at"),
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    event_id: str | None = Field(sa_column=Column(String(128), nullable=True))
    type: str = Field(sa_column=Column(String(80), nullable=False))
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    occurred_at: datetime = Field(sa_column=_ts())
    received_at: datetime = Field(sa_column=_ts())
    properties: dict = Field(sa_column=Column(JSONB, nullable=False, server_default=text("'{}'")))  # type: ignore[type-arg]
    touchpoint_channel: str | None = Field(sa_column=Column(String(32), nullable=True))
    touchpoint_stage: str | None = Field(sa_column=Column(String(16), nullable=True))
    campaign_id: str | None = Field(sa_column=Column(Text, nullable=True))


class ImportRow(TenantModel, table=True):
    __tablename__ = "imports"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    filename: str | None = Field(sa_column=Column(Text, nullable=True))
    encoding: str | None = Field(sa_column=Column(String(16), nullable=True))
    content: bytes | None = Field(sa_column=Column(LargeBinary, nullable=True))
    total_rows: int | None = Field(sa_column=Column(Integer, nullable=True))
    processed_rows: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("0")))
    accepted_rows: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("0")))
    rejected_rows: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("0")))
    errors: list = Field(sa_column=Column(JSONB, nullable=False, server_default=text("'[]'")))  # type: ignore[type-arg]
    created_by: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=_ts())
    started_at: datetime | None = Field(sa_column=_ts(nullable=True))
    finished_at: datetime | None = Field(sa_column=_ts(nullable=True))


class ErasureRow(TenantModel, table=True):
    __tablename__ = "erasures"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, unique=True))
    actor: str = Field(sa_column=Column(String(64), nullable=False))
    reason: str | None = Field(sa_column=Column(Text, nullable=True))
    erased_at: datetime = Field(sa_column=_ts())


customers = CustomerRow.__table__
customer_identities = CustomerIdentityRow.__table__
identity_generation = IdentityGenerationRow.__table__
consents = ConsentRow.__table__
consent_events = ConsentEventRow.__table__
customer_merges = CustomerMergeRow.__table__
attribute_definitions = AttributeDefinitionRow.__table__
products = ProductRow.__table__
orders = OrderRow.__table__
order_lines = OrderLineRow.__table__
refunds = RefundRow.__table__
events = EventRow.__table__
imports = ImportRow.__table__
erasures = ErasureRow.__table__

# Later areas declare their tables in their own modules; importing them here registers them on
# the tenant metadata wherever the tenant tables are loaded (Alembic's env, the repositories).
import infra.db.tables.analytics  # noqa: E402
import infra.db.tables.loyalty  # noqa: E402
import infra.db.tables.loyalty_campaigns  # noqa: E402
import infra.db.tables.marketing  # noqa: E402, F401
