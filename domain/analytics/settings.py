"""A tenant's analytics settings (`/v1/analytics/settings`): the knobs every metric reads.

Defaults are what a tenant gets before it changes anything; docs/metrics.md explains each one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from domain.analytics.rfm import DEFAULT_SEGMENT_RULES, SegmentRule, validate_rules
from domain.shared.errors import FieldProblem, InvalidInput

LTV_PERIODS = {"year": 365.25, "month": 365.25 / 12}  # days per formula-LTV period
ATTRIBUTION_MODELS = ("last_touch", "first_touch")


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
    # RFM segments from R and FM = ceil((F + M) / 2); each of the 25 cells in exactly one rule.
    rfm_segments: tuple[SegmentRule, ...] = DEFAULT_SEGMENT_RULES


# field -> (minimum, maximum) for the numbers; the rest are checked by name below
_RANGES: dict[str, tuple[float, float]] = {
    "dormant_after_days": (1, 3650), "f2_window_days": (1, 3650), "ltv_lifetime_periods": (1, 100),
    "annual_discount_rate": (0.0, 1.0), "clv_horizon_months": (1, 120), "clv_margin": (0.0, 1.0),
    "attribution_window_days": (1, 365),
}
_WHOLE = {"dormant_after_days", "f2_window_days", "ltv_lifetime_periods", "clv_horizon_months",
          "attribution_window_days"}


def validate_settings(settings: AnalyticsSettings) -> AnalyticsSettings:
    """The settings if every field is in range; InvalidInput naming every field that is not."""
    problems: list[FieldProblem] = []
    for name, (low, high) in _RANGES.items():
        value = getattr(settings, name)
        whole = name in _WHOLE
        if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value,
                                                                                                      int)) \
                or not math.isfinite(value) or not low <= value <= high:
            kind = "a whole number" if whole else "a number"
            problems.append(FieldProblem(name, f"must be {kind} from {low:g} to {high:g}"))
    if settings.ltv_period not in LTV_PERIODS:
        problems.append(FieldProblem("ltv_period", f"one of {', '.join(LTV_PERIODS)}"))
    if settings.attribution_model not in ATTRIBUTION_MODELS:
        problems.append(FieldProblem("attribution_model", f"one of {', '.join(ATTRIBUTION_MODELS)}"))
    try:
        validate_rules(settings.rfm_segments)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    if problems:
        raise InvalidInput("the analytics settings are invalid", problems=problems)
    return settings


def settings_from_dict(stored: dict[str, object]) -> AnalyticsSettings:
    """Stored settings (JSON) over the defaults: unknown keys are ignored, missing ones default."""
    known = {f.name for f in fields(AnalyticsSettings)}
    values = {k: v for k, v in stored.items() if k in known and k != "rfm_segments"}
    rules = stored.get("rfm_segments")
    if isinstance(rules, list):
        values["rfm_segments"] = tuple(
            SegmentRule(str(x["segment"]), (int(x["r"][0]), int(x["r"][1])), (int(x["fm"][0]),
                                                                              int(x["fm"][1])))
            for x in rules)
    return AnalyticsSettings(**values)  # type: ignore[arg-type]


def settings_to_dict(settings: AnalyticsSettings) -> dict[str, object]:
    values: dict[str, object] = {f.name: getattr(settings, f.name) for f in fields(AnalyticsSettings)}
    values["rfm_segments"] = [{"segment": x.segment, "r": list(x.r),
                               "fm": list(x.fm)} for x in settings.rfm_segments]
    return values
