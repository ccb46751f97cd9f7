"""RFM: recency, frequency and monetary scores 1-5 by quintiles, and named segments (docs/metrics.md, "RFM").

Scores are quintiles within the tenant, by the *mid-rank* of each value: a customer whose value is
shared by others gets the score of the middle of the tie group, so equal values always get equal
scores and the result depends on the values only (never on ids or row order). With n customers
and a value held by ranks lo..hi (1-based, ascending, better values ranking higher):

    score = 1 + floor(5 (lo - 1 + hi) / (2 n))

in integers, the same formula as the SQL of the recompute. Recency ranks the last purchase day
(later is better), frequency the purchase occasions, monetary the net revenue to date.

Segments come from R and FM = ceil((F + M) / 2) by a 5 x 5 grid of rules, overridable per tenant.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from domain.shared.errors import FieldProblem, InvalidInput

SCORES = range(1, 6)
SEGMENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class SegmentRule:
    """Customers with r_min <= R <= r_max and fm_min <= FM <= fm_max belong to `segment`."""

    segment: str
    r: tuple[int, int]
    fm: tuple[int, int]

    def cells(self) -> list[tuple[int, int]]:
        return [(r, fm) for r in range(self.r[0], self.r[1] + 1) for fm in range(self.fm[0], self.fm[1] + 1)]


# The default grid: R across, FM = ceil((F + M) / 2) up; each (R, FM) cell in exactly one rule.
DEFAULT_SEGMENT_RULES: tuple[SegmentRule, ...] = (
    SegmentRule("champions", (5, 5), (4, 5)),
    SegmentRule("loyal", (3, 4), (4, 5)),
    SegmentRule("potential_loyalists", (4, 5), (2, 3)),
    SegmentRule("new", (5, 5), (1, 1)),
    SegmentRule("promising", (4, 4), (1, 1)),
    SegmentRule("need_attention", (3, 3), (3, 3)),
    SegmentRule("about_to_sleep", (3, 3), (1, 2)),
    SegmentRule("at_risk", (1, 2), (3, 4)),
    SegmentRule("cannot_lose", (1, 2), (5, 5)),
    SegmentRule("hibernating", (2, 2), (1, 2)),
    SegmentRule("lost", (1, 1), (1, 2)),
)


def fm_score(f: int, m: int) -> int:
    """FM: the mean of F and M, halves rounded up."""
    return (f + m + 1) // 2


def validate_rules(rules: Sequence[SegmentRule], field: str = "rfm_segments") -> tuple[SegmentRule, ...]:
    """Rules must name segments as slugs and cover each of the 25 (R, FM) cells exactly once."""
    problems: list[FieldProblem] = []
    seen: dict[tuple[int, int], str] = {}
    for i, rule in enumerate(rules):
        where = f"{field}.{i}"
        if not SEGMENT_NAME.match(rule.segment):
            problems.append(FieldProblem(f"{where}.segment",
                                         "a segment name is a lower-case slug (a-z, 0-9, _)"))
        for name, (low, high) in (("r", rule.r), ("fm", rule.fm)):
            if not (1 <= low <= high <= 5):
                problems.append(FieldProblem(f"{where}.{name}",
                                             "a range [min, max] with 1 <= min <= max <= 5"))
        if problems:
            continue
        for cell in rule.cells():
            if cell in seen:
                problems.append(FieldProblem(where,
                                             f"cell R={cell[0]} FM={cell[1]} is already in segment"
                                             f" {seen[cell]}"))
            seen[cell] = rule.segment
    missing = [(r, fm) for r in SCORES for fm in SCORES if (r, fm) not in seen]
    if not problems and missing:
        listed = ", ".join(f"R={r} FM={fm}" for r, fm in missing[:5])
        problems.append(FieldProblem(field, f"every (R, FM) cell needs a segment; missing {listed}"
                                            + (" ..." if len(missing) > 5 else "")))
    if problems:
        raise InvalidInput("the RFM segment rules are invalid", problems=problems)
    return tuple(rules)


def segment_grid(rules: Sequence[SegmentRule]) -> dict[tuple[int, int], str]:
    """(R, FM) -> segment for validated rules."""
    return {cell: rule.segment for rule in rules for cell in rule.cells()}


def segment_of(r: int, f: int, m: int, rules: Sequence[SegmentRule] = DEFAULT_SEGMENT_RULES) -> str:
    return segment_grid(rules)[(r, fm_score(f, m))]


def quintile_scores(values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Scores 1-5 of `values` (higher value, higher score) by mid-rank quintiles; see the module."""
    v = np.asarray(values)
    n = len(v)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(v, kind="stable")
    sorted_v = v[order]
    # for each value: lo = 1 + number of smaller values, hi = number of values <= it
    lo = np.searchsorted(sorted_v, v, side="left") + 1
    hi = np.searchsorted(sorted_v, v, side="right")
    return np.asarray(1 + (5 * (lo - 1 + hi)) // (2 * n), dtype=np.int64)


def score_from_edges(value: float, edges: Sequence[float | None]) -> int:
    """A score between recomputes: the highest score whose lowest value (from the last recompute)
    is at most `value`; 1 below them all. `edges[s - 1]` is None when no customer got score s."""
    score = 1
    for s, edge in zip(SCORES, edges, strict=False):
        if edge is not None and value >= edge:
            score = s
    return score
