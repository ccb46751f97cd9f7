"""A customer's timeline: orders, events, consent decisions and merges in one newest-first list."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID


class TimelineKind(StrEnum):
    ORDER = "order"
    EVENT = "event"
    CONSENT = "consent"
    MERGE = "merge"


@dataclass(frozen=True)
class TimelineFilter:
    kinds: frozenset[TimelineKind] = frozenset(TimelineKind)
    start: datetime | None = None  # inclusive ("from")
    end: datetime | None = None  # exclusive ("to")


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened. `occurred_at` is when it happened (ordered_at of an order, the
    decision time of a consent, merged_at of a merge); `data` holds the kind's own fields."""

    kind: TimelineKind
    id: UUID
    occurred_at: datetime
    customer_id: UUID
    data: dict[str, Any] = field(default_factory=dict)
