"""Tenant schema: Loyalty programs, ledger, tiers, rewards and entry campaigns (issue 4).

Revision ID: t0004
Revises: t0003
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t0004"
down_revision = "t0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('loyalty_earning_rules',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('program_id', sa.Uuid(), nullable=False),
    sa.Column('terms', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_earning_rules'))
    )
    op.create_index('ix_loyalty_earning_rules_program_id', 'loyalty_earning_rules', ['program_id'], unique=False)
    op.create_table('loyalty_entries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('idempotency_key', sa.Text(), nullable=False),
    sa.Column('source_type', sa.String(length=32), nullable=True),
    sa.Column('source_id', sa.Text(), nullable=True),
    sa.Column('rule_id', sa.Uuid(), nullable=True),
    sa.Column('actor', sa.Text(), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.CheckConstraint("kind IN ('earn', 'redeem', 'expire', 'reverse', 'adjust')", name=op.f('ck_loyalty_entries_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_entries')),
    sa.UniqueConstraint('member_id', 'idempotency_key', name=op.f('uq_loyalty_entries_member_id_idempotency_key'))
    )
    op.create_index('ix_loyalty_entries_member_id_id', 'loyalty_entries', ['member_id', 'id'], unique=False)
    op.create_index('ix_loyalty_entries_member_id_rule_id_occurred_at', 'loyalty_entries', ['member_id', 'rule_id', 'occurred_at'], unique=False, postgresql_where=sa.text('rule_id IS NOT NULL'))
    op.create_index('ix_loyalty_entries_member_id_source_id', 'loyalty_entries', ['member_id', 'source_id'], unique=False)
    op.create_table('loyalty_lot_debits',
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('entry_id', 'lot_id', name=op.f('pk_loyalty_lot_debits'))
    )
    op.create_index('ix_loyalty_lot_debits_lot_id', 'loyalty_lot_debits', ['lot_id'], unique=False)
    op.create_table('loyalty_lots',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('available_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('order_id', sa.Uuid(), nullable=True),
    sa.CheckConstraint('remaining >= 0 AND remaining <= points', name=op.f('ck_loyalty_lots_remaining')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_lots'))
    )
    op.create_index('ix_loyalty_lots_expires_at_id_open', 'loyalty_lots', ['expires_at', 'id'], unique=False, postgresql_where=sa.text('remaining > 0 AND expires_at IS NOT NULL'))
    op.create_index('ix_loyalty_lots_member_id_open', 'loyalty_lots', ['member_id'], unique=False, postgresql_where=sa.text('remaining > 0'))
    op.create_index('ix_loyalty_lots_member_id_order_id', 'loyalty_lots', ['member_id', 'order_id'], unique=False, postgresql_where=sa.text('order_id IS NOT NULL'))
    op.create_table('loyalty_members',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('program_id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('tier', sa.Text(), nullable=True),
    sa.Column('tier_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifetime_points', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('debt', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('merged_into', sa.Uuid(), nullable=True),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.CheckConstraint("status IN ('active', 'merged')", name=op.f('ck_loyalty_members_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_members')),
    sa.UniqueConstraint('program_id', 'customer_id', name=op.f('uq_loyalty_members_program_id_customer_id'))
    )
    op.create_index('ix_loyalty_members_customer_id', 'loyalty_members', ['customer_id'], unique=False)
    op.create_table('loyalty_programs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('terms', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'suspended', 'closed')", name=op.f('ck_loyalty_programs_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_programs'))
    )
    op.create_table('loyalty_redemptions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('reward_id', sa.Uuid(), nullable=True),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('release_entry_id', sa.Uuid(), nullable=True),
    sa.Column('reserved_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('reserved', 'confirmed', 'cancelled', 'expired')", name=op.f('ck_loyalty_redemptions_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_redemptions'))
    )
    op.create_index('ix_loyalty_redemptions_member_id_id', 'loyalty_redemptions', ['member_id', 'id'], unique=False)
    op.create_index('ix_loyalty_redemptions_reserved_until', 'loyalty_redemptions', ['reserved_until'], unique=False, postgresql_where=sa.text("status = 'reserved'"))
    op.create_table('loyalty_rewards',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('program_id', sa.Uuid(), nullable=False),
    sa.Column('terms', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('redeemed', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('discount', 'coupon', 'gift', 'donation')", name=op.f('ck_loyalty_rewards_kind')),
    sa.CheckConstraint('stock IS NULL OR stock >= 0', name=op.f('ck_loyalty_rewards_stock')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_rewards'))
    )
    op.create_index('ix_loyalty_rewards_program_id_id', 'loyalty_rewards', ['program_id', 'id'], unique=False)
    op.create_table('loyalty_tier_changes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('from_tier', sa.Text(), nullable=True),
    sa.Column('to_tier', sa.Text(), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('qualifying_value', sa.BigInteger(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_tier_changes'))
    )
    op.create_index('ix_loyalty_tier_changes_member_id_id', 'loyalty_tier_changes', ['member_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_loyalty_tier_changes_member_id_id', table_name='loyalty_tier_changes')
    op.drop_table('loyalty_tier_changes')
    op.drop_index('ix_loyalty_rewards_program_id_id', table_name='loyalty_rewards')
    op.drop_table('loyalty_rewards')
    op.drop_index('ix_loyalty_redemptions_reserved_until', table_name='loyalty_redemptions', postgresql_where=sa.text("status = 'reserved'"))
    op.drop_index('ix_loyalty_redemptions_member_id_id', table_name='loyalty_redemptions')
    op.drop_table('loyalty_redemptions')
    op.drop_table('loyalty_programs')
    op.drop_index('ix_loyalty_members_customer_id', table_name='loyalty_members')
    op.drop_table('loyalty_members')
    op.drop_index('ix_loyalty_lots_member_id_order_id', table_name='loyalty_lots', postgresql_where=sa.text('order_id IS NOT NULL'))
    op.drop_index('ix_loyalty_lots_member_id_open', table_name='loyalty_lots', postgresql_where=sa.text('remaining > 0'))
    op.drop_index('ix_loyalty_lots_expires_at_id_open', table_name='loyalty_lots', postgresql_where=sa.text('remaining > 0 AND expires_at IS NOT NULL'))
    op.drop_table('loyalty_lots')
    op.drop_index('ix_loyalty_lot_debits_lot_id', table_name='loyalty_lot_debits')
    op.drop_table('loyalty_lot_debits')
    op.drop_index('ix_loyalty_entries_member_id_source_id', table_name='loyalty_entries')
    op.drop_index('ix_loyalty_entries_member_id_rule_id_occurred_at', table_name='loyalty_entries', postgresql_where=sa.text('rule_id IS NOT NULL'))
    op.drop_index('ix_loyalty_entries_member_id_id', table_name='loyalty_entries')
    op.drop_table('loyalty_entries')
    op.drop_index('ix_loyalty_earning_rules_program_id', table_name='loyalty_earning_rules')
    op.drop_table('loyalty_earning_rules')
