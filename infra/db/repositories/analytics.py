"""The analytics area in a tenant schema: settings, customer metrics, the CLV model, jobs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

import numpy as np
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.analytics.bgnbd import BgNbdParams
from domain.analytics.gamma_gamma import GammaGammaParams
from domain.analytics.inputs import FloatArray
from domain.analytics.metrics import annuity_factor
from domain.analytics.model import (
    AnalyticsJob,
    CellCount,
    ClvModel,
    CustomerMetrics,
    JobKind,
    JobStatus,
    Predictions,
    PurchaseAggregate,
    Rfm,
    RfmDistribution,
    RfmEdges,
    SegmentCount,
)
from domain.analytics.ports import SummaryArrays
from domain.analytics.rfm import segment_grid
from domain.analytics.settings import (
    LTV_PERIODS,
    AnalyticsSettings,
    settings_from_dict,
    settings_to_dict,
)
from domain.analytics.summary import TimeUnit
from domain.shared.errors import PreconditionFailed
from infra.analytics import sql
from infra.analytics.queue import ANALYTICS_QUEUE, CLV_FIT_TASK, RECOMPUTE_TASK
from infra.db.tables.analytics import (
    analytics_jobs,
    analytics_settings,
    clv_models,
    customer_metrics,
    rfm_edges,
)

STAGE = "analytics_stage"
PREDICTED = "analytics_predicted"


class SqlAnalyticsSettingsRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self) -> AnalyticsSettings:
        return (await self.get_versioned())[0]

    async def get_versioned(self) -> tuple[AnalyticsSettings, int]:
        row = (await self._conn.execute(select(analytics_settings.c.settings, analytics_settings.c.version)
                                        .where(analytics_settings.c.id == 1))).first()
        if row is None:
            return AnalyticsSettings(), 0
        return settings_from_dict(row.settings), row.version

    async def put(self, settings: AnalyticsSettings, *, expected_version: int | None, now: datetime) -> int:
        values = {"settings": settings_to_dict(settings), "updated_at": now}
        statement = pg_insert(analytics_settings).values(id=1, version=1, **values)
        upsert = statement.on_conflict_do_update(
            index_elements=[analytics_settings.c.id],
            set_={**values, "version": analytics_settings.c.version + 1},
            where=(analytics_settings.c.version == expected_version)
            if expected_version is not None else None,
        ).returning(analytics_settings.c.version)
        if expected_version == 0:
            # "nothing stored yet" is version 0: only the first insert may match it
            upsert = statement.on_conflict_do_nothing().returning(analytics_settings.c.version)
        version = (await self._conn.execute(upsert)).scalar()
        if version is None or (expected_version not in (None, 0) and version == 1):
            raise PreconditionFailed("the settings changed since you read them (If-Match does not match)")
        return int(version)


def _aggregate(r: Any) -> PurchaseAggregate:
    return aggregate_of(r._mapping)


def aggregate_of(r: Mapping[str, Any]) -> PurchaseAggregate:
    return PurchaseAggregate(customer_id=r["customer_id"], first_order_at=r["first_order_at"],
                             last_order_at=r["last_order_at"], first_day=r["first_day"],
                             last_day=r["last_day"], second_day=r["second_day"], orders=r["orders"],
                             occasions=r["occasions"], revenue=r["revenue"], gross_profit=r["gross_profit"],
                             first_day_revenue=r["first_day_revenue"])


def _metrics(r: Any) -> CustomerMetrics:
    rfm = Rfm(r=r.r, f=r.f, m=r.m, segment=r.segment) if r.r is not None and r.segment is not None else None
    return CustomerMetrics(purchases=_aggregate(r), rfm=rfm, formula_ltv=r.formula_ltv,
                           predictions=Predictions(r.p_alive, r.expected_purchases, r.expected_aov,
                                                   r.predicted_clv),
                           as_of=r.as_of, computed_at=r.computed_at)


def _nullable(values: FloatArray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]


class SqlCustomerMetricsRepository:
    def __init__(self, conn: AsyncConnection, schema: str) -> None:
        self._conn = conn
        self._schema = schema

    async def get(self, customer_id: UUID) -> CustomerMetrics | None:
        row = (await self._conn.execute(select(customer_metrics)
                                        .where(customer_metrics.c.customer_id == customer_id))).first()
        return _metrics(row) if row else None

    async def aggregate(self, customer_id: UUID, *, now: datetime, timezone: str) -> PurchaseAggregate | None:
        row = (await self._conn.execute(
            text(sql.per_customer(self._schema, one_customer=True) + " SELECT * FROM per_customer"),  # noqa: S608
            {"customer_id": customer_id, "now": now, "tz": timezone})).first()
        return _aggregate(row) if row else None

    async def edges(self) -> RfmEdges | None:
        row = (await self._conn.execute(select(rfm_edges).where(rfm_edges.c.id == 1))).first()
        if row is None:
            return None
        return RfmEdges(recency=tuple(row.recency), frequency=tuple(row.frequency),
                        monetary=tuple(row.monetary))

    async def stage(self, *, now: datetime, as_of: date, timezone: str, settings: AnalyticsSettings) -> int:
        grid = segment_grid(settings.rfm_segments)
        cells = sorted(grid.items())
        await self._conn.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
        await self._conn.execute(text(f"DROP TABLE IF EXISTS {PREDICTED}"))
        result = await self._conn.execute(
            text(f"CREATE TEMPORARY TABLE {STAGE} ON COMMIT DROP AS " + sql.stage(self._schema)),
            {"now": now, "tz": timezone, "as_of": as_of, "period_days": LTV_PERIODS[settings.ltv_period],
             "annuity": annuity_factor(settings), "grid_r": [c[0][0] for c in cells],
             "grid_fm": [c[0][1] for c in cells], "grid_segment": [c[1] for c in cells]})
        await self._conn.execute(text(
            f"CREATE TEMPORARY TABLE {PREDICTED} (customer_id uuid PRIMARY KEY, p_alive float8,"
            " expected_purchases float8, expected_aov float8, predicted_clv float8) ON COMMIT DROP"))
        self._as_of, self._now = as_of, now
        return int(result.rowcount or 0)

    async def staged_summary(self) -> tuple[list[UUID], SummaryArrays]:
        rows = (await self._conn.execute(text(
            f"SELECT customer_id, occasions - 1 AS x, last_day - first_day AS t_x,"  # noqa: S608
            f" CAST(:as_of AS date) - first_day AS age, first_day_revenue, revenue FROM {STAGE}"),
            {"as_of": self._as_of})).all()
        x = np.array([r.x for r in rows], dtype=np.float64)
        repeat = np.array([r.revenue - r.first_day_revenue for r in rows], dtype=np.float64)
        m = np.divide(repeat, x, out=np.zeros(len(x)), where=x > 0)
        return [r.customer_id for r in rows], (x, np.array([r.t_x for r in rows], dtype=np.float64),
                                                np.array([r.age for r in rows], dtype=np.float64), m)

    async def stage_predictions(self, customer_ids: list[UUID], p_alive: FloatArray,
                                expected_purchases: FloatArray,
                                expected_spend: FloatArray, predicted_clv: FloatArray) -> None:
        await self._conn.execute(text(
            f"INSERT INTO {PREDICTED} SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:p AS float8[]),"  # noqa: S608
            " CAST(:e AS float8[]), CAST(:s AS float8[]), CAST(:c AS float8[]))"),
            {"ids": customer_ids, "p": _nullable(p_alive), "e": _nullable(expected_purchases),
             "s": _nullable(expected_spend), "c": _nullable(predicted_clv)})

    async def publish_staged(self) -> None:
        # DELETE, not TRUNCATE: TRUNCATE's exclusive lock would block readers until commit, while
        # under MVCC they keep reading the previous rows until this transaction commits.
        s = sql.quoted(self._schema)
        await self._conn.execute(text(f"DELETE FROM {s}.customer_metrics"))  # noqa: S608
        await self._conn.execute(text(
            f"INSERT INTO {s}.customer_metrics SELECT st.customer_id, st.first_order_at, st.last_order_at,"  # noqa: S608
            " st.first_day, st.last_day, st.second_day, st.orders, st.occasions, st.revenue, st.gross_profit,"
            " st.first_day_revenue, st.r, st.f, st.m, st.segment, st.formula_ltv, pr.p_alive,"
            " pr.expected_purchases, pr.expected_aov, pr.predicted_clv, CAST(:as_of AS date), :now"
            f" FROM {STAGE} st LEFT JOIN {PREDICTED} pr ON pr.customer_id = st.customer_id"),
            {"as_of": self._as_of, "now": self._now})
        await self._conn.execute(text(
            f"INSERT INTO {s}.rfm_edges (id, recency, frequency, monetary, customers, as_of, computed_at)"  # noqa: S608
            " SELECT 1,"
            " ARRAY(SELECT (SELECT min(last_day - DATE '1970-01-01') FROM {st} WHERE r = k)"
            " FROM generate_series(1, 5) k),"
            " ARRAY(SELECT (SELECT min(occasions) FROM {st} WHERE f = k) FROM generate_series(1, 5) k),"
            " ARRAY(SELECT (SELECT min(revenue) FROM {st} WHERE m = k) FROM generate_series(1, 5) k),"
            " (SELECT count(*) FROM {st}), CAST(:as_of AS date), :now"
            " ON CONFLICT (id) DO UPDATE SET recency = excluded.recency, frequency = excluded.frequency,"
            " monetary = excluded.monetary, customers = excluded.customers, as_of = excluded.as_of,"
            " computed_at = excluded.computed_at".replace("{st}", STAGE)),
            {"as_of": self._as_of, "now": self._now})

    async def rfm_distribution(self) -> RfmDistribution:
        c = customer_metrics.c
        segments = (await self._conn.execute(
            select(c.segment, func.count().label("n"), func.coalesce(func.sum(c.revenue), 0).label("revenue"))
            .where(c.segment.is_not(None)).group_by(c.segment).order_by(c.segment))).all()
        cells = (await self._conn.execute(
            select(c.r, c.f, c.m, func.count().label("n"), func.coalesce(func.sum(c.revenue),
                                                                         0).label("revenue"))
            .where(c.r.is_not(None)).group_by(c.r, c.f, c.m).order_by(c.r.desc(), c.f.desc(),
                                                                      c.m.desc()))).all()
        totals = (await self._conn.execute(select(
            func.count(), func.coalesce(func.sum(c.revenue), 0), func.count().filter(c.r.is_(None))))).one()
        edges = (await self._conn.execute(select(rfm_edges.c.as_of, rfm_edges.c.computed_at))).first()
        return RfmDistribution(
            segments=[SegmentCount(segment=r.segment, customers=r.n,
                                   revenue=int(r.revenue)) for r in segments],
            cells=[CellCount(r=x.r, f=x.f, m=x.m, customers=x.n, revenue=int(x.revenue)) for x in cells],
            customers=int(totals[0]), revenue=int(totals[1]), unscored=int(totals[2]),
            as_of=edges.as_of if edges else None, computed_at=edges.computed_at if edges else None)

    async def purchase_summary(self, *, observation_end: date, timezone: str, now: datetime) -> SummaryArrays:
        rows = (await self._conn.execute(text(
            sql.per_customer(self._schema, until_day=True)  # noqa: S608
            + " SELECT occasions - 1 AS x, last_day - first_day AS t_x,"
              " CAST(:until AS date) - first_day AS age,"
              " revenue - first_day_revenue AS repeat_revenue FROM per_customer ORDER BY customer_id"),
            {"now": now, "tz": timezone, "until": observation_end})).all()
        x = np.array([r.x for r in rows], dtype=np.float64)
        repeat = np.array([r.repeat_revenue for r in rows], dtype=np.float64)
        return (x, np.array([r.t_x for r in rows], dtype=np.float64),
                np.array([r.age for r in rows], dtype=np.float64),
                np.divide(repeat, x, out=np.zeros(len(x)), where=x > 0))

    async def count_buyers(self, *, observation_end: date, timezone: str, now: datetime) -> int:
        s = sql.quoted(self._schema)
        return int((await self._conn.execute(text(
            f"SELECT count(DISTINCT customer_id) FROM {s}.orders"  # noqa: S608 - quoted registry schema
            " WHERE status IN ('placed', 'partially_refunded')"
            " AND ordered_at <= :now AND (ordered_at AT TIME ZONE :tz)::date <= :until"),
            {"now": now, "tz": timezone, "until": observation_end})).scalar() or 0)


def _model(r: Any) -> ClvModel:
    return clv_model_of(r._mapping)


def clv_model_of(r: Mapping[str, Any], prefix: str = "") -> ClvModel:
    """A stored model from its row; `prefix` when the columns come prefixed (infra/analytics/sql.py)."""
    c = {name: r[prefix + name] for name in sql.CLV_MODEL_COLUMNS}
    return ClvModel(id=c["id"], bgnbd=BgNbdParams(r=c["r"], alpha=c["alpha"], a=c["a"], b=c["b"]),
                    gamma_gamma=GammaGammaParams(p=c["p"], q=c["q"], gamma=c["gamma"]),
                    bgnbd_log_likelihood=c["bgnbd_log_likelihood"],
                    gamma_gamma_log_likelihood=c["gamma_gamma_log_likelihood"], n_customers=c["n_customers"],
                    n_repeat_customers=c["n_repeat_customers"], n_spend_customers=c["n_spend_customers"],
                    frequency_spend_correlation=c["frequency_spend_correlation"],
                    time_unit=TimeUnit(c["time_unit"]), observation_end=c["observation_end"],
                    converged=c["converged"], iterations=c["iterations"], fitted_at=c["fitted_at"])


class SqlClvModelRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def latest(self) -> ClvModel | None:
        row = (await self._conn.execute(select(clv_models).order_by(clv_models.c.fitted_at.desc(),
                                                                    clv_models.c.id.desc()).limit(1))).first()
        return _model(row) if row else None

    async def add(self, model: ClvModel) -> None:
        b, g = model.bgnbd, model.gamma_gamma
        await self._conn.execute(insert(clv_models).values(
            id=model.id, r=b.r, alpha=b.alpha, a=b.a, b=b.b, p=g.p, q=g.q, gamma=g.gamma,
            bgnbd_log_likelihood=model.bgnbd_log_likelihood,
            gamma_gamma_log_likelihood=model.gamma_gamma_log_likelihood, n_customers=model.n_customers,
            n_repeat_customers=model.n_repeat_customers, n_spend_customers=model.n_spend_customers,
            frequency_spend_correlation=model.frequency_spend_correlation, time_unit=model.time_unit.value,
            observation_end=model.observation_end, converged=model.converged, iterations=model.iterations,
            fitted_at=model.fitted_at))


def _job(r: Any) -> AnalyticsJob:
    return AnalyticsJob(id=r.id, kind=JobKind(r.kind), status=JobStatus(r.status), created_by=r.created_by,
                        created_at=r.created_at, params=r.params or {}, progress=r.progress, stage=r.stage,
                        result=r.result, error=r.error, started_at=r.started_at, finished_at=r.finished_at)


def _job_values(job: AnalyticsJob) -> dict[str, Any]:
    return {"kind": job.kind.value, "status": job.status.value, "params": job.params,
            "progress": job.progress,
            "stage": job.stage, "result": job.result, "error": job.error, "created_by": job.created_by,
            "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at}


class SqlAnalyticsJobRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, job: AnalyticsJob) -> None:
        await self._conn.execute(insert(analytics_jobs).values(id=job.id, **_job_values(job)))

    async def get(self, job_id: UUID) -> AnalyticsJob | None:
        row = (await self._conn.execute(select(analytics_jobs).where(analytics_jobs.c.id == job_id))).first()
        return _job(row) if row else None

    async def unfinished(self, kind: JobKind) -> AnalyticsJob | None:
        row = (await self._conn.execute(select(analytics_jobs).where(
            analytics_jobs.c.kind == kind.value,
            analytics_jobs.c.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]))
            .order_by(analytics_jobs.c.created_at.desc()).limit(1))).first()
        return _job(row) if row else None

    async def update(self, job: AnalyticsJob) -> None:
        await self._conn.execute(update(analytics_jobs).where(analytics_jobs.c.id == job.id)
                                 .values(**_job_values(job)))

    async def enqueue_run(self, job: AnalyticsJob, *, tenant_id: UUID) -> None:
        # The same row procrastinate's defer writes (as imports do), in the job's transaction; the
        # lock keeps two analytics jobs of one tenant from running at once.
        task = RECOMPUTE_TASK if job.kind is JobKind.RECOMPUTE else CLV_FIT_TASK
        await self._conn.execute(text(
            "INSERT INTO control.procrastinate_jobs (queue_name, task_name, priority, lock, args)"
            " VALUES (:queue, :task, 0, :lock, CAST(:args AS jsonb))"),
            {"queue": ANALYTICS_QUEUE, "task": task, "lock": f"analytics:{tenant_id}",
             "args": json.dumps({"tenant_id": str(tenant_id), "job_id": str(job.id)})})
