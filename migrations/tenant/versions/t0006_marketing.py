"""Tenant schema: Marketing costs and attribution (issue 5).

Revision ID: t0006
Revises: t0005
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0006"
down_revision = "t0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "marketing_costs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("campaign_id", sa.Text(), nullable=True),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_marketing_costs_amount_not_negative")),
        sa.CheckConstraint("period_to >= period_from", name=op.f("ck_marketing_costs_period_ordered")),
        sa.CheckConstraint("channel IS NOT NULL OR campaign_id IS NOT NULL",
                           name=op.f("ck_marketing_costs_names_channel_or_campaign")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_costs")),
    )
    op.create_index("ix_marketing_costs_period_from_period_to", "marketing_costs",
                    ["period_from", "period_to"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_marketing_costs_period_from_period_to", table_name="marketing_costs")
    op.drop_table("marketing_costs")
