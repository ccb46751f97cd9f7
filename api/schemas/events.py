"""Event bodies (contract names from the customer-data issue) and the (occurred_at, id) cursor."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema

from api.http.problems import FieldError
from api.schemas.common import RequestBody, ResponseBody
from domain.events.keyset import KeysetPage, Position
from domain.events.model import Event
from domain.events.services import IngestReport
from domain.shared.batch import MAX_BATCH
from domain.shared.errors import InvalidInput, NotFound
from domain.shared.pagination import DEFAULT_LIMIT, MAX_LIMIT

Stage = Literal["pre_purchase", "purchase", "post_purchase"]
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: Any) -> Any:
    # pydantic would also take "0.5" (seconds since 1970) where the document promises a date-time
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-11-01T00:00:00+09:00")
    return value


Instant = Annotated[datetime, BeforeValidator(_rfc3339)]  # query parameters
TYPE_DESCRIPTION = (
    "page_viewed, product_viewed, cart_updated, checkout_started, favorite_added, favorite_removed,"
    " email_opened, email_clicked, message_delivered, ad_impression, ad_clicked, survey_answered,"
    " inquiry_created, campaign_entered, or custom:<name> (lower-case snake_case). Each built-in"
    " type checks the properties it declares (docs/events.md).")


class CustomerReference(RequestBody):
    """Names one customer: exactly one of the fields. An unknown identity creates a customer."""

    id: UUID | None = None
    external_id: str | None = Field(default=None, max_length=256, examples=["shop-000123"])
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    line_user_id: str | None = Field(default=None, max_length=64)


class TouchpointBody(RequestBody):
    channel: str | None = Field(default=None, max_length=32, examples=["web"])
    stage: Stage | None = None
    campaign_id: str | None = Field(default=None, max_length=128)


class EventCreate(RequestBody):
    type: str = Field(max_length=80, examples=["product_viewed"], description=TYPE_DESCRIPTION)
    customer: CustomerReference
    occurred_at: datetime = Field(description="With a UTC offset; at most 5 minutes in the future")
    event_id: str | None = Field(default=None, max_length=128, examples=["web-7f3c9a"],
                                 description="Your id for de-duplication: an event_id already stored"
                                             " is accepted once and reported as a duplicate")
    properties: dict[str, Any] = Field(default_factory=dict, examples=[{"sku": "TEA-001", "price": 1200}],
                                       description="Checked per type; undeclared keys are kept as sent."
                                                   " At most 16 KiB as JSON")
    touchpoint: TouchpointBody | None = None

    def given(self) -> dict[str, Any]:
        """As JSON values: the use case checks events as they arrive in a batch."""
        return self.model_dump(mode="json")


# Batch items are checked by the use case (domain.events.model.parse_events: the same rules as
# POST /v1/events, item by item), so a bad item is reported by its index instead of refusing the
# whole batch; the document still says they are EventCreate (POST /v1/events puts it in the
# components). Not validated here: a model per item would cost more than the checks themselves.
BatchItem = Annotated[Any, WithJsonSchema({"$ref": "#/components/schemas/EventCreate"})]


class EventBatchCreate(RequestBody):
    events: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH)


class TouchpointRead(BaseModel):
    channel: str | None
    stage: Stage | None
    campaign_id: str | None


class EventRead(ResponseBody):
    id: UUID
    event_id: str | None
    type: str
    customer_id: UUID = Field(description="The customer the reference resolved to")
    occurred_at: datetime
    received_at: datetime
    properties: dict[str, Any]
    touchpoint: TouchpointRead

    @classmethod
    def from_domain(cls, e: Event) -> EventRead:
        t = e.touchpoint
        return cls(id=e.id, event_id=e.event_id, type=e.type, customer_id=e.customer_id,
                   occurred_at=e.occurred_at.astimezone(UTC), received_at=e.received_at,
                   properties=e.properties,
                   touchpoint=TouchpointRead(channel=t.channel, stage=t.stage.value if t.stage else None,
                                             campaign_id=t.campaign_id))


class ItemError(BaseModel):
    index: int = Field(description="Position of the item in `events`, from 0")
    code: Literal["invalid_input", "not_found"]
    detail: str
    errors: list[FieldError]


class EventBatchRead(BaseModel):
    accepted: int = Field(description="Items now stored, including duplicates stored earlier")
    rejected: int = Field(description="Items not stored; `errors` says why, by index")
    duplicates: int = Field(description="Accepted items whose event_id was already stored (earlier,"
                                        " or earlier in this batch): not stored again")
    duplicate_indexes: list[int]
    errors: list[ItemError]

    @classmethod
    def from_report(cls, r: IngestReport) -> EventBatchRead:
        errors = []
        for item in r.errors:
            exc = item.error
            if isinstance(exc, InvalidInput):
                fields = [FieldError(field=p.field, message=p.message) for p in exc.problems]
                errors.append(ItemError(index=item.index, code="invalid_input", detail=exc.detail,
                                        errors=fields))
            else:
                assert isinstance(exc, NotFound)
                errors.append(ItemError(index=item.index, code="not_found", detail=exc.detail,
                                        errors=[FieldError(field="customer.id", message=exc.detail)]))
        return cls(accepted=r.accepted, rejected=r.rejected, duplicates=len(r.duplicates),
                   duplicate_indexes=r.duplicates, errors=errors)


# -- newest-first cursors over (occurred_at, id) ----------------------------------------------

def encode_position(position: Position | None) -> str | None:
    if position is None:
        return None
    raw = json.dumps({"t": position[0].isoformat(), "id": str(position[1])}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def decode_position(cursor: str) -> Position:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        at = datetime.fromisoformat(data["t"])
        if at.tzinfo is None:
            raise ValueError("naive")
        return at, UUID(data["id"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("the cursor is not one this API returned", field="cursor") from exc


def keyset_page(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512,
                                        description="`next_cursor` of the previous page")] = None,
) -> KeysetPage:
    return KeysetPage(limit=limit, before=decode_position(cursor) if cursor else None)
