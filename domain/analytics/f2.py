"""F2 (second-purchase) rate, days to the second purchase, and repeat rate.

Definitions (docs/metrics.md, "F2 and repeat"): purchase occasions are tenant-local days with a
counted order; a *first-time buyer of the period* has their first occasion in the period; they
*convert* when their second occasion falls within N days (N = f2_window_days) of the first.
Buyers whose window is still open and who have not converted yet are *pending*: neither a success
nor a failure, so an F2 rate of a recent period is not dragged down by customers who may still buy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.analytics.reports import Period, Ratio, Scope, load_settings, period, ratio
from domain.shared.ports import UnitOfWork

# Histogram of days from the first to the second occasion: bucket i holds
# BUCKET_STARTS[i] <= days < BUCKET_STARTS[i + 1] (the last is open-ended). Second occasions are on
# a later day, so days >= 1. Week, fortnight, then months: the horizons step mails are planned on.
BUCKET_STARTS: tuple[int, ...] = (1, 8, 15, 31, 61, 91, 181, 366)


@dataclass(frozen=True)
class F2Counts:
    """What the query counts; `histogram[i]` is the number of first-time buyers of the period whose
    second occasion (whenever it came) is in bucket i."""

    first_time_buyers: int
    converted: int
    not_converted: int  # window closed without a second occasion inside it
    pending: int  # window still open, no second occasion yet
    with_second_purchase: int  # at any time, inside the window or later
    histogram: tuple[int, ...]
    median_days: float | None
    mean_days: float | None
    active_buyers: int  # customers with an occasion in the period
    repeat_buyers: int  # of those, with at least two occasions up to the period's end


@dataclass(frozen=True)
class Bucket:
    min_days: int
    max_days: int | None  # inclusive; None: no upper bound
    customers: int


@dataclass(frozen=True)
class F2Report:
    period: Period
    window_days: int
    counts: F2Counts
    f2_rate: Ratio
    repeat_rate: Ratio
    buckets: tuple[Bucket, ...]


def buckets(histogram: tuple[int, ...]) -> tuple[Bucket, ...]:
    ends: list[int | None] = [s - 1 for s in BUCKET_STARTS[1:]]
    ends.append(None)
    return tuple(Bucket(lo, hi, n) for lo, hi, n in zip(BUCKET_STARTS, ends, histogram, strict=True))


def f2_report(counts: F2Counts, p: Period, window_days: int) -> F2Report:
    decided = counts.converted + counts.not_converted
    reason = ("no first-time buyers in the period" if counts.first_time_buyers == 0
              else "every first-time buyer's window is still open")
    return F2Report(
        period=p, window_days=window_days, counts=counts,
        f2_rate=ratio(counts.converted, decided, when_zero=reason),
        repeat_rate=ratio(counts.repeat_buyers, counts.active_buyers, when_zero="no buyers in the period"),
        buckets=buckets(counts.histogram))


async def get_f2(*, uow: UnitOfWork, scope: Scope, start: date | None, end: date | None) -> F2Report:
    """F2 rate of the first-time buyers of [start, end] (default: the last 30 days)."""
    p = period(start, end, today=scope.today)
    async with uow:
        settings = await load_settings(uow)
        counts = await uow.reports.f2_counts(scope, p, window_days=settings.f2_window_days,
                                             bucket_starts=BUCKET_STARTS)
    return f2_report(counts, p, settings.f2_window_days)
