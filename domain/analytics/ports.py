"""What the analytics use cases need from storage (bound on the unit of work)."""

from __future__ import annotations

from datetime import date, datetime
from types import TracebackType
from typing import Protocol
from uuid import UUID

from domain.analytics.inputs import FloatArray
from domain.analytics.model import (
    AnalyticsJob,
    ClvModel,
    CustomerMetrics,
    JobKind,
    PurchaseAggregate,
    RefreshInputs,
    RfmDistribution,
    RfmEdges,
)
from domain.analytics.settings import AnalyticsSettings

# (x, t_x in days, T in days, m_x) per customer, as numpy arrays
SummaryArrays = tuple[FloatArray, FloatArray, FloatArray, FloatArray]


class AnalyticsSettingsRepository(Protocol):
    async def get(self) -> AnalyticsSettings:
        """The tenant's settings; the defaults when it never stored any."""
        ...

    async def get_versioned(self) -> tuple[AnalyticsSettings, int]:
        """The settings and their version (0: nothing stored yet)."""
        ...

    async def put(self, settings: AnalyticsSettings, *, expected_version: int | None, now: datetime) -> int:
        """Store the settings; PreconditionFailed when `expected_version` is not the current one.
        Returns the new version."""
        ...


class MetricsRefreshSession(Protocol):
    """One transaction that refreshes one customer's metrics row: the per-order refresh's own
    storage port, lighter than the unit of work (it runs for every order placed or refunded).
    Leaving the block without `commit()` rolls back."""

    async def __aenter__(self) -> MetricsRefreshSession: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    async def refresh_inputs(self, customer_id: UUID, *, now: datetime, timezone: str) -> RefreshInputs:
        """The customer's aggregate (as CustomerMetricsRepository.aggregate), the settings, the
        RFM edges and the latest model, read together, after waiting for any other refresh of
        the same customer to finish (so that the last write is never the older picture)."""
        ...

    async def save(self, metrics: CustomerMetrics) -> None: ...

    async def delete(self, customer_id: UUID) -> None: ...

    async def commit(self) -> None: ...


class CustomerMetricsRepository(Protocol):
    async def get(self, customer_id: UUID) -> CustomerMetrics | None: ...

    async def aggregate(self, customer_id: UUID, *, now: datetime, timezone: str) -> PurchaseAggregate | None:
        """The customer's counted orders up to `now`, or None when none counts."""
        ...

    async def edges(self) -> RfmEdges | None:
        """The RFM quintile edges of the last full recompute."""
        ...

    async def stage(self, *, now: datetime, as_of: date, timezone: str, settings: AnalyticsSettings) -> int:
        """Full recompute, step 1: every customer's aggregate, RFM and formula LTV into a staging
        table of this transaction (set-based). Returns the number of customers."""
        ...

    async def staged_summary(self) -> tuple[list[UUID], SummaryArrays]:
        """The staged customers' (x, t_x, T, m_x) as of the staged day."""
        ...

    async def stage_predictions(self, customer_ids: list[UUID], p_alive: FloatArray,
                                expected_purchases: FloatArray,
                                expected_spend: FloatArray, predicted_clv: FloatArray) -> None: ...

    async def publish_staged(self) -> None:
        """Replace the stored metrics and edges with the staged ones (visible at commit)."""
        ...

    async def rfm_distribution(self) -> RfmDistribution: ...

    async def purchase_summary(self, *, observation_end: date, timezone: str, now: datetime) -> SummaryArrays:
        """(x, t_x, T, m_x) in days of every customer with a counted order on or before the day
        (and placed by `now`), ordered by customer id."""
        ...

    async def count_buyers(self, *, observation_end: date, timezone: str, now: datetime) -> int: ...


class ClvModelRepository(Protocol):
    async def latest(self) -> ClvModel | None: ...

    async def add(self, model: ClvModel) -> None: ...


class AnalyticsJobRepository(Protocol):
    async def add(self, job: AnalyticsJob) -> None: ...

    async def get(self, job_id: UUID) -> AnalyticsJob | None: ...

    async def unfinished(self, kind: JobKind) -> AnalyticsJob | None:
        """A queued or running job of this kind, if any."""
        ...

    async def update(self, job: AnalyticsJob) -> None: ...

    async def enqueue_run(self, job: AnalyticsJob, *, tenant_id: UUID) -> None:
        """Queue the job's worker task in this transaction."""
        ...
