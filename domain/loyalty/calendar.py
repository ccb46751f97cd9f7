"""Day and month boundaries in the tenant's timezone (Asia/Tokyo by default), returned in UTC.

A Japanese program whose points expire "at the end of the month" means the end of the month in
Japan, so every boundary is computed on the tenant's wall clock and then converted.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_date(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date()


def day_start(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def local_day_start(instant: datetime, timezone: str, *, plus_days: int = 0) -> datetime:
    return day_start(local_date(instant, timezone) + timedelta(days=plus_days), timezone)


def shift_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def add_months(instant: datetime, months: int, timezone: str) -> datetime:
    """The same tenant-local wall-clock time `months` later (clamped to the month's end)."""
    local = instant.astimezone(ZoneInfo(timezone))
    moved = shift_months(local.date(), months)
    return datetime.combine(moved, local.timetz().replace(tzinfo=None),
                            tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def month_start(instant: datetime, timezone: str, *, plus_months: int = 0) -> datetime:
    """The first instant of the tenant-local month `plus_months` after the one holding `instant`."""
    local = local_date(instant, timezone)
    return day_start(shift_months(local.replace(day=1), plus_months), timezone)


def year_start(instant: datetime, timezone: str) -> datetime:
    return day_start(local_date(instant, timezone).replace(month=1, day=1), timezone)


def week_start(instant: datetime, timezone: str) -> datetime:
    """Monday 00:00 tenant-local (ISO weeks)."""
    local = local_date(instant, timezone)
    return day_start(local - timedelta(days=local.weekday()), timezone)
