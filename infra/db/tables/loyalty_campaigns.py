"""Tenant tables of entry campaigns (キャンペーン応募, issue 4 item 7; migration t0007)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, DateTime, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.types import Uuid
from sqlmodel import Field

from infra.db.tables.base import TenantModel


def _ts(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable)


class EntryCampaignRow(TenantModel, table=True):
    __tablename__ = "entry_campaigns"
    __table_args__ = (
        CheckConstraint("kind IN ('open', 'must_buy')", name="kind"),
        CheckConstraint("status IN ('draft', 'active', 'closed')", name="status"),
        CheckConstraint("ends_at > starts_at", name="period"),
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    description: str | None = Field(sa_column=Column(Text, nullable=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    starts_at: datetime = Field(sa_column=_ts())
    ends_at: datetime = Field(sa_column=_ts())
    entry_limit: int = Field(sa_column=Column(Integer, nullable=False))
    requirement: dict | None = Field(sa_column=Column(JSONB, nullable=True))  # type: ignore[type-arg]
    award: dict | None = Field(sa_column=Column(JSONB, nullable=True))  # type: ignore[type-arg]
    winners: int | None = Field(sa_column=Column(Integer, nullable=True))
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("1")))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


class EntryCampaignEntryRow(TenantModel, table=True):
    """No foreign keys, as elsewhere in a tenant schema; ids are checked by the use case."""

    __tablename__ = "entry_campaign_entries"
    __table_args__ = (
        Index("ix_entry_campaign_entries_campaign_id_customer_id", "campaign_id", "customer_id"),
        Index("ix_entry_campaign_entries_campaign_id_id", "campaign_id", "id"),
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    campaign_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    entered_at: datetime = Field(sa_column=_ts())
    proof: dict = Field(sa_column=Column(JSONB, nullable=False))  # type: ignore[type-arg]
    consents: list = Field(sa_column=Column(JSONB, nullable=False, server_default=text("'[]'")))  # type: ignore[type-arg]
    points_awarded: int | None = Field(sa_column=Column(Integer, nullable=True))


class EntryCampaignCodeRow(TenantModel, table=True):
    """One-time purchase codes, stored as SHA-256 digests (campaign_model.code_digest)."""

    __tablename__ = "entry_campaign_codes"

    campaign_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    code_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    entry_id: uuid.UUID | None = Field(sa_column=Column(Uuid, nullable=True))
    used_at: datetime | None = Field(sa_column=_ts(nullable=True))
    created_at: datetime = Field(sa_column=_ts())


class EntryCampaignReceiptRow(TenantModel, table=True):
    """Receipt numbers used for entries: the primary key makes each usable once per campaign."""

    __tablename__ = "entry_campaign_receipts"

    campaign_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    receipt_number: str = Field(sa_column=Column(String(128), primary_key=True))
    entry_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    used_at: datetime = Field(sa_column=_ts())


class EntryCampaignDrawRow(TenantModel, table=True):
    """Every lottery drawn, with what recomputing it needs (seed, algorithm, the sorted pool)."""

    __tablename__ = "entry_campaign_draws"
    __table_args__ = (Index("ix_entry_campaign_draws_campaign_id_id", "campaign_id", "id"),)

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    campaign_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    seed: str = Field(sa_column=Column(Text, nullable=False))
    seed_source: str = Field(sa_column=Column(String(16), nullable=False))
    algorithm: str = Field(sa_column=Column(String(64), nullable=False))
    winners_wanted: int = Field(sa_column=Column(Integer, nullable=False))
    entry_ids: list[uuid.UUID] = Field(sa_column=Column(ARRAY(Uuid), nullable=False))
    entry_customer_ids: list[uuid.UUID] = Field(sa_column=Column(ARRAY(Uuid), nullable=False))
    winner_entry_ids: list[uuid.UUID] = Field(sa_column=Column(ARRAY(Uuid), nullable=False))
    winner_customer_ids: list[uuid.UUID] = Field(sa_column=Column(ARRAY(Uuid), nullable=False))
    redraw_of: uuid.UUID | None = Field(sa_column=Column(Uuid, nullable=True))
    actor: str = Field(sa_column=Column(String(64), nullable=False))
    drawn_at: datetime = Field(sa_column=_ts())


entry_campaigns = EntryCampaignRow.__table__
entry_campaign_entries = EntryCampaignEntryRow.__table__
entry_campaign_codes = EntryCampaignCodeRow.__table__
entry_campaign_receipts = EntryCampaignReceiptRow.__table__
entry_campaign_draws = EntryCampaignDrawRow.__table__
