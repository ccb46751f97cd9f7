"""The report port (set-based aggregate queries over orders, events and costs) and what the
report use cases share: the period, the tenant's settings, ratios that are never NaN.

Definitions: docs/metrics.md, sections "F2 and repeat" onwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from domain.analytics.settings import AnalyticsSettings
from domain.shared.errors import InvalidInput

if TYPE_CHECKING:
    from domain.analytics.acquisition import AcquisitionCounts
    from domain.analytics.attribution import AttributedGroup, CostGroup
    from domain.analytics.cohorts import CohortCell
    from domain.analytics.f2 import F2Counts
    from domain.analytics.kpis import KpiCounts, LoyalCount, RomiPoint, SeriesPoint
    from domain.shared.ports import UnitOfWork

# A tenant-local period longer than this is almost certainly a typo, and would make a series of
# days hundreds of thousands of points long.
MAX_PERIOD_DAYS = 3660


@dataclass(frozen=True)
class Period:
    """Tenant-local days [start, end], both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def period(start: date | None, end: date | None, *, today: date, default_days: int = 30) -> Period:
    """`from`/`to` of a report. Omitted: `to` is today and `from` is `default_days - 1` days before
    `to`. `from` after `to` is 422."""
    end = end or (max(today, start) if start else today)
    start = start or end - timedelta(days=default_days - 1)
    if start > end:
        raise InvalidInput("`from` must not be after `to`", field="from")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInput(f"a period spans at most {MAX_PERIOD_DAYS} days", field="to")
    return Period(start, end)


def local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True)
class Ratio:
    """A ratio that may not exist: `value` is None exactly when `reason` says why (never NaN)."""

    value: float | None
    reason: str | None = None


def ratio(numerator: float, denominator: float, *, when_zero: str) -> Ratio:
    if denominator == 0:
        return Ratio(None, when_zero)
    return Ratio(numerator / denominator)


async def load_settings(uow: UnitOfWork) -> AnalyticsSettings:
    """The tenant's analytics settings (inside `async with uow`); the defaults while the settings
    repository is not bound (the analytics settings area may not be wired yet)."""
    repository: Any = getattr(uow, "analytics_settings", None)
    if repository is None:
        return AnalyticsSettings()
    settings: AnalyticsSettings = await repository.get()
    return settings


@dataclass(frozen=True)
class Scope:
    """What every report query needs: the tenant's timezone and the instant the report is for
    (orders after it, i.e. future-dated ones, are left out)."""

    timezone: str
    now: datetime

    @property
    def today(self) -> date:
        return local_today(self.now, self.timezone)


class ReportQueries(Protocol):
    """Set-based aggregates over the tenant's counted orders (docs/metrics.md: cancelled and fully
    refunded orders left out, amounts net of refunds, purchase occasions = tenant-local days)."""

    async def f2_counts(self, scope: Scope, p: Period, *, window_days: int,
                        bucket_starts: tuple[int, ...]) -> F2Counts: ...

    async def cohort_cells(self, scope: Scope, *, unit: str, cohorts_from: date,
                           cohorts_to: date) -> list[CohortCell]: ...

    async def attributed_orders(self, scope: Scope, p: Period, *, group_by: str, model: str,
                                window_days: int) -> list[AttributedGroup]: ...

    async def costs(self, p: Period, *, group_by: str) -> list[CostGroup]: ...

    async def acquisition_counts(self, scope: Scope, p: Period, *, group_by: str, f2_window_days: int,
                                 dormant_after_days: int) -> list[AcquisitionCounts]: ...

    async def kpi_counts(self, scope: Scope, p: Period, *, dormant_after_days: int) -> KpiCounts: ...

    async def loyal_customers(self, segments: tuple[str, ...]) -> LoyalCount:
        """Customers whose RFM segment (last full recompute) is one of `segments`."""
        ...

    async def series(self, scope: Scope, p: Period, *, interval: str) -> list[SeriesPoint]: ...

    async def romi_series(self, scope: Scope, p: Period, *, interval: str, model: str,
                          window_days: int) -> list[RomiPoint]:
        """Attributed orders and pro-rated costs per interval (one statement each, not the
        board's queries once per interval)."""
        ...
