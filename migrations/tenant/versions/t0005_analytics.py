"""Tenant schema: Analytics: customer metrics, RFM, CLV models, settings (issue 5).

Revision ID: t0005
Revises: t0004
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t0005"
down_revision = "t0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('analytics_settings',
    sa.Column('id', sa.SmallInteger(), nullable=False),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_analytics_settings_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_settings'))
    )
    op.create_table('customer_metrics',
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('first_order_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_order_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('second_day', sa.Date(), nullable=True),
    sa.Column('orders', sa.Integer(), nullable=False),
    sa.Column('occasions', sa.Integer(), nullable=False),
    sa.Column('revenue', sa.BigInteger(), nullable=False),
    sa.Column('gross_profit', sa.BigInteger(), nullable=False),
    sa.Column('first_day_revenue', sa.BigInteger(), nullable=False),
    sa.Column('r', sa.SmallInteger(), nullable=True),
    sa.Column('f', sa.SmallInteger(), nullable=True),
    sa.Column('m', sa.SmallInteger(), nullable=True),
    sa.Column('segment', sa.String(length=40), nullable=True),
    sa.Column('formula_ltv', sa.Float(), nullable=False),
    sa.Column('p_alive', sa.Float(), nullable=True),
    sa.Column('expected_purchases', sa.Float(), nullable=True),
    sa.Column('expected_aov', sa.Float(), nullable=True),
    sa.Column('predicted_clv', sa.Float(), nullable=True),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_metrics'))
    )
    op.create_table('rfm_edges',
    sa.Column('id', sa.SmallInteger(), nullable=False),
    sa.Column('recency', postgresql.ARRAY(sa.Integer()), nullable=False),
    sa.Column('frequency', postgresql.ARRAY(sa.Integer()), nullable=False),
    sa.Column('monetary', postgresql.ARRAY(sa.BigInteger()), nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_rfm_edges_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rfm_edges'))
    )
    op.create_table('clv_models',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('r', sa.Float(), nullable=False),
    sa.Column('alpha', sa.Float(), nullable=False),
    sa.Column('a', sa.Float(), nullable=False),
    sa.Column('b', sa.Float(), nullable=False),
    sa.Column('p', sa.Float(), nullable=False),
    sa.Column('q', sa.Float(), nullable=False),
    sa.Column('gamma', sa.Float(), nullable=False),
    sa.Column('bgnbd_log_likelihood', sa.Float(), nullable=False),
    sa.Column('gamma_gamma_log_likelihood', sa.Float(), nullable=False),
    sa.Column('n_customers', sa.Integer(), nullable=False),
    sa.Column('n_repeat_customers', sa.Integer(), nullable=False),
    sa.Column('n_spend_customers', sa.Integer(), nullable=False),
    sa.Column('frequency_spend_correlation', sa.Float(), nullable=False),
    sa.Column('time_unit', sa.String(length=8), nullable=False),
    sa.Column('observation_end', sa.Date(), nullable=False),
    sa.Column('converged', sa.Boolean(), nullable=False),
    sa.Column('iterations', sa.Integer(), nullable=False),
    sa.Column('fitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("time_unit IN ('day', 'week')", name=op.f('ck_clv_models_time_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clv_models'))
    )
    op.create_index('ix_clv_models_fitted_at', 'clv_models', ['fitted_at'], unique=False)
    op.create_table('analytics_jobs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('progress', sa.Float(), server_default=sa.text('0'), nullable=False),
    sa.Column('stage', sa.String(length=32), server_default=sa.text("''"), nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('error', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('recompute', 'clv_fit')", name=op.f('ck_analytics_jobs_kind')),
    sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f('ck_analytics_jobs_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_jobs'))
    )
    op.create_index('ix_analytics_jobs_kind_status', 'analytics_jobs', ['kind', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_analytics_jobs_kind_status', table_name='analytics_jobs')
    op.drop_table('analytics_jobs')
    op.drop_index('ix_clv_models_fitted_at', table_name='clv_models')
    op.drop_table('clv_models')
    op.drop_table('rfm_edges')
    op.drop_table('customer_metrics')
    op.drop_table('analytics_settings')
