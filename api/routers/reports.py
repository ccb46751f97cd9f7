"""Analytics reports: F2 and repeat, CPO / ROMI, cohorts, acquisition to LTV, KPIs (read only)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Security

from api.deps import Caller, tenant_caller
from api.http.problems import problem_responses
from api.schemas.common import Day
from api.schemas.reports import AcquisitionReportRead, CohortsRead, F2Read, KpisRead, RomiRead, SeriesRead
from domain.analytics.acquisition import get_acquisition
from domain.analytics.attribution import get_romi
from domain.analytics.cohorts import get_cohorts
from domain.analytics.f2 import get_f2
from domain.analytics.kpis import get_kpis, get_series
from domain.analytics.reports import Scope

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])
Reader = Annotated[Caller, Security(tenant_caller, scopes=["analytics:read"])]
From = Annotated[Day | None, Query(alias="from", description=(
    "First tenant-local day (YYYY-MM-DD, included); default: 29 days before `to`"))]
To = Annotated[Day | None, Query(description="Last tenant-local day (included); default: today")]


def _scope(caller: Caller) -> Scope:
    assert caller.tenant is not None
    return Scope(timezone=caller.tenant.timezone, now=caller.clock.now())


@router.get("/f2", operation_id="analytics_second_purchase_rate", response_model=F2Read,
            summary="F2 rate of the period's first-time buyers, days to second purchase, repeat rate",
            responses=problem_responses())
async def f2(caller: Reader, from_: From = None, to: To = None) -> F2Read:
    report = await get_f2(uow=caller.uow, scope=_scope(caller), start=from_, end=to)
    return F2Read.from_domain(report)


@router.get("/romi", operation_id="analytics_romi", response_model=RomiRead,
            summary="CPO and ROMI per channel or campaign over a period (attributed orders vs costs)",
            responses=problem_responses())
async def romi(caller: Reader, group_by: Literal["channel", "campaign"] = "channel",
               from_: From = None, to: To = None,
               model: Annotated[Literal["last_touch", "first_touch"] | None, Query(
                   description="Attribution model; default: the tenant's setting")] = None) -> RomiRead:
    report = await get_romi(uow=caller.uow, scope=_scope(caller), group_by=group_by, start=from_, end=to,
                            model=model)
    return RomiRead.from_domain(report)


@router.get("/cohorts", operation_id="analytics_cohorts", response_model=CohortsRead,
            summary="Cohorts (first purchase month or week) x periods: retention, revenue or LTV",
            responses=problem_responses())
async def cohorts(caller: Reader, by: Literal["month", "week"] = "month",
                  metric: Literal["retention", "revenue", "ltv"] = "retention",
                  from_: Annotated[Day | None, Query(alias="from", description=(
                      "Cohorts from the month or week holding this day; default: 11 units before "
                      "`to`"))] = None,
                  to: Annotated[Day | None, Query(description=(
                      "Cohorts up to the month or week holding this day; default: today"))] = None,
                  ) -> CohortsRead:
    matrix = await get_cohorts(uow=caller.uow, scope=_scope(caller), by=by, metric=metric, start=from_,
                               end=to)
    return CohortsRead.from_domain(matrix)


@router.get("/acquisition", operation_id="analytics_acquisition", response_model=AcquisitionReportRead,
            summary=("Per first touchpoint: customers acquired, F2 rate, 6- and 12-month LTV (historical and "
                     "predicted), retention"),
            responses=problem_responses())
async def acquisition(caller: Reader, group_by: Literal["channel", "stage", "campaign"] = "channel",
                      from_: Annotated[Day | None, Query(alias="from", description=(
                          "Customers whose first purchase is on or after this day; default: 364 days "
                          "before `to`"))] = None,
                      to: To = None) -> AcquisitionReportRead:
    report = await get_acquisition(uow=caller.uow, scope=_scope(caller), group_by=group_by, start=from_,
                                   end=to)
    return AcquisitionReportRead.from_domain(report)


@router.get("/kpis", operation_id="analytics_kpis", response_model=KpisRead,
            summary="The KPI board of a period: customers, revenue, profit, F2, top-20% share, CPO, ROMI",
            responses=problem_responses())
async def kpis(caller: Reader, from_: From = None, to: To = None) -> KpisRead:
    return KpisRead.from_domain(await get_kpis(uow=caller.uow, scope=_scope(caller), start=from_, end=to))


@router.get("/kpis/series", operation_id="analytics_kpis_series", response_model=SeriesRead,
            summary="A KPI per day, ISO week or month (counts, money, CPO and ROMI)",
            responses=problem_responses())
async def kpi_series(caller: Reader,
                     metric: Literal["revenue", "gross_profit", "orders", "active_customers", "new_customers",
                                     "returning_customers", "cpo", "romi"],
                     interval: Literal["day", "week", "month"] = "day",
                     from_: Annotated[Day | None, Query(alias="from", description=(
                         "First tenant-local day; default: 29 days, 11 weeks or 11 months before `to`'s "
                         "bucket"))] = None,
                     to: To = None) -> SeriesRead:
    series = await get_series(uow=caller.uow, scope=_scope(caller), metric=metric, interval=interval,
                              start=from_, end=to)
    return SeriesRead.from_domain(series)
