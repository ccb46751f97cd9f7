"""Control-plane tables: tenants, OAuth clients, signing keys, revoked tokens, platform idempotency."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.types import Uuid
from sqlmodel import Field

from infra.db.tables.base import ControlModel


def _ts(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable)


class TenantRow(ControlModel, table=True):
    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint("status IN ('active', 'suspended')", name="status"),)

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    slug: str = Field(sa_column=Column(String(41), nullable=False, unique=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    timezone: str = Field(sa_column=Column(Text, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    schema_name: str = Field(sa_column=Column(String(63), nullable=False, unique=True))
    # The tenant tree revision the schema is at; kept by provisioning and `kizuna migrate` so that
    # /readyz answers with one query instead of one per schema.
    schema_revision: str | None = Field(sa_column=Column(String(32), nullable=True))
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("1")))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


class OAuthClientRow(ControlModel, table=True):
    __tablename__ = "oauth_clients"
    __table_args__ = (Index("ix_oauth_clients_tenant_id_id", "tenant_id", "id"),)

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    client_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    # By value only (no foreign key): clients of a tenant may outlive it for audit.
    tenant_id: uuid.UUID | None = Field(sa_column=Column(Uuid, nullable=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    scopes: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    secret_hash: str = Field(sa_column=Column(String(64), nullable=False))
    previous_secret_hash: str | None = Field(sa_column=Column(String(64), nullable=True))
    previous_secret_expires_at: datetime | None = Field(sa_column=_ts(nullable=True))
    secret_rotated_at: datetime | None = Field(sa_column=_ts(nullable=True))
    created_at: datetime = Field(sa_column=_ts())
    deleted_at: datetime | None = Field(sa_column=_ts(nullable=True))


class SigningKeyRow(ControlModel, table=True):
    __tablename__ = "signing_keys"

    kid: str = Field(sa_column=Column(String(64), primary_key=True))
    algorithm: str = Field(sa_column=Column(String(16), nullable=False))
    private_pem: str = Field(sa_column=Column(Text, nullable=False))
    public_jwk: dict = Field(sa_column=Column(JSONB, nullable=False))  # type: ignore[type-arg]
    created_at: datetime = Field(sa_column=_ts())
    # A retired key signs nothing new but verifies (and is published) until `expires_at`, when
    # every token it signed has expired.
    retired_at: datetime | None = Field(sa_column=_ts(nullable=True))
    expires_at: datetime | None = Field(sa_column=_ts(nullable=True))


class RevokedTokenRow(ControlModel, table=True):
    __tablename__ = "revoked_tokens"

    jti: str = Field(sa_column=Column(String(64), primary_key=True))
    expires_at: datetime = Field(sa_column=_ts())


class PlatformIdempotencyRow(ControlModel, table=True):
    __tablename__ = "idempotency_keys"

    owner: str = Field(sa_column=Column(String(64), primary_key=True))
    key: str = Field(sa_column=Column(String(255), primary_key=True))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    status: int | None = Field(sa_column=Column(Integer, nullable=True))
    body: bytes | None = Field(sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())


tenants = TenantRow.__table__
oauth_clients = OAuthClientRow.__table__
signing_keys = SigningKeyRow.__table__
revoked_tokens = RevokedTokenRow.__table__
platform_idempotency_keys = PlatformIdempotencyRow.__table__
