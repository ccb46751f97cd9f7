"""Analytics use cases: settings, customer metrics (incremental and full), RFM, the CLV model, jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np

from domain.analytics import bgnbd, gamma_gamma
from domain.analytics.metrics import customer_metrics, predict
from domain.analytics.model import (
    AnalyticsJob,
    ClvModel,
    CustomerMetrics,
    JobKind,
    JobStatus,
    RfmDistribution,
)
from domain.analytics.ports import MetricsRefreshSession
from domain.analytics.settings import AnalyticsSettings, validate_settings
from domain.analytics.summary import TimeUnit
from domain.customers.services import get_customer
from domain.shared.clock import Clock
from domain.shared.errors import DomainError, InvalidInput, NotFound
from domain.shared.ids import new_id
from domain.shared.ports import UnitOfWork

# Up to this many customers a fit runs in the request (CDNOW's 2,357 take ~20 ms); above, a job.
SYNC_FIT_MAX_CUSTOMERS = 50_000


def local_day(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


# -- settings ----------------------------------------------------------------------------------

async def get_settings(*, uow: UnitOfWork) -> tuple[AnalyticsSettings, int]:
    async with uow:
        return await uow.analytics_settings.get_versioned()


async def put_settings(*, uow: UnitOfWork, clock: Clock, settings: AnalyticsSettings,
                       expected_version: int | None) -> tuple[AnalyticsSettings, int]:
    """Replace the settings (InvalidInput naming each bad field; PreconditionFailed on a stale
    If-Match). Stored metrics keep their values until the next recompute or order."""
    validate_settings(settings)
    async with uow:
        version = await uow.analytics_settings.put(settings, expected_version=expected_version,
                                                   now=clock.now())
        await uow.commit()
    return settings, version


# -- customer metrics --------------------------------------------------------------------------

@dataclass(frozen=True)
class CustomerMetricsView:
    customer_id: UUID
    requested_id: UUID
    metrics: CustomerMetrics | None  # None: no counted order
    settings: AnalyticsSettings
    today: date

    @property
    def redirected(self) -> bool:
        return self.customer_id != self.requested_id


async def get_customer_metrics(*, uow: UnitOfWork, clock: Clock, timezone: str,
                               customer_id: UUID) -> CustomerMetricsView:
    """A customer's stored metrics; a merged id reads the customer it was merged into."""
    async with uow:
        found = await get_customer(uow=uow, customer_id=customer_id)
        metrics = await uow.customer_metrics.get(found.customer.id)
        settings = await uow.analytics_settings.get()
    return CustomerMetricsView(customer_id=found.customer.id, requested_id=customer_id, metrics=metrics,
                               settings=settings, today=local_day(clock.now(), timezone))


async def refresh_customer_metrics(*, session: MetricsRefreshSession, clock: Clock, timezone: str,
                                   customer_id: UUID) -> CustomerMetrics | None:
    """Incremental update when an order arrives or is refunded: this customer's row only, from
    their own orders (an index range), scored against the last recompute's RFM edges."""
    now = clock.now()
    async with session:
        inputs = await session.refresh_inputs(customer_id, now=now, timezone=timezone)
        if inputs.purchases is None:
            await session.delete(customer_id)
            await session.commit()
            return None
        metrics = customer_metrics(inputs.purchases, as_of=local_day(now, timezone), now=now,
                                   settings=inputs.settings, edges=inputs.edges, model=inputs.model)
        await session.save(metrics)
        await session.commit()
    return metrics


async def rfm_distribution(*, uow: UnitOfWork) -> tuple[RfmDistribution, AnalyticsSettings]:
    """Customers and revenue per segment and per (R, F, M) cell, with the settings naming the segments."""
    async with uow:
        return await uow.customer_metrics.rfm_distribution(), await uow.analytics_settings.get()


# -- jobs --------------------------------------------------------------------------------------

async def _queue(uow: UnitOfWork, clock: Clock, *, kind: JobKind, tenant_id: UUID, created_by: str,
                 params: dict[str, Any]) -> AnalyticsJob:
    job = AnalyticsJob(id=new_id(), kind=kind, status=JobStatus.QUEUED, created_by=created_by,
                       created_at=clock.now(), params=params)
    await uow.analytics_jobs.add(job)
    await uow.analytics_jobs.enqueue_run(job, tenant_id=tenant_id)
    return job


async def request_recompute(*, uow: UnitOfWork, clock: Clock, tenant_id: UUID,
                            created_by: str) -> AnalyticsJob:
    """Queue a full recompute; while one is queued or running, that one is returned instead."""
    async with uow:
        pending = await uow.analytics_jobs.unfinished(JobKind.RECOMPUTE)
        if pending is not None:
            return pending
        job = await _queue(uow, clock, kind=JobKind.RECOMPUTE, tenant_id=tenant_id, created_by=created_by,
                           params={})
        await uow.commit()
    return job


async def get_job(*, uow: UnitOfWork, job_id: UUID) -> AnalyticsJob:
    async with uow:
        job = await uow.analytics_jobs.get(job_id)
    if job is None:
        raise NotFound("job", job_id)
    return job


UowFactory = Callable[[], UnitOfWork]


async def _set(uow_factory: UowFactory, job: AnalyticsJob, **changes: Any) -> AnalyticsJob:
    # Progress goes through its own short transaction so pollers see it while the work runs.
    job = replace(job, **changes)
    uow = uow_factory()
    async with uow:
        await uow.analytics_jobs.update(job)
        await uow.commit()
    return job


async def _start(uow_factory: UowFactory, clock: Clock, job_id: UUID) -> AnalyticsJob | None:
    uow = uow_factory()
    async with uow:
        job = await uow.analytics_jobs.get(job_id)
    if job is None or job.status is JobStatus.SUCCEEDED:
        return None  # jobs may run twice: a finished one is left alone
    return await _set(uow_factory, job, status=JobStatus.RUNNING, started_at=clock.now(), progress=0.0,
                      error=None)


async def _fail(uow_factory: UowFactory, clock: Clock, job: AnalyticsJob, exc: Exception) -> None:
    error: dict[str, Any] = {"detail": str(exc)}
    if isinstance(exc, DomainError):
        error = {"detail": exc.detail, **exc.extra}
    await _set(uow_factory, job, status=JobStatus.FAILED, finished_at=clock.now(), error=error)


async def recompute_metrics(*, uow_factory: UowFactory, clock: Clock, timezone: str,
                            job_id: UUID | None = None) -> dict[str, Any]:
    """The full recompute: every customer's metrics, RFM and formula LTV set-based in SQL, then the
    predictions of the stored model, all staged in one transaction that replaces the previous
    results at commit. Readers see the old results until then, never a mix."""
    job = await _start(uow_factory, clock, job_id) if job_id is not None else None
    if job_id is not None and job is None:
        return {"job_id": str(job_id), "status": "already finished or unknown"}
    now = clock.now()
    as_of = local_day(now, timezone)
    try:
        uow = uow_factory()
        async with uow:
            settings = await uow.analytics_settings.get()
            if job is not None:
                job = await _set(uow_factory, job, stage="aggregating", progress=0.1)
            customers = await uow.customer_metrics.stage(now=now, as_of=as_of, timezone=timezone,
                                                         settings=settings)
            model = await uow.clv_models.latest()
            if model is not None and customers:
                if job is not None:
                    job = await _set(uow_factory, job, stage="predicting", progress=0.6)
                ids, (x, t_x, big_t, m) = await uow.customer_metrics.staged_summary()
                p, e, s, c = await asyncio.to_thread(predict, model, settings, frequency=x, recency_days=t_x,
                                                     age_days=big_t, monetary_value=m)
                await uow.customer_metrics.stage_predictions(ids, p, e, s, c)
            if job is not None:
                job = await _set(uow_factory, job, stage="publishing", progress=0.9)
            await uow.customer_metrics.publish_staged()
            await uow.commit()
    except Exception as exc:
        if job is not None:
            await _fail(uow_factory, clock, job, exc)
        raise
    result = {"customers": customers, "as_of": as_of.isoformat(), "predictions": model is not None}
    if job is not None:
        await _set(uow_factory, job, status=JobStatus.SUCCEEDED, stage="done", progress=1.0,
                   finished_at=clock.now(), result=result)
    return result


# -- the CLV model -----------------------------------------------------------------------------

async def get_clv_model(*, uow: UnitOfWork) -> ClvModel:
    async with uow:
        model = await uow.clv_models.latest()
    if model is None:
        raise NotFound("CLV model", "of this tenant (fit one: POST /v1/analytics/clv/fit)")
    return model


def _check_fit_request(observation_end: date | None, time_unit: str, today: date) -> tuple[date, TimeUnit]:
    if time_unit not in {u.value for u in TimeUnit}:
        raise InvalidInput("time_unit is day or week", field="time_unit")
    end = observation_end or today
    if end > today:
        raise InvalidInput(f"observation_end must not be after today ({today.isoformat()} in the tenant's"
                           " timezone): the future has no purchases yet", field="observation_end")
    return end, TimeUnit(time_unit)


def fit_models(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, m: np.ndarray, *, observation_end: date,
               time_unit: TimeUnit, now: datetime) -> ClvModel:
    """BG/NBD then Gamma-Gamma on one summary (times in days, converted to the unit)."""
    unit = float(time_unit.days)
    purchases = bgnbd.fit(frequency=x, recency=t_x / unit, age=big_t / unit)
    spend = gamma_gamma.fit(frequency=x, monetary_value=m)
    return ClvModel(id=new_id(), bgnbd=purchases.params, gamma_gamma=spend.params,
                    bgnbd_log_likelihood=purchases.log_likelihood,
                    gamma_gamma_log_likelihood=spend.log_likelihood,
                    n_customers=purchases.n_customers, n_repeat_customers=purchases.n_repeat_customers,
                    n_spend_customers=spend.n_customers,
                    frequency_spend_correlation=spend.frequency_spend_correlation, time_unit=time_unit,
                    observation_end=observation_end, converged=purchases.converged and spend.converged,
                    iterations=purchases.iterations + spend.iterations, fitted_at=now)


async def _fit_and_store(uow: UnitOfWork, clock: Clock, timezone: str, end: date, unit: TimeUnit) -> ClvModel:
    async with uow:
        x, t_x, big_t, m = await uow.customer_metrics.purchase_summary(observation_end=end, timezone=timezone,
                                                                         now=clock.now())
    model = await asyncio.to_thread(fit_models, x, t_x, big_t, m, observation_end=end, time_unit=unit,
                                    now=clock.now())
    async with uow:
        await uow.clv_models.add(model)
        await uow.commit()
    return model


async def fit_clv(*, uow: UnitOfWork, clock: Clock, timezone: str, tenant_id: UUID, created_by: str,
                  observation_end: date | None, time_unit: str) -> ClvModel | AnalyticsJob:
    """Fit BG/NBD and Gamma-Gamma on the tenant's purchases up to `observation_end` (default today):
    in the request for tenants up to SYNC_FIT_MAX_CUSTOMERS buyers (the model), else as a job.
    NotEnoughData / FitDidNotConverge (422) explain a fit that cannot be trusted."""
    end, unit = _check_fit_request(observation_end, time_unit, local_day(clock.now(), timezone))
    async with uow:
        buyers = await uow.customer_metrics.count_buyers(observation_end=end, timezone=timezone,
                                                         now=clock.now())
        if buyers > SYNC_FIT_MAX_CUSTOMERS:
            job = await _queue(uow, clock, kind=JobKind.CLV_FIT, tenant_id=tenant_id, created_by=created_by,
                               params={"observation_end": end.isoformat(), "time_unit": unit.value})
            await uow.commit()
            return job
    return await _fit_and_store(uow, clock, timezone, end, unit)


async def run_clv_fit(*, uow_factory: UowFactory, clock: Clock, timezone: str, job_id: UUID) -> dict[str,
                                                                                                     Any]:
    job = await _start(uow_factory, clock, job_id)
    if job is None:
        return {"job_id": str(job_id), "status": "already finished or unknown"}
    try:
        job = await _set(uow_factory, job, stage="fitting", progress=0.1)
        model = await _fit_and_store(uow_factory(), clock, timezone,
                                     date.fromisoformat(job.params["observation_end"]),
                                     TimeUnit(job.params["time_unit"]))
    except Exception as exc:
        await _fail(uow_factory, clock, job, exc)
        if isinstance(exc, DomainError):
            return {"job_id": str(job_id), "status": "failed"}  # a verdict on the data: no retry
        raise
    result = {"model_id": str(model.id), "converged": model.converged}
    await _set(uow_factory, job, status=JobStatus.SUCCEEDED, stage="done", progress=1.0,
               finished_at=clock.now(),
               result=result)
    return result
