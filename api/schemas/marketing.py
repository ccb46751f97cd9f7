"""Marketing cost bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, Strict

from api.schemas.common import Day, RequestBody, ResponseBody
from domain.marketing.model import (
    CAMPAIGN_MAX_LENGTH,
    CHANNEL_MAX_LENGTH,
    MAX_AMOUNT,
    NOTE_MAX_LENGTH,
    MarketingCost,
)

Int = Annotated[int, Strict()]  # a JSON integer: not "12", 12.0 or true


class MarketingCostFields(RequestBody):
    channel: str | None = Field(default=None, max_length=CHANNEL_MAX_LENGTH, examples=["instagram_ad"],
                                description="The touchpoint channel spent on (as events name it)")
    campaign_id: str | None = Field(default=None, max_length=CAMPAIGN_MAX_LENGTH, examples=["autumn-sale"],
                                    description="The campaign spent on (as touchpoints name it)")
    period_from: Day | None = Field(default=None, examples=["2026-10-01"],
                                    description="First tenant-local day of the spend")
    period_to: Day | None = Field(default=None, examples=["2026-10-31"],
                                  description="Last tenant-local day of the spend (included)")
    amount: Int | None = Field(default=None, ge=0, le=MAX_AMOUNT, examples=[500000],
                               description="Minor units of the tenant's currency (JPY: yen)")
    currency: str | None = Field(default=None, min_length=3, max_length=3, examples=["JPY"],
                                 description="Optional; must be the tenant's currency")
    note: str | None = Field(default=None, max_length=NOTE_MAX_LENGTH, examples=["Instagram 10月配信"])

    def given(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class MarketingCostCreate(MarketingCostFields):
    """At least one of `channel` and `campaign_id`; `period_to` not before `period_from`."""

    period_from: Day = Field(examples=["2026-10-01"], description="First tenant-local day of the spend")
    period_to: Day = Field(examples=["2026-10-31"],
                           description="Last tenant-local day of the spend (included)")
    amount: Int = Field(ge=0, le=MAX_AMOUNT, examples=[500000],
                        description="Minor units of the tenant's currency (JPY: yen)")


class MarketingCostUpdate(MarketingCostFields):
    """Every field optional; null clears `channel`, `campaign_id` or `note` (one of the first two
    must remain)."""


class MarketingCostRead(ResponseBody):
    id: UUID
    channel: str | None
    campaign_id: str | None
    period_from: date
    period_to: date
    amount: int
    currency: str
    note: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, c: MarketingCost) -> MarketingCostRead:
        return cls(id=c.id, channel=c.channel, campaign_id=c.campaign_id, period_from=c.period_from,
                   period_to=c.period_to, amount=c.amount, currency=c.currency, note=c.note,
                   created_at=c.created_at, updated_at=c.updated_at)
