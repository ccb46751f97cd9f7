"""Tenant tables of Analytics: customer metrics, RFM, CLV models, settings (issue 5) (migration t0005)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.types import Uuid
from sqlmodel import Field

from infra.db.tables.base import TenantModel


def _ts(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable)


class AnalyticsSettingsRow(TenantModel, table=True):
    """One row (id 1): the tenant's settings as JSON over the defaults, with a version for ETags."""

    __tablename__ = "analytics_settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(sa_column=Column(SmallInteger, primary_key=True))
    settings: dict = Field(sa_column=Column(JSONB, nullable=False))  # type: ignore[type-arg]
    version: int = Field(sa_column=Column(Integer, nullable=False))
    updated_at: datetime = Field(sa_column=_ts())


class CustomerMetricsRow(TenantModel, table=True):
    """Per-customer metrics (docs/metrics.md); a row exists for customers with a counted order."""

    __tablename__ = "customer_metrics"

    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    first_order_at: datetime = Field(sa_column=_ts())
    last_order_at: datetime = Field(sa_column=_ts())
    first_day: date = Field(sa_column=Column(Date, nullable=False))
    last_day: date = Field(sa_column=Column(Date, nullable=False))
    second_day: date | None = Field(sa_column=Column(Date, nullable=True))
    orders: int = Field(sa_column=Column(Integer, nullable=False))
    occasions: int = Field(sa_column=Column(Integer, nullable=False))
    revenue: int = Field(sa_column=Column(BigInteger, nullable=False))
    gross_profit: int = Field(sa_column=Column(BigInteger, nullable=False))
    first_day_revenue: int = Field(sa_column=Column(BigInteger, nullable=False))
    r: int | None = Field(sa_column=Column(SmallInteger, nullable=True))
    f: int | None = Field(sa_column=Column(SmallInteger, nullable=True))
    m: int | None = Field(sa_column=Column(SmallInteger, nullable=True))
    segment: str | None = Field(sa_column=Column(String(40), nullable=True))
    formula_ltv: float = Field(sa_column=Column(Float, nullable=False))
    p_alive: float | None = Field(sa_column=Column(Float, nullable=True))
    expected_purchases: float | None = Field(sa_column=Column(Float, nullable=True))
    expected_aov: float | None = Field(sa_column=Column(Float, nullable=True))
    predicted_clv: float | None = Field(sa_column=Column(Float, nullable=True))
    as_of: date = Field(sa_column=Column(Date, nullable=False))
    computed_at: datetime = Field(sa_column=_ts())


class RfmEdgesRow(TenantModel, table=True):
    """One row (id 1): the lowest value of each RFM score in the last full recompute."""

    __tablename__ = "rfm_edges"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(sa_column=Column(SmallInteger, primary_key=True))
    recency: list[Any] = Field(sa_column=Column(ARRAY(Integer), nullable=False))
    frequency: list[Any] = Field(sa_column=Column(ARRAY(Integer), nullable=False))
    monetary: list[Any] = Field(sa_column=Column(ARRAY(BigInteger), nullable=False))
    customers: int = Field(sa_column=Column(Integer, nullable=False))
    as_of: date = Field(sa_column=Column(Date, nullable=False))
    computed_at: datetime = Field(sa_column=_ts())


class ClvModelRow(TenantModel, table=True):
    """Every fitted CLV model; the latest by fitted_at is the current one."""

    __tablename__ = "clv_models"
    __table_args__ = (Index("ix_clv_models_fitted_at", "fitted_at"),
                      CheckConstraint("time_unit IN ('day', 'week')", name="time_unit"))

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    r: float = Field(sa_column=Column(Float, nullable=False))
    alpha: float = Field(sa_column=Column(Float, nullable=False))
    a: float = Field(sa_column=Column(Float, nullable=False))
    b: float = Field(sa_column=Column(Float, nullable=False))
    p: float = Field(sa_column=Column(Float, nullable=False))
    q: float = Field(sa_column=Column(Float, nullable=False))
    gamma: float = Field(sa_column=Column(Float, nullable=False))
    bgnbd_log_likelihood: float = Field(sa_column=Column(Float, nullable=False))
    gamma_gamma_log_likelihood: float = Field(sa_column=Column(Float, nullable=False))
    n_customers: int = Field(sa_column=Column(Integer, nullable=False))
    n_repeat_customers: int = Field(sa_column=Column(Integer, nullable=False))
    n_spend_customers: int = Field(sa_column=Column(Integer, nullable=False))
    frequency_spend_correlation: float = Field(sa_column=Column(Float, nullable=False))
    time_unit: str = Field(sa_column=Column(String(8), nullable=False))
    observation_end: date = Field(sa_column=Column(Date, nullable=False))
    converged: bool = Field(sa_column=Column(Boolean, nullable=False))
    iterations: int = Field(sa_column=Column(Integer, nullable=False))
    fitted_at: datetime = Field(sa_column=_ts())


class AnalyticsJobRow(TenantModel, table=True):
    """Recompute and fit jobs, as `GET /v1/jobs/{id}` reports them."""

    __tablename__ = "analytics_jobs"
    __table_args__ = (Index("ix_analytics_jobs_kind_status", "kind", "status"),
                      CheckConstraint("kind IN ('recompute', 'clv_fit')", name="kind"),
                      CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')",
                                      name="status"))

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    params: dict = Field(sa_column=Column(JSONB, nullable=False,
                                          server_default=text("'{}'")))  # type: ignore[type-arg]
    progress: float = Field(sa_column=Column(Float, nullable=False, server_default=text("0")))
    stage: str = Field(sa_column=Column(String(32), nullable=False, server_default=text("''")))
    result: dict | None = Field(sa_column=Column(JSONB, nullable=True))  # type: ignore[type-arg]
    error: dict | None = Field(sa_column=Column(JSONB, nullable=True))  # type: ignore[type-arg]
    created_by: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=_ts())
    started_at: datetime | None = Field(sa_column=_ts(nullable=True))
    finished_at: datetime | None = Field(sa_column=_ts(nullable=True))


analytics_settings = AnalyticsSettingsRow.__table__
customer_metrics = CustomerMetricsRow.__table__
rfm_edges = RfmEdgesRow.__table__
clv_models = ClvModelRow.__table__
analytics_jobs = AnalyticsJobRow.__table__
