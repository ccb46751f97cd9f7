"""RFM scoring by mid-rank quintiles, segment rules and the edges used between recomputes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.analytics.rfm import (
    DEFAULT_SEGMENT_RULES,
    SegmentRule,
    fm_score,
    quintile_scores,
    score_from_edges,
    segment_grid,
    segment_of,
    validate_rules,
)
from domain.shared.errors import InvalidInput

values = st.lists(st.integers(min_value=-50, max_value=50), min_size=1, max_size=300)


def test_hand_computed_scores():
    # ten distinct values: two per quintile
    assert quintile_scores(list(range(10))).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # ties share the score of their mid-rank: ranks 1-4 of 5 -> mid-rank 2.5 -> 1 + floor(5 * 4 / 10) = 3
    assert quintile_scores([7, 7, 7, 7, 9]).tolist() == [3, 3, 3, 3, 5]
    assert quintile_scores([42]).tolist() == [3]
    assert quintile_scores([]).tolist() == []


@given(values)
def test_scores_are_1_to_5_monotone_and_equal_for_equal_values(xs):
    scores = quintile_scores(xs)
    assert scores.min() >= 1 and scores.max() <= 5
    order = np.argsort(xs, kind="stable")
    assert (np.diff(scores[order]) >= 0).all()
    by_value: dict[int, set[int]] = {}
    for x, s in zip(xs, scores.tolist(), strict=True):
        by_value.setdefault(x, set()).add(s)
    assert all(len(s) == 1 for s in by_value.values())


@given(values, st.randoms(use_true_random=False))
def test_scores_do_not_depend_on_row_order(xs, rnd):
    shuffled = list(range(len(xs)))
    rnd.shuffle(shuffled)
    scores = quintile_scores(xs)
    assert quintile_scores([xs[i] for i in shuffled]).tolist() == [int(scores[i]) for i in shuffled]


@given(st.lists(st.integers(), min_size=5, max_size=300, unique=True))
def test_distinct_values_fill_quintiles_evenly(xs):
    counts = np.bincount(quintile_scores(xs), minlength=6)[1:]
    assert counts.max() - counts.min() <= 1


def test_default_rules_cover_every_cell_once_and_name_the_eleven_segments():
    validate_rules(DEFAULT_SEGMENT_RULES)
    assert len(segment_grid(DEFAULT_SEGMENT_RULES)) == 25
    assert {r.segment for r in DEFAULT_SEGMENT_RULES} == {
        "champions", "loyal", "potential_loyalists", "new", "promising", "need_attention", "about_to_sleep",
        "at_risk", "cannot_lose", "hibernating", "lost"}
    assert segment_of(5, 5, 5) == "champions"
    assert segment_of(5, 1, 1) == "new"
    assert segment_of(1, 5, 5) == "cannot_lose"
    assert segment_of(1, 1, 2) == "lost"
    assert segment_of(2, 2, 1) == "hibernating"
    assert segment_of(3, 4, 3) == "loyal"  # FM = ceil(3.5) = 4
    assert fm_score(4, 3) == 4 and fm_score(1, 2) == 2 and fm_score(2, 2) == 2


@pytest.mark.parametrize(("rules", "field"), [
    ((SegmentRule("all", (1, 5), (1, 4)),), "rfm_segments"),
    ((SegmentRule("all", (1, 5), (1, 5)), SegmentRule("more", (5, 5), (5, 5))), "rfm_segments.1"),
    ((SegmentRule("All", (1, 5), (1, 5)),), "rfm_segments.0.segment"),
    ((SegmentRule("all", (0, 5), (1, 5)),), "rfm_segments.0.r"),
    ((SegmentRule("all", (1, 5), (3, 2)),), "rfm_segments.0.fm"),
])
def test_invalid_rules_name_the_problem(rules, field):
    with pytest.raises(InvalidInput) as caught:
        validate_rules(rules)
    assert field in [p.field for p in caught.value.problems]


def test_score_from_edges():
    edges = (None, 10, 20, None, 40)
    assert [score_from_edges(v, edges) for v in (0, 10, 15, 20, 39, 40, 1000)] == [1, 2, 2, 3, 3, 5, 5]


@given(st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=200))
def test_edges_reproduce_the_scores_they_come_from(xs):
    scores = quintile_scores(xs)
    edges = tuple(min((x for x, s in zip(xs, scores.tolist(), strict=True) if s == k), default=None)
                  for k in range(1, 6))
    assert [score_from_edges(x, edges) for x in xs] == scores.tolist()
