"""The typed way in (api.schemas.event_records + domain.events.model.parse_typed_events) is only a
faster road to the same answer: for any body, it either declines, or gives exactly the drafts that
parse_events gives for the same JSON decoded by orjson, with no errors."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import domain.events.model as model
from api.schemas.event_records import decode_event_batch
from domain.events.model import parse_batch, parse_events, parse_typed_events
from tests.unit.events.test_parse_batch import NOW, VALID, events


def _body(items: Any) -> bytes:
    # The standard library writes what the strategies hold: aware datetimes as their ISO text (as
    # any client sends them), integers of any size, and NaN, which neither decoder accepts.
    return json.dumps({"events": items}, default=str).encode()


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events, min_size=1, max_size=6))
def test_the_typed_road_declines_or_agrees_with_the_plain_one(items):
    body = _body(items)
    decoded = decode_event_batch(body)
    try:
        plain_items = orjson.loads(body)["events"]
    except orjson.JSONDecodeError:  # refused as malformed (400), whichever road
        assert decoded is None
        return
    plain_drafts, plain_errors = parse_events(plain_items, now=NOW)
    typed = parse_typed_events(decoded.typed, now=NOW) if decoded is not None else None
    if typed is not None:
        assert plain_errors == []
        assert typed == plain_drafts
    # and parse_batch, whichever road it takes, answers as the plain road
    if decoded is not None:
        drafts, errors = parse_batch(decoded, now=NOW)
        assert drafts == plain_drafts
        assert [(i, e.detail, e.problems) for i, e in errors] == [(i, e.detail, e.problems) for i, e in plain_errors]


@pytest.mark.parametrize("body", [
    b'{"events": []}', b'{"events": [1]}', b'[]', b'{"events": [{}]}', b'{"events": [], "more": 1}',
    orjson.dumps({"events": [{**VALID, "customer": {"external_id": 7}}]}),
    orjson.dumps({"events": [{**VALID, "unknown": 1}]}),
    orjson.dumps({"events": [{**VALID, "touchpoint": {"channel": "web", "other": 1}}]}),
    orjson.dumps({"events": [{**VALID, "properties": []}]}),
    orjson.dumps({"events": [VALID] * 1001}),
])
def test_bodies_the_records_do_not_fit_are_left_to_the_plain_road(body: bytes):
    assert decode_event_batch(body) is None


def test_an_integer_beyond_64_bits_is_never_taken_on_the_typed_road():
    """orjson reads 2**70 as a float, msgspec as an int (which orjson could not write back): such
    a batch takes the plain road, so it is stored as it always was."""
    body = _body([{**VALID, "properties": {"sku": "A", "big": 2**70}}])
    decoded = decode_event_batch(body)
    assert decoded is not None and decoded.typed[0].properties == {"sku": "A", "big": 2**70}
    assert parse_typed_events(decoded.typed, now=NOW) is None
    drafts, errors = parse_batch(decoded, now=NOW)
    assert errors == [] and drafts[0][1].properties == {"sku": "A", "big": float(2**70)}


def test_one_doubtful_record_sends_the_whole_batch_the_plain_way():
    body = _body([VALID, {**VALID, "type": "nope"}, {**VALID, "event_id": "e-2"}])
    decoded = decode_event_batch(body)
    assert decoded is not None and parse_typed_events(decoded.typed, now=NOW) is None
    drafts, errors = parse_batch(decoded, now=NOW)
    assert [i for i, _ in drafts] == [0, 2] and [i for i, _ in errors] == [1]


def test_the_usual_batch_takes_the_typed_road(monkeypatch: pytest.MonkeyPatch):
    def plain(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the plain road was taken")

    monkeypatch.setattr(model, "parse_events", plain)
    usual = {**VALID, "type": "cart_updated", "occurred_at": "2026-11-22T20:00:00.123+09:00",
             "properties": {"items": [{"sku": "A", "quantity": 1, "price": 100}], "currency": "JPY"},
             "touchpoint": {"channel": "web", "stage": "purchase", "campaign_id": None}}
    decoded = decode_event_batch(_body([usual, {**usual, "customer": {"id": "0190a7e2-3b4c-7d5e-8f60-123456789abc"},
                                                "type": "custom:quiz", "properties": {"a": [1]}}]))
    assert decoded is not None
    drafts, errors = parse_batch(decoded, now=NOW)
    assert errors == [] and [d.type for _, d in drafts] == ["cart_updated", "custom:quiz"]
    assert drafts[0][1].occurred_at == datetime.fromisoformat("2026-11-22T11:00:00.123+00:00")
    assert str(drafts[1][1].customer.id) == "0190a7e2-3b4c-7d5e-8f60-123456789abc"
