"""Facts the events area announces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from domain.shared.events import DomainEvent


@dataclass(frozen=True)
class EventIngested(DomainEvent):
    """New behaviour events were stored: one announcement per request (a batch of up to 1,000),
    not one per event, so that a busy tracker does not become a job per page view.

    Subscribers that need the rows read them back: the batch's events share `received_at` and
    belong to `customer_ids`. `types` lets a subscriber skip batches it has no interest in
    (cart abandonment only cares about cart_updated and checkout_started). Duplicates that were
    not stored again are not counted.
    """

    name: ClassVar[str] = "event.ingested"
    count: int
    received_at: datetime
    types: tuple[str, ...]
    customer_ids: tuple[UUID, ...]

    def payload(self) -> dict[str, Any]:
        return {"count": self.count, "received_at": self.received_at.isoformat(),
                "types": list(self.types), "customer_ids": [str(c) for c in self.customer_ids]}
