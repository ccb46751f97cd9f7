"""The batch fast path (parse_events, properties_ok) says exactly what parse_event says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import domain.events.model as model
from domain.events.catalogue import CATALOGUE, check_properties, properties_ok
from domain.events.model import parse_event, parse_events
from domain.shared.errors import FieldProblem, InvalidInput

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats() | st.text(max_size=12) | st.sampled_from(["", " ", "a\x00b", "x" * 2100, "y" * 17000]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20)
line_items = st.lists(st.fixed_dictionaries(
    {"sku": st.sampled_from(["A", "", " ", None, 5]), "quantity": st.sampled_from([1, 0, -1, 2.5, True, None]),
     "price": st.sampled_from([100, -1, 10**16, "100", None])}), max_size=3)
properties = st.one_of(
    st.none(), st.sampled_from([[], "x"]),
    st.dictionaries(st.sampled_from(["sku", "price", "url", "items", "channel", "score", "answers", "survey_id",
                                     "cart_total", "currency", "title", "extra", "a\x00"]),
                    json_values | line_items | st.sampled_from(["email", "fax", "JPY", "/p/1"]), max_size=5))
instants = st.one_of(
    st.sampled_from(["2026-11-22T20:00:00+09:00", "2026-11-22T12:00:00Z", "2026-11-22T12:04:59.999+00:00",
                     "2026-11-22T12:05:00+00:00", "2026-11-22T12:05:00.001+00:00", "2000-01-01T00:00:00Z",
                     "1999-12-31T23:59:59.999Z", "2026-11-22T12:00:00", "2026-11-22", "yesterday", "",
                     "2026-02-30T00:00:00Z", "2026-11-22 21:00:00.5+09:00"]),
    st.datetimes(min_value=datetime(1999, 1, 1), max_value=datetime(2027, 1, 1),
                 timezones=st.sampled_from([UTC, None])).map(lambda d: d.isoformat()),
    st.just(NOW - timedelta(days=1)), st.integers())
customers = st.one_of(
    st.fixed_dictionaries({}, optional={"external_id": st.sampled_from(["shop-1", "ｓｈｏｐ－１", "", " ", 7]),
                                        "email": st.sampled_from(["a@example.jp", "A@Example.JP", "not-an-email"]),
                                        "phone": st.sampled_from(["090-1234-5678", "12"]),
                                        "line_user_id": st.sampled_from(["U123", ""]),
                                        "id": st.sampled_from(["0190a7e2-3b4c-7d5e-8f60-123456789abc", "nope"]),
                                        "passport": st.just("x")}),
    st.sampled_from(["someone", None, [], {"external_id": None}]))
touchpoints = st.one_of(st.none(), st.just("web"), st.fixed_dictionaries({}, optional={
    "channel": st.sampled_from(["web", "ｗｅｂ", "", "x" * 40, 5, None]),
    "stage": st.sampled_from(["pre_purchase", "purchase", "later", None, 1]),
    "campaign_id": st.sampled_from(["c1", "", None]), "other": st.just(1)}))
VALID = {"type": "product_viewed", "customer": {"external_id": "shop-1"},
         "occurred_at": "2026-11-22T20:00:00+09:00", "event_id": "e-1", "properties": {"sku": "A"},
         "touchpoint": {"channel": "web", "stage": "pre_purchase", "campaign_id": None}}
valid_properties = st.fixed_dictionaries({"sku": st.just("A"), "url": st.just("/p/1"), "survey_id": st.just("s"),
                                          "channel": st.just("email"),
                                          "items": st.just([{"sku": "A", "quantity": 1, "price": 1}])},
                                         optional={"price": st.just(5), "extra": json_values})
# A valid event with at most one field replaced: valid, or wrong in one place, which is where a
# fast path that says yes too easily would show.
events = st.one_of(
    st.builds(lambda base, changes: {**base, **changes},
              st.fixed_dictionaries({**{k: st.just(v) for k, v in VALID.items()},
                                     "type": st.sampled_from([*CATALOGUE, "custom:quiz"]),
                                     "properties": valid_properties}),
              st.one_of(st.just({}), *(st.fixed_dictionaries({name: values}) for name, values in {
                  "type": st.sampled_from(["custom:quiz", "custom:Bad", "nope", 5]), "customer": customers,
                  "occurred_at": instants, "properties": properties, "touchpoint": touchpoints,
                  "event_id": st.sampled_from([None, "", " e", "x" * 128, "x" * 129, "a\nb", 7]),
                  "unknown": st.just(1)}.items()))),
    st.sampled_from(["not an object", [], None]))


def one_by_one(items: list[Any]) -> tuple[list[tuple[int, Any]], list[tuple[int, Any]]]:
    drafts, errors = [], []
    for index, item in enumerate(items):
        try:
            drafts.append((index, parse_event(item, now=NOW)))
        except InvalidInput as exc:
            errors.append((index, (exc.detail, exc.problems)))
    return drafts, errors


# too_slow: on a loaded two-core machine one draw once took 3.4 s (a stall, not the strategy), and
# the health check failed the run; the property itself is what this test is for.
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events, max_size=6))
def test_a_batch_is_judged_exactly_as_its_items_one_by_one(items):
    drafts, errors = parse_events(items, now=NOW)
    assert (drafts, [(i, (e.detail, e.problems)) for i, e in errors]) == one_by_one(items)


edge_values = st.sampled_from(["A", "", " ", "\u3000", "x" * 128, "x" * 129, "x" * 2049, "email", "fax", 0, -1, 10,
                               11, 10**15, 10**15 + 1, 2.5, float("inf"), float("nan"), True, None, [], {}, "a\x00"])
declared_properties = st.sampled_from([*CATALOGUE, "custom:anything"]).flatmap(lambda t: st.tuples(
    st.just(t), st.dictionaries(st.sampled_from([*CATALOGUE.get(t, {}), "extra"]),
                                edge_values | line_items | json_values, max_size=4)))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(declared_properties,
                 st.tuples(st.sampled_from([*CATALOGUE, "custom:anything"]),
                           properties.filter(lambda p: isinstance(p, dict)))))
def test_the_quick_yes_is_never_wrong(case):
    event_type, props = case
    problems: list[FieldProblem] = []
    check_properties(event_type, props, problems)
    if properties_ok(event_type, props):
        assert problems == []


def test_the_usual_event_never_takes_the_slow_path(monkeypatch: pytest.MonkeyPatch):
    """The point of the fast path: a tracker's ordinary batch is checked without parse_event."""
    def slow(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("parse_event was called")

    monkeypatch.setattr(model, "parse_event", slow)
    usual = {"type": "cart_updated", "customer": {"external_id": "shop-1"},
             "occurred_at": "2026-11-22T20:00:00.123+09:00", "event_id": "web-1",
             "properties": {"items": [{"sku": "A", "quantity": 1, "price": 100}], "currency": "JPY"},
             "touchpoint": {"channel": "web", "stage": "purchase", "campaign_id": None}}
    drafts, errors = parse_events([usual, {**usual, "type": "custom:quiz", "properties": {"a": [1]}}], now=NOW)
    assert errors == [] and [d.type for _, d in drafts] == ["cart_updated", "custom:quiz"]
    assert drafts[0][1].occurred_at == datetime(2026, 11, 22, 11, 0, 0, 123000, tzinfo=UTC)
