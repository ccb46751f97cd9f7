"""A tenant's analytics settings (`/v1/analytics/settings`): the knobs every metric reads.

Defaults are what a tenant gets before it changes anything; docs/metrics.md explains each one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnalyticsSettings:
    # A customer with no order in this many days (tenant-local) is dormant.
    dormant_after_days: int = 180
    # F2: a first-time buyer converts when the second purchase occasion falls within N days.
    f2_window_days: int = 90
    # Formula LTV: average gross profit per period x expected lifetime (periods) x discount factor.
    ltv_period: str = "year"  # year | month
    ltv_lifetime_periods: int = 3
    annual_discount_rate: float = 0.10
    # Predictive CLV horizon (months) and the margin applied to predicted revenue.
    clv_horizon_months: int = 12
    clv_margin: float = 0.30
    # Attribution for CPO / ROMI: last touch within the window, or first touch.
    attribution_model: str = "last_touch"  # last_touch | first_touch
    attribution_window_days: int = 30
