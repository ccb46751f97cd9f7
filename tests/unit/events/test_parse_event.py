"""The catalogue and the rules of one event, without storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.customers.model import CustomerRef
from domain.events.catalogue import CATALOGUE
from domain.events.model import Stage, catalogue, parse_event
from domain.shared.errors import InvalidInput

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def raw(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "product_viewed", "customer": {"external_id": "ｓｈｏｐ－１"},
                            "occurred_at": NOW - timedelta(hours=1), "event_id": None,
                            "properties": {"sku": "TEA-001"}, "touchpoint": None}
    body.update(overrides)
    return body


def fields(exc: pytest.ExceptionInfo[InvalidInput]) -> set[str]:
    return {p.field for p in exc.value.problems}


def test_a_valid_event_is_normalised():
    tokyo = timezone(timedelta(hours=9))
    draft = parse_event(raw(occurred_at=datetime(2026, 11, 22, 20, 0, tzinfo=tokyo),
                            touchpoint={"channel": "ｗｅｂ", "stage": "pre_purchase", "campaign_id": "c1"}),
                        now=NOW)
    assert draft.customer == CustomerRef(identity_type="external_id", identity_value="shop-1")
    assert draft.occurred_at == datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
    assert draft.touchpoint.channel == "web" and draft.touchpoint.stage is Stage.PRE_PURCHASE


def test_the_catalogue_lists_the_issue_types():
    assert set(catalogue()) == {
        "page_viewed", "product_viewed", "cart_updated", "checkout_started", "favorite_added",
        "favorite_removed", "email_opened", "email_clicked", "message_delivered", "ad_impression",
        "ad_clicked", "survey_answered", "inquiry_created", "campaign_entered"}


@pytest.mark.parametrize("event_type", ["nope", "Custom:x", "custom:", "custom:Bad", "custom:a-b", ""])
def test_unknown_types_are_refused(event_type):
    with pytest.raises(InvalidInput) as exc:
        parse_event(raw(type=event_type, properties={}), now=NOW)
    assert fields(exc) == {"type"}


@pytest.mark.parametrize(("event_type", "properties", "field"), [
    ("product_viewed", {}, "properties.sku"),
    ("product_viewed", {"sku": 1}, "properties.sku"),
    ("product_viewed", {"sku": "A", "price": -1}, "properties.price"),
    ("product_viewed", {"sku": "A", "price": 1.5}, "properties.price"),
    ("product_viewed", {"sku": "A", "price": True}, "properties.price"),
    ("cart_updated", {}, "properties.items"),
    ("cart_updated", {"items": "A"}, "properties.items"),
    ("cart_updated", {"items": [{"sku": "A", "quantity": 1}]}, "properties.items.0.price"),
    ("cart_updated", {"items": [{"sku": "A", "quantity": "1", "price": 1}]}, "properties.items.0.quantity"),
    ("cart_updated", {"items": [1]}, "properties.items.0"),
    ("survey_answered", {"survey_id": "nps", "score": 11}, "properties.score"),
    ("message_delivered", {"channel": "fax"}, "properties.channel"),
    ("email_clicked", {"url": ""}, "properties.url"),
    ("survey_answered", {"survey_id": "s", "answers": []}, "properties.answers"),
])
def test_declared_properties_are_typed(event_type, properties, field):
    with pytest.raises(InvalidInput) as exc:
        parse_event(raw(type=event_type, properties=properties), now=NOW)
    assert fields(exc) == {field}


def test_undeclared_properties_are_kept_and_custom_types_are_free_json():
    draft = parse_event(raw(properties={"sku": "A", "utm_source": "line", "extra": {"a": [1, None]}}), now=NOW)
    assert draft.properties["utm_source"] == "line"
    custom = parse_event(raw(type="custom:quiz_done", properties={"answers": [{"q": 1, "a": "はい"}]}), now=NOW)
    assert custom.type == "custom:quiz_done"


@pytest.mark.parametrize("properties", [
    {"blob": "x" * 17_000},
    {"nul": "a\x00b"},
    {"a\x00": 1},
    {"nan": float("nan")},
    {"deep": [[[[[[[[[1]]]]]]]]]},  # deeper than MAX_DEPTH
])
def test_properties_must_fit_jsonb_and_the_size_limit(properties):
    with pytest.raises(InvalidInput):
        parse_event(raw(type="custom:x", properties=properties), now=NOW)


def test_campaign_entries_name_their_campaign():
    with pytest.raises(InvalidInput) as exc:
        parse_event(raw(type="campaign_entered", properties={}), now=NOW)
    assert fields(exc) == {"touchpoint.campaign_id"}
    ok = parse_event(raw(type="campaign_entered", properties={}, touchpoint={"campaign_id": "x"}), now=NOW)
    assert ok.touchpoint.campaign_id == "x"


def test_times_need_an_offset_and_a_plausible_value():
    for when, ok in ((NOW + timedelta(minutes=4), True), (NOW + timedelta(minutes=6), False),
                     (datetime(2026, 1, 1), False), (datetime(1999, 12, 31, tzinfo=UTC), False),
                     ("2026-01-01T09:00:00+09:00", True), ("2026-01-01T00:00:00Z", True),
                     ("2026-01-01T00:00:00", False), ("yesterday", False), (1767225600, False),
                     (None, False)):
        if ok:
            parse_event(raw(occurred_at=when), now=NOW)
        else:
            with pytest.raises(InvalidInput) as exc:
                parse_event(raw(occurred_at=when), now=NOW)
            assert fields(exc) == {"occurred_at"}


def test_json_shapes_are_checked_as_pydantic_would_for_a_single_event():
    with pytest.raises(InvalidInput) as exc:
        parse_event({"type": 5, "customer": {"external_id": 7, "passport": "x"}, "occurred_at": "x",
                     "properties": [], "touchpoint": {"channel": 1, "mood": "happy"}, "extra": 1}, now=NOW)
    assert fields(exc) == {"type", "customer.external_id", "customer.passport", "occurred_at", "properties",
                           "touchpoint.channel", "touchpoint.mood", "extra"}
    with pytest.raises(InvalidInput) as exc:
        parse_event(["not", "an", "object"], now=NOW)
    assert fields(exc) == {"event"}
    with pytest.raises(InvalidInput) as exc:
        parse_event(raw(customer="someone"), now=NOW)
    assert fields(exc) == {"customer"}


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidInput) as exc:
        parse_event({"type": "favorite_added", "customer": {"email": "x", "phone": "1"},
                     "occurred_at": NOW + timedelta(days=1), "event_id": "a\nb",
                     "properties": {"sku": 5}, "touchpoint": {"stage": "someday"}}, now=NOW)
    assert fields(exc) == {"customer", "occurred_at", "event_id", "properties.sku", "touchpoint.stage"}
    assert exc.value.detail == "the event has 5 invalid fields"


@given(st.dictionaries(st.text(max_size=20), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30), max_size=8))
def test_custom_properties_are_either_accepted_or_refused_cleanly(properties):
    """Never anything but InvalidInput, whatever JSON-like value arrives."""
    try:
        draft = parse_event(raw(type="custom:anything", properties=properties), now=NOW)
    except InvalidInput as exc:
        assert exc.problems and all(p.field.startswith("properties") for p in exc.problems)
    else:
        assert draft.properties == properties


def test_catalogue_types_all_declare_properties():
    assert all(isinstance(v, dict) for v in CATALOGUE.values())
