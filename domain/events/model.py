"""Behaviour events: what a customer did or received at a touchpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from domain.customers.model import CustomerRef
from domain.events.catalogue import (
    CATALOGUE,
    NEEDS_CAMPAIGN,
    check_properties,
    is_known_type,
    properties_ok,
)
from domain.shared.errors import FieldProblem, InvalidInput
from domain.shared.text import clean_text

# Clocks of trackers and partner systems drift: a little future is skew, more is a bug.
MAX_FUTURE = timedelta(minutes=5)
# Backfills of old history are welcome; before this it is a zero or epoch default, not a fact.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
EVENT_FIELDS = frozenset({"type", "customer", "occurred_at", "event_id", "properties", "touchpoint"})
REF_FIELDS = frozenset({"id", "external_id", "email", "phone", "line_user_id"})
TOUCHPOINT_FIELDS = frozenset({"channel", "stage", "campaign_id"})


class Stage(StrEnum):
    """Where in the customer's journey the touchpoint sits (DESIGN.md: touchpoint)."""

    PRE_PURCHASE = "pre_purchase"
    PURCHASE = "purchase"
    POST_PURCHASE = "post_purchase"


@dataclass(frozen=True, slots=True)
class Touchpoint:
    channel: str | None = None  # web, app, email, line, store, instagram_ad, ...
    stage: Stage | None = None
    campaign_id: str | None = None


NO_TOUCHPOINT = Touchpoint()


@dataclass(frozen=True, slots=True)
class Event:
    """A stored event. `received_at` is when Kizuna accepted it; `occurred_at` when it happened
    (aware; stored, and read back, in UTC)."""

    id: UUID
    type: str
    customer_id: UUID
    occurred_at: datetime
    received_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    touchpoint: Touchpoint = field(default_factory=Touchpoint)
    event_id: str | None = None


class EventDraft(NamedTuple):
    """A valid event whose customer reference is not resolved yet. A named tuple rather than a
    frozen dataclass: a batch makes a thousand per request, and a tuple is built about ten times
    faster (docs/performance.md)."""

    type: str
    customer: CustomerRef
    occurred_at: datetime
    properties: dict[str, Any]
    touchpoint: Touchpoint
    event_id: str | None = None

    def stored_as(self, *, id: UUID, customer_id: UUID, received_at: datetime) -> Event:
        return Event(id=id, type=self.type, customer_id=customer_id, occurred_at=self.occurred_at,
                     received_at=received_at, properties=self.properties, touchpoint=self.touchpoint,
                     event_id=self.event_id)


class NewEvent(NamedTuple):
    """A draft with its id and the customer its reference resolved to: what ingest writes. The
    repository writes these as they are, so a batch builds no `Event` per row."""

    id: UUID
    customer_id: UUID
    draft: EventDraft
    received_at: datetime

    def as_event(self) -> Event:
        return self.draft.stored_as(id=self.id, customer_id=self.customer_id, received_at=self.received_at)


def catalogue() -> list[str]:
    """The built-in event types (plus any `custom:<name>`)."""
    return list(CATALOGUE)


def _attempt(problems: list[FieldProblem], fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except InvalidInput as exc:
        problems.extend(exc.problems)
        return None


# Normalising the same identity or channel is pure and, in a batch, repetitive (a tracker's batch
# names the same few people and channels again and again): remembered, not redone.
@lru_cache(maxsize=16384)
def _identity_ref(key: str, value: str) -> CustomerRef:
    return CustomerRef.parse({key: value})


@lru_cache(maxsize=1024)
def _text(value: str, field: str, max_length: int) -> str:
    return clean_text(value, field=field, max_length=max_length)


def _customer(raw: Any, problems: list[FieldProblem]) -> CustomerRef | None:
    if type(raw) is dict and len(raw) == 1:  # the usual shape: one identity, as a string
        ((key, value),) = raw.items()
        if key != "id" and key in REF_FIELDS and type(value) is str and value:
            ref: CustomerRef | None = _attempt(problems, _identity_ref, key, value)
            return ref
    if not isinstance(raw, Mapping):
        problems.append(FieldProblem("customer", "must be an object naming the customer"))
        return None
    bad = [FieldProblem(f"customer.{k}", "must be a string" if k in REF_FIELDS
                        else "is not a way to name a customer")
           for k, v in raw.items() if v is not None and (k not in REF_FIELDS or not isinstance(v, str))]
    if bad:
        problems.extend(bad)
        return None
    ref = _attempt(problems, CustomerRef.parse, dict(raw))  # ids, and the "exactly one" message
    return ref


def _occurred_at(raw: Any, latest: datetime, problems: list[FieldProblem]) -> datetime | None:
    occurred = raw
    if isinstance(raw, str):
        try:
            occurred = datetime.fromisoformat(raw)
        except ValueError:
            occurred = None
    if not isinstance(occurred, datetime) or occurred.tzinfo is None:
        problems.append(FieldProblem("occurred_at", "must be an RFC 3339 date-time with a UTC offset"))
        return None
    if occurred > latest:
        problems.append(FieldProblem("occurred_at", "is in the future (more than "
                                     f"{int(MAX_FUTURE.total_seconds() // 60)} minutes ahead)"))
    elif occurred < EARLIEST:
        problems.append(FieldProblem("occurred_at", "is before 2000-01-01"))
    return occurred  # any offset: the database stores the instant in UTC


_STAGES = {s.value: s for s in Stage}


@lru_cache(maxsize=4096)
def _touchpoint_of(channel: str | None, stage: str | None, campaign: str | None) -> Touchpoint:
    """Raises InvalidInput listing every problem. Cached: a batch repeats a few touchpoints."""
    problems: list[FieldProblem] = []
    checked_stage = _STAGES.get(stage) if stage is not None else None
    if stage is not None and checked_stage is None:
        problems.append(FieldProblem("touchpoint.stage", "must be one of " + ", ".join(_STAGES)))
    touchpoint = Touchpoint(
        channel=_attempt(problems, clean_text, channel, field="touchpoint.channel", max_length=32)
        if channel is not None else None,
        stage=checked_stage,
        campaign_id=_attempt(problems, clean_text, campaign, field="touchpoint.campaign_id", max_length=128)
        if campaign is not None else None)
    if problems:
        raise InvalidInput("the touchpoint has invalid fields", problems=problems)
    if touchpoint == NO_TOUCHPOINT:
        return NO_TOUCHPOINT
    return touchpoint


def _touchpoint(raw: Any, problems: list[FieldProblem]) -> Touchpoint:
    if raw is None:
        return NO_TOUCHPOINT
    if type(raw) is dict and raw.keys() <= TOUCHPOINT_FIELDS:  # the usual shape, quickly
        channel, stage, campaign = raw.get("channel"), raw.get("stage"), raw.get("campaign_id")
        if ((channel is None or type(channel) is str) and (stage is None or type(stage) is str)
                and (campaign is None or type(campaign) is str)):
            touchpoint: Touchpoint | None = _attempt(problems, _touchpoint_of, channel, stage, campaign)
            return touchpoint or NO_TOUCHPOINT
    if not isinstance(raw, Mapping):
        problems.append(FieldProblem("touchpoint", "must be an object"))
        return NO_TOUCHPOINT
    if not raw.keys() <= TOUCHPOINT_FIELDS:
        problems.extend(FieldProblem(f"touchpoint.{key}", "is not a touchpoint field")
                        for key in sorted(raw.keys() - TOUCHPOINT_FIELDS))
    values = (raw.get("channel"), raw.get("stage"), raw.get("campaign_id"))
    kinds_ok = True
    for value, name in zip(values, ("channel", "stage", "campaign_id"), strict=True):
        if value is not None and not isinstance(value, str):
            problems.append(FieldProblem(f"touchpoint.{name}", "must be a string"))
            kinds_ok = False
    if not kinds_ok:
        return NO_TOUCHPOINT
    touchpoint = _attempt(problems, _touchpoint_of, *values)
    return touchpoint or NO_TOUCHPOINT


def parse_event(raw: Any, *, now: datetime) -> EventDraft:
    """Check one event, as decoded from JSON, against the catalogue and the rules; every problem is
    reported at once.

    `raw` is an object with `type`, `customer` (a reference object), `occurred_at` (RFC 3339 with
    an offset, or an aware datetime), and optional `event_id`, `properties` and `touchpoint`.
    Batches are checked item by item here, not by the HTTP layer, so one bad item never refuses
    its batch.
    """
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise InvalidInput("an event is a JSON object", field="event")
    problems: list[FieldProblem] = []
    if not raw.keys() <= EVENT_FIELDS:
        problems.extend(FieldProblem(key, "is not an event field")
                        for key in sorted(raw.keys() - EVENT_FIELDS))
    event_type = raw.get("type")
    known = isinstance(event_type, str) and is_known_type(event_type)
    if not known:
        problems.append(FieldProblem("type", f"unknown event type {event_type!r}: use one of the catalogue"
                                     " (see docs/events.md) or custom:<name>"))
    ref = _customer(raw.get("customer"), problems)
    occurred = _occurred_at(raw.get("occurred_at"), now + MAX_FUTURE, problems)

    event_id = raw.get("event_id")
    if event_id is not None and (type(event_id) is not str or not 0 < len(event_id) <= 128
                                 or not event_id.isprintable() or event_id != event_id.strip()):
        problems.append(FieldProblem("event_id", "must be 1-128 printable characters without surrounding"
                                     " spaces"))

    properties = raw.get("properties")
    if properties is None:
        properties = {}
    elif not isinstance(properties, dict):
        problems.append(FieldProblem("properties", "must be an object"))
    elif known:
        check_properties(str(event_type), properties, problems)
    touchpoint = _touchpoint(raw.get("touchpoint"), problems)
    if known and event_type in NEEDS_CAMPAIGN and not touchpoint.campaign_id:
        problems.append(FieldProblem("touchpoint.campaign_id", f"is required for {event_type}"))

    if problems:
        detail = (f"{problems[0].field}: {problems[0].message}" if len(problems) == 1
                  else f"the event has {len(problems)} invalid fields")
        raise InvalidInput(detail, problems=problems)
    assert occurred is not None and ref is not None
    return EventDraft(type=str(event_type), customer=ref, occurred_at=occurred, properties=properties,
                      touchpoint=touchpoint, event_id=event_id)


def parse_events(items: Sequence[Any], *, now: datetime) -> tuple[list[tuple[int, EventDraft]],
                                                                  list[tuple[int, InvalidInput]]]:
    """Check a batch: (index, draft) of the valid items and (index, error) of the others, each in
    index order. The result is exactly what `parse_event` gives item by item (that is the rule,
    and tests/unit/events/test_parse_event.py holds this function to it); this is its fast path.

    A tracker's batch is a thousand events of the usual shape: plain strings, a one-identity
    customer, a known type. Those are checked here inline, with no call per field and no list
    of problems; anything else (an unusual shape, a value that would be refused) goes to
    `parse_event`, which says why. The fast path only ever accepts what `parse_event` accepts.
    """
    earliest, latest = EARLIEST.timestamp() + 0.001, (now + MAX_FUTURE).timestamp() - 0.001
    fields, touchpoint_fields = EVENT_FIELDS, TOUCHPOINT_FIELDS  # as locals
    drafts: list[tuple[int, EventDraft]] = []
    errors: list[tuple[int, InvalidInput]] = []
    fromisoformat = datetime.fromisoformat
    for index, raw in enumerate(items):
        draft = None
        if type(raw) is dict and raw.keys() <= fields:
            draft = _fast_draft(raw, earliest, latest, touchpoint_fields, fromisoformat)
        if draft is None:
            try:
                draft = parse_event(raw, now=now)
            except InvalidInput as exc:
                errors.append((index, exc))
                continue
        drafts.append((index, draft))
    return drafts, errors


def _fast_draft(raw: dict[str, Any], earliest: float, latest: float, touchpoint_fields: frozenset[str],
                fromisoformat: Any) -> EventDraft | None:
    """The usual event, checked inline; None means "not plainly valid: ask parse_event"."""
    properties = raw.get("properties")
    if properties is not None and type(properties) is not dict:
        return None
    tp = raw.get("touchpoint")
    if tp is None:
        channel = stage = campaign = None
    else:
        if type(tp) is not dict or not tp.keys() <= touchpoint_fields:
            return None
        channel, stage, campaign = tp.get("channel"), tp.get("stage"), tp.get("campaign_id")
        if not ((channel is None or type(channel) is str) and (stage is None or type(stage) is str)
                and (campaign is None or type(campaign) is str)):
            return None
    return _checked_draft(raw.get("type"), raw.get("customer"), raw.get("occurred_at"), raw.get("event_id"),
                          properties, channel, stage, campaign, earliest, latest, fromisoformat)


def _checked_draft(event_type: Any, customer: Any, at: Any, event_id: Any,
                   properties: dict[str, Any] | None, channel: str | None, stage: str | None,
                   campaign: str | None, earliest: float, latest: float,
                   fromisoformat: Any) -> EventDraft | None:
    """What both fast paths check once the event's shape is known (properties an object or None,
    touchpoint fields strings or None); None means "not plainly valid"."""
    if type(event_type) is not str or (event_type not in CATALOGUE and not is_known_type(event_type)):
        return None
    if type(customer) is not dict or len(customer) != 1:
        return None
    ((key, value),) = customer.items()
    if key not in REF_FIELDS or type(value) is not str or not value:
        return None
    try:
        ref = _identity_ref(key, value)
        occurred = fromisoformat(at) if type(at) is str else None
    except (InvalidInput, ValueError):
        return None
    # POSIX seconds compare at half the cost of aware datetimes with different offsets; a
    # millisecond's margin covers float rounding, and an instant that close to a bound is
    # judged exactly by parse_event.
    if occurred is None or occurred.tzinfo is None or not earliest < occurred.timestamp() < latest:
        return None
    if event_id is not None and (type(event_id) is not str or not 0 < len(event_id) <= 128
                                 or not event_id.isprintable() or event_id != event_id.strip()):
        return None
    if properties is None:
        properties = {}
    elif not properties_ok(event_type, properties):
        return None
    if channel is None and stage is None and campaign is None:
        touchpoint = NO_TOUCHPOINT
    else:
        try:
            touchpoint = _touchpoint_of(channel, stage, campaign)
        except InvalidInput:
            return None
    if event_type in NEEDS_CAMPAIGN and not touchpoint.campaign_id:
        return None
    return EventDraft(event_type, ref, occurred, properties, touchpoint, event_id)


# -- typed records -----------------------------------------------------------------------------
# The HTTP layer may decode a batch straight into records of fixed fields (a decoder that checks
# field names and string types while it reads, several times faster than building a dict per
# object). These protocols are the shapes it promises: every text field is a str or None, the
# customer reference an object of strings, and `properties` a JSON object or None.

class TypedTouchpoint(Protocol):
    @property
    def channel(self) -> str | None: ...
    @property
    def stage(self) -> str | None: ...
    @property
    def campaign_id(self) -> str | None: ...


class TypedEvent(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def customer(self) -> dict[str, str]: ...
    @property
    def occurred_at(self) -> str: ...
    @property
    def event_id(self) -> str | None: ...
    @property
    def properties(self) -> dict[str, Any] | None: ...
    @property
    def touchpoint(self) -> TypedTouchpoint | None: ...


class TypedBatch(Protocol):
    """A batch the HTTP layer decoded into typed records, which can also give the plain JSON
    objects (decoded again, on demand) for the item-by-item rule."""

    @property
    def typed(self) -> Sequence[TypedEvent]: ...

    def __len__(self) -> int: ...

    def plain(self) -> Sequence[Any]: ...


def parse_typed_events(batch: Sequence[TypedEvent], *, now: datetime) -> list[tuple[int, EventDraft]] | None:
    """All or nothing: the drafts of a batch of typed records when every one is plainly valid,
    exactly as parse_events would give them for the same JSON; None as soon as one is not (the
    caller then judges the plain objects with parse_events, which says why)."""
    earliest, latest = EARLIEST.timestamp() + 0.001, (now + MAX_FUTURE).timestamp() - 0.001
    fromisoformat = datetime.fromisoformat
    drafts: list[tuple[int, EventDraft]] = []
    for index, item in enumerate(batch):
        tp = item.touchpoint
        channel, stage, campaign = (None, None, None) if tp is None else (
            tp.channel, tp.stage, tp.campaign_id)
        draft = _checked_draft(item.type, item.customer, item.occurred_at, item.event_id, item.properties,
                               channel, stage, campaign, earliest, latest, fromisoformat)
        if draft is None:
            return None
        drafts.append((index, draft))
    return drafts


def parse_batch(batch: Sequence[Any] | TypedBatch, *, now: datetime) -> tuple[list[tuple[int, EventDraft]],
                                                                             list[tuple[int, InvalidInput]]]:
    """parse_events for a batch of plain JSON objects or of typed records (tried first, all or
    nothing, then the plain objects item by item)."""
    if isinstance(batch, Sequence):
        return parse_events(batch, now=now)
    drafts = parse_typed_events(batch.typed, now=now)
    if drafts is not None:
        return drafts, []
    return parse_events(batch.plain(), now=now)
