"""Tenant tables of loyalty programs (issue 4; migration t0004).

A program's and a rule's terms are JSONB documents (validated by the domain as a whole, read as a
whole); what queries filter or lock on is a column. Ledger entries are append-only; lots carry the
spendable remainder. Partial indexes cover the two hot scans: a member's lots that still hold
points, and lots due to expire.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import Uuid
from sqlmodel import Field

from infra.db.tables.base import TenantModel


def _ts(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable)


def _id(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(Uuid, nullable=nullable)


class LoyaltyProgramRow(TenantModel, table=True):
    __tablename__ = "loyalty_programs"
    __table_args__ = (CheckConstraint("status IN ('active', 'suspended', 'closed')", name="status"),)

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    terms: dict = Field(sa_column=Column(JSONB, nullable=False))  # type: ignore[type-arg]
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("1")))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


class LoyaltyEarningRuleRow(TenantModel, table=True):
    __tablename__ = "loyalty_earning_rules"
    __table_args__ = (Index("ix_loyalty_earning_rules_program_id", "program_id"),)

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    program_id: uuid.UUID = Field(sa_column=_id())
    terms: dict = Field(sa_column=Column(JSONB, nullable=False))  # type: ignore[type-arg]
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("1")))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


class LoyaltyMemberRow(TenantModel, table=True):
    __tablename__ = "loyalty_members"
    __table_args__ = (
        UniqueConstraint("program_id", "customer_id"),
        Index("ix_loyalty_members_customer_id", "customer_id"),
        CheckConstraint("status IN ('active', 'merged')", name="status"),
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    program_id: uuid.UUID = Field(sa_column=_id())
    customer_id: uuid.UUID = Field(sa_column=_id())
    tier: str | None = Field(sa_column=Column(Text, nullable=True))
    tier_since: datetime | None = Field(sa_column=_ts(nullable=True))
    lifetime_points: int = Field(sa_column=Column(BigInteger, nullable=False, server_default=text("0")))
    debt: int = Field(sa_column=Column(BigInteger, nullable=False, server_default=text("0")))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    merged_into: uuid.UUID | None = Field(sa_column=_id(nullable=True))
    enrolled_at: datetime = Field(sa_column=_ts())
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("1")))


class LoyaltyEntryRow(TenantModel, table=True):
    """The append-only ledger."""

    __tablename__ = "loyalty_entries"
    __table_args__ = (
        UniqueConstraint("member_id", "idempotency_key"),
        Index("ix_loyalty_entries_member_id_id", "member_id", "id"),
        Index("ix_loyalty_entries_member_id_source_id", "member_id", "source_id"),
        Index("ix_loyalty_entries_member_id_rule_id_occurred_at", "member_id", "rule_id", "occurred_at",
              postgresql_where=text("rule_id IS NOT NULL")),
        CheckConstraint("kind IN ('earn', 'redeem', 'expire', 'reverse', 'adjust')", name="kind"),
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    member_id: uuid.UUID = Field(sa_column=_id())
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    points: int = Field(sa_column=Column(BigInteger, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    occurred_at: datetime = Field(sa_column=_ts())
    idempotency_key: str = Field(sa_column=Column(Text, nullable=False))
    source_type: str | None = Field(sa_column=Column(String(32), nullable=True))
    source_id: str | None = Field(sa_column=Column(Text, nullable=True))
    rule_id: uuid.UUID | None = Field(sa_column=_id(nullable=True))
    actor: str | None = Field(sa_column=Column(Text, nullable=True))
    detail: dict = Field(sa_column=Column(JSONB, nullable=False, server_default=text("'{}'")))  # type: ignore[type-arg]


class LoyaltyLotRow(TenantModel, table=True):
    __tablename__ = "loyalty_lots"
    __table_args__ = (
        Index("ix_loyalty_lots_member_id_open", "member_id", postgresql_where=text("remaining > 0")),
        Index("ix_loyalty_lots_expires_at_id_open", "expires_at", "id",
              postgresql_where=text("remaining > 0 AND expires_at IS NOT NULL")),
        Index("ix_loyalty_lots_member_id_order_id", "member_id", "order_id",
              postgresql_where=text("order_id IS NOT NULL")),
        CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining"),
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    member_id: uuid.UUID = Field(sa_column=_id())
    entry_id: uuid.UUID = Field(sa_column=_id())
    points: int = Field(sa_column=Column(BigInteger, nullable=False))
    remaining: int = Field(sa_column=Column(BigInteger, nullable=False))
    available_at: datetime = Field(sa_column=_ts())
    expires_at: datetime | None = Field(sa_column=_ts(nullable=True))
    order_id: uuid.UUID | None = Field(sa_column=_id(nullable=True))


class LoyaltyLotDebitRow(TenantModel, table=True):
    """Which lots an entry took points from (negative: gave back)."""

    __tablename__ = "loyalty_lot_debits"
    __table_args__ = (Index("ix_loyalty_lot_debits_lot_id", "lot_id"),)

    entry_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    lot_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    points: int = Field(sa_column=Column(BigInteger, nullable=False))


class LoyaltyTierChangeRow(TenantModel, table=True):
    __tablename__ = "loyalty_tier_changes"
    __table_args__ = (Index("ix_loyalty_tier_changes_member_id_id", "member_id", "id"),)

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    member_id: uuid.UUID = Field(sa_column=_id())
    from_tier: str | None = Field(sa_column=Column(Text, nullable=True))
    to_tier: str | None = Field(sa_column=Column(Text, nullable=True))
    reason: str = Field(sa_column=Column(String(32), nullable=False))
    qualifying_value: int = Field(sa_column=Column(BigInteger, nullable=False))
    occurred_at: datetime = Field(sa_column=_ts())


class LoyaltyRewardRow(TenantModel, table=True):
    __tablename__ = "loyalty_rewards"
    __table_args__ = (
        Index("ix_loyalty_rewards_program_id_id", "program_id", "id"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock"),
        CheckConstraint("kind IN ('discount', 'coupon', 'gift', 'donation')", name="kind"),
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    program_id: uuid.UUID = Field(sa_column=_id())
    terms: dict = Field(sa_column=Column(JSONB, nullable=False))  # type: ignore[type-arg]
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    stock: int | None = Field(sa_column=Column(Integer, nullable=True))
    redeemed: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("0")))
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("1")))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


class LoyaltyRedemptionRow(TenantModel, table=True):
    __tablename__ = "loyalty_redemptions"
    __table_args__ = (
        Index("ix_loyalty_redemptions_member_id_id", "member_id", "id"),
        Index("ix_loyalty_redemptions_reserved_until", "reserved_until",
              postgresql_where=text("status = 'reserved'")),
        CheckConstraint("status IN ('reserved', 'confirmed', 'cancelled', 'expired')", name="status"),
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    member_id: uuid.UUID = Field(sa_column=_id())
    reward_id: uuid.UUID | None = Field(sa_column=_id(nullable=True))
    points: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    entry_id: uuid.UUID = Field(sa_column=_id())
    release_entry_id: uuid.UUID | None = Field(sa_column=_id(nullable=True))
    reserved_until: datetime | None = Field(sa_column=_ts(nullable=True))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


loyalty_programs = LoyaltyProgramRow.__table__
loyalty_earning_rules = LoyaltyEarningRuleRow.__table__
loyalty_members = LoyaltyMemberRow.__table__
loyalty_entries = LoyaltyEntryRow.__table__
loyalty_lots = LoyaltyLotRow.__table__
loyalty_lot_debits = LoyaltyLotDebitRow.__table__
loyalty_tier_changes = LoyaltyTierChangeRow.__table__
loyalty_rewards = LoyaltyRewardRow.__table__
loyalty_redemptions = LoyaltyRedemptionRow.__table__
