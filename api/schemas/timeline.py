"""Timeline entries: one shape for the four kinds, with the kind's own fields in `data`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from domain.events.timeline import TimelineEntry

Kind = Literal["order", "event", "consent", "merge"]

DATA_DESCRIPTION = """The kind's own fields:
- order: order_number, status, currency, total, discount_total, shipping_total, refunded_total,
  channel, store_id, touchpoint
- event: type, event_id, properties, touchpoint {channel, stage, campaign_id}, received_at
- consent: channel, status (granted|denied), source, actor, recorded_at
- merge: source_customer_id, target_customer_id, actor, report"""


class TimelineEntryRead(BaseModel):
    kind: Kind
    id: UUID = Field(description="The order's, event's, consent decision's or merge's id")
    occurred_at: datetime = Field(description="ordered_at, occurred_at, the decision time or merged_at")
    customer_id: UUID = Field(description="The customer the entry was recorded for (a merged source's"
                                          " id for entries from before a merge that stayed with it)")
    data: dict[str, Any] = Field(description=DATA_DESCRIPTION)

    @classmethod
    def from_domain(cls, e: TimelineEntry) -> TimelineEntryRead:
        return cls(kind=e.kind.value, id=e.id, occurred_at=e.occurred_at, customer_id=e.customer_id,
                   data=e.data)
