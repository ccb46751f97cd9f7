"""Tables that exist once in every tenant schema (no schema declared: the connection decides)."""

from __future__ import annotations

import uuid
from datetime import datetime

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
