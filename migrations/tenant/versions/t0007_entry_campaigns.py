"""Tenant schema: Entry campaigns, entries, purchase codes, draws (issue 4 item 7).

Revision ID: t0007
Revises: t0006
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t0007"
down_revision = "t0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entry_campaigns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_limit", sa.Integer(), nullable=False),
        sa.Column("requirement", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("award", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("winners", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('open', 'must_buy')", name=op.f("ck_entry_campaigns_kind")),
        sa.CheckConstraint("status IN ('draft', 'active', 'closed')", name=op.f("ck_entry_campaigns_status")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_entry_campaigns_period")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_campaigns")),
    )
    op.create_table(
        "entry_campaign_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proof", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("consents", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"),
                  nullable=False),
        sa.Column("points_awarded", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_campaign_entries")),
    )
    op.create_index("ix_entry_campaign_entries_campaign_id_customer_id", "entry_campaign_entries",
                    ["campaign_id", "customer_id"], unique=False)
    op.create_index("ix_entry_campaign_entries_campaign_id_id", "entry_campaign_entries",
                    ["campaign_id", "id"], unique=False)
    op.create_table(
        "entry_campaign_codes",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "code_hash", name=op.f("pk_entry_campaign_codes")),
    )
    op.create_table(
        "entry_campaign_receipts",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("receipt_number", sa.String(length=128), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "receipt_number", name=op.f("pk_entry_campaign_receipts")),
    )
    op.create_table(
        "entry_campaign_draws",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("seed", sa.Text(), nullable=False),
        sa.Column("seed_source", sa.String(length=16), nullable=False),
        sa.Column("algorithm", sa.String(length=64), nullable=False),
        sa.Column("winners_wanted", sa.Integer(), nullable=False),
        sa.Column("entry_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("entry_customer_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("winner_entry_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("winner_customer_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("redraw_of", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_campaign_draws")),
    )
    op.create_index("ix_entry_campaign_draws_campaign_id_id", "entry_campaign_draws",
                    ["campaign_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_entry_campaign_draws_campaign_id_id", table_name="entry_campaign_draws")
    op.drop_table("entry_campaign_draws")
    op.drop_table("entry_campaign_receipts")
    op.drop_table("entry_campaign_codes")
    op.drop_index("ix_entry_campaign_entries_campaign_id_id", table_name="entry_campaign_entries")
    op.drop_index("ix_entry_campaign_entries_campaign_id_customer_id", table_name="entry_campaign_entries")
    op.drop_table("entry_campaign_entries")
    op.drop_table("entry_campaigns")
