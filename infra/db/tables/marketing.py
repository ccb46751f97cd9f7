"""Tenant tables of Marketing costs and attribution (issue 5) (migration t0006)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, Date, DateTime, Index, Integer, String, Text, text
from sqlalchemy.types import Uuid
from sqlmodel import Field

from infra.db.tables.base import TenantModel


class MarketingCostRow(TenantModel, table=True):
    """Money spent on a channel and/or campaign over tenant-local days [period_from, period_to]."""

    __tablename__ = "marketing_costs"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("period_to >= period_from", name="period_ordered"),
        CheckConstraint("channel IS NOT NULL OR campaign_id IS NOT NULL", name="names_channel_or_campaign"),
        Index("ix_marketing_costs_period_from_period_to", "period_from", "period_to"),
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    channel: str | None = Field(sa_column=Column(String(32), nullable=True))
    campaign_id: str | None = Field(sa_column=Column(Text, nullable=True))
    period_from: date = Field(sa_column=Column(Date, nullable=False))
    period_to: date = Field(sa_column=Column(Date, nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    note: str | None = Field(sa_column=Column(Text, nullable=True))
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("1")))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


marketing_costs = MarketingCostRow.__table__
