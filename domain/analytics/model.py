"""What the analytics area stores: per-customer metrics, the fitted CLV model, jobs (docs/metrics.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.analytics.bgnbd import BgNbdParams
from domain.analytics.gamma_gamma import GammaGammaParams
from domain.analytics.settings import AnalyticsSettings
from domain.analytics.summary import TimeUnit


@dataclass(frozen=True)
class PurchaseAggregate:
    """One customer's counted orders (not cancelled, not fully refunded, not after the as-of
    instant), with days in the tenant's timezone and money net of refunds, in minor units."""

    customer_id: UUID
    first_order_at: datetime
    last_order_at: datetime
    first_day: date
    last_day: date
    second_day: date | None  # the second purchase occasion (F2)
    orders: int
    occasions: int  # distinct days with an order
    revenue: int
    gross_profit: int
    first_day_revenue: int  # revenue of the first occasion (left out of m_x)


@dataclass(frozen=True)
class Rfm:
    r: int
    f: int
    m: int
    segment: str


@dataclass(frozen=True)
class Predictions:
    p_alive: float | None
    expected_purchases: float | None  # over the settings' horizon
    expected_average_order_value: float | None  # Gamma-Gamma E[M], minor units
    predicted_clv: float | None  # discounted expected gross profit over the horizon, minor units


NO_PREDICTIONS = Predictions(None, None, None, None)


@dataclass(frozen=True)
class CustomerMetrics:
    purchases: PurchaseAggregate
    rfm: Rfm | None  # None until the first full recompute has set the quintiles
    formula_ltv: float
    predictions: Predictions
    as_of: date  # the tenant-local day the values were computed for
    computed_at: datetime


@dataclass(frozen=True)
class RfmEdges:
    """The lowest value that got each score 1-5 in the last recompute (None: no customer got it);
    incremental updates score new values against them until the next recompute."""

    recency: tuple[int | None, ...]  # last purchase day as days since 1970-01-01
    frequency: tuple[int | None, ...]
    monetary: tuple[int | None, ...]


@dataclass(frozen=True)
class ClvModel:
    id: UUID
    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams
    bgnbd_log_likelihood: float
    gamma_gamma_log_likelihood: float
    n_customers: int
    n_repeat_customers: int
    n_spend_customers: int
    frequency_spend_correlation: float
    time_unit: TimeUnit
    observation_end: date
    converged: bool
    iterations: int
    fitted_at: datetime


class JobKind(StrEnum):
    RECOMPUTE = "recompute"
    CLV_FIT = "clv_fit"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class AnalyticsJob:
    id: UUID
    kind: JobKind
    status: JobStatus
    created_by: str
    created_at: datetime
    params: dict[str, Any] = field(default_factory=dict)
    progress: float = 0.0  # 0 to 1
    stage: str = ""
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class SegmentCount:
    segment: str
    customers: int
    revenue: int


@dataclass(frozen=True)
class CellCount:
    r: int
    f: int
    m: int
    customers: int
    revenue: int


@dataclass(frozen=True)
class RfmDistribution:
    segments: list[SegmentCount]
    cells: list[CellCount]
    customers: int
    revenue: int
    unscored: int  # customers with purchases but no score yet (bought since the last recompute)
    as_of: date | None
    computed_at: datetime | None


@dataclass(frozen=True)
class RefreshInputs:
    """Everything one customer's refresh reads, fetched together (one round trip on a hot path)."""

    purchases: PurchaseAggregate | None
    settings: AnalyticsSettings
    edges: RfmEdges | None
    model: ClvModel | None
