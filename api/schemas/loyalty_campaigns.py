"""Entry-campaign bodies (issue 4 item 7; docs/loyalty-campaigns.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StrictBool

from api.http.batch import item_error_body
from api.http.problems import FieldError
from api.schemas.common import RequestBody, ResponseBody, Timestamp
from api.schemas.customers import CustomerCreate
from api.schemas.orders import OrderCustomerRef
from api.schemas.products import Int
from domain.loyalty.campaign_model import (
    MAX_AWARD_POINTS,
    MAX_CATEGORIES,
    MAX_CODES_PER_ENTRY,
    MAX_CODES_PER_UPLOAD,
    MAX_ENTRY_LIMIT,
    MAX_MIN_QUANTITY,
    MAX_SKUS,
    MAX_WINNERS,
    Campaign,
    Draw,
    Entry,
)
from domain.loyalty.campaign_services import CodeUpload, EntryDraft
from domain.products.model import MAX_AMOUNT, MAX_CATEGORY_DEPTH

Kind = Literal["open", "must_buy"]
Status = Literal["draft", "active", "closed"]
Proof = Literal["orders", "purchase_code", "receipt_number"]


class RequirementBody(RequestBody):
    """What a must_buy entry proves (docs/loyalty-campaigns.md, "Must-buy")."""

    proof: Proof = Field(description="orders: the customer's orders in Kizuna within the period; "
                                     "purchase_code: one-time codes uploaded beforehand; "
                                     "receipt_number: a receipt number, usable once per campaign")
    skus: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=MAX_SKUS, examples=[["TEA-HOJI-100"]])
    categories: list[Annotated[list[Annotated[str, Field(max_length=100)]],
                               Field(min_length=1, max_length=MAX_CATEGORY_DEPTH)]] = Field(
        default_factory=list, max_length=MAX_CATEGORIES, examples=[[["食品", "飲料"]]],
        description="Category path prefixes: a product under 食品 > 飲料 > お茶 matches [食品, 飲料]")
    min_quantity: Int | None = Field(default=None, ge=1, le=MAX_MIN_QUANTITY, description=(
        "orders: units per entry; purchase_code: codes per entry (1-10)"))
    min_amount: Int | None = Field(default=None, ge=1, le=MAX_AMOUNT,
                                   description="orders only: amount per entry (minor units)")


class AwardBody(RequestBody):
    program_id: UUID = Field(description="A loyalty program of this tenant")
    points: Int = Field(ge=1, le=MAX_AWARD_POINTS, examples=[100])


class CampaignFields(RequestBody):
    name: str | None = Field(default=None, min_length=1, max_length=200, examples=["新茶キャンペーン"])
    description: str | None = Field(default=None, max_length=2000)
    status: Status | None = Field(default=None, description="draft -> active -> closed")
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = Field(default=None, description="Exclusive: entries need now < ends_at")
    entry_limit: Int | None = Field(default=None, ge=1, le=MAX_ENTRY_LIMIT,
                                    description="Entries per customer (1 when omitted at creation)")
    requirement: RequirementBody | None = Field(default=None, description="must_buy only")
    award: AwardBody | None = Field(default=None, description="Points for every accepted entry")
    winners: Int | None = Field(default=None, ge=1, le=MAX_WINNERS,
                                description="A lottery draws this many winners after the end")

    def given(self) -> dict[str, Any]:
        """The fields the caller sent (PATCH semantics), as plain values."""
        return self.model_dump(exclude_unset=True)


class CampaignCreate(CampaignFields):
    name: str = Field(min_length=1, max_length=200, examples=["新茶キャンペーン"])  # type: ignore[assignment]
    kind: Kind
    starts_at: Timestamp = Field(examples=["2026-12-01T00:00:00+09:00"])  # type: ignore[assignment]
    ends_at: Timestamp = Field(examples=["2027-01-01T00:00:00+09:00"],  # type: ignore[assignment]
                               description="Exclusive: entries need now < ends_at")


class CampaignUpdate(CampaignFields):
    """Every field optional; null clears description, requirement, award or winners. The kind
    cannot change."""


class RequirementRead(BaseModel):
    proof: Proof
    skus: list[str]
    categories: list[list[str]]
    min_quantity: int | None
    min_amount: int | None


class CampaignAwardRead(BaseModel):
    program_id: UUID
    points: int


class CampaignRead(ResponseBody):
    id: UUID
    name: str
    description: str | None
    kind: Kind
    status: Status
    starts_at: datetime
    ends_at: datetime
    entry_limit: int
    requirement: RequirementRead | None
    award: CampaignAwardRead | None
    winners: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, x: Campaign) -> CampaignRead:
        return cls(id=x.id, name=x.name, description=x.description, kind=x.kind.value,
                   status=x.status.value, starts_at=x.starts_at, ends_at=x.ends_at,
                   entry_limit=x.entry_limit,
                   requirement=RequirementRead(**x.requirement.to_json()) if x.requirement else None,
                   award=CampaignAwardRead(program_id=x.award.program_id, points=x.award.points)
                   if x.award else None,
                   winners=x.winners, created_at=x.created_at, updated_at=x.updated_at)


class CodeUploadBody(RequestBody):
    codes: list[Annotated[str, Field(max_length=200)]] = Field(
        min_length=1, max_length=MAX_CODES_PER_UPLOAD, examples=[["K7QX-2M9P-TA4D"]],
        description=f"Up to {MAX_CODES_PER_UPLOAD:,} one-time codes; spaces and hyphens are ignored")


class ItemErrorRead(BaseModel):
    index: int = Field(description="Position in `codes` (from 0)")
    detail: str
    code: str = Field(examples=["invalid_input"])
    errors: list[FieldError]


class CodeUploadRead(BaseModel):
    received: int
    added: int = Field(description="New codes stored")
    duplicates: int = Field(description="Already stored, or repeated in this upload: unchanged")
    rejected: int
    errors: list[ItemErrorRead]

    @classmethod
    def from_report(cls, r: CodeUpload) -> CodeUploadRead:
        return cls(received=r.received, added=r.added, duplicates=r.duplicates, rejected=len(r.errors),
                   errors=[ItemErrorRead(**item_error_body(x)) for x in r.errors])


class EntryConsentBody(RequestBody):
    channel: Literal["email", "line", "sms", "dm", "phone", "push"]
    status: Literal["granted", "denied"]


class EntryCreate(RequestBody):
    """Name the customer with exactly one of `customer` (a reference, as orders and events do) or
    `profile` (entry-form fields: a known identity finds the customer, else one is created)."""

    customer: OrderCustomerRef | None = None
    profile: CustomerCreate | None = None
    consents: list[EntryConsentBody] = Field(default_factory=list, max_length=6, description=(
        "Recorded through the customer's consents with source campaign:<id>"))
    purchase_codes: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, max_length=MAX_CODES_PER_ENTRY, description="purchase_code campaigns")
    receipt_number: str | None = Field(default=None, max_length=128,
                                       description="receipt_number campaigns")

    def to_draft(self) -> EntryDraft:
        return EntryDraft(
            customer=self.customer.model_dump(exclude_none=True) if self.customer else None,
            profile=self.profile.given() if self.profile else None,
            consents=[(x.channel, x.status) for x in self.consents],
            purchase_codes=self.purchase_codes, receipt_number=self.receipt_number)


class EntryConsentRead(BaseModel):
    channel: str
    status: str


class EntryRead(ResponseBody):
    id: UUID
    campaign_id: UUID
    customer_id: UUID
    entered_at: datetime
    proof: dict[str, Any] = Field(description="How the entry proved its purchase (kind and figures)")
    consents: list[EntryConsentRead]
    points_awarded: int | None

    @classmethod
    def from_domain(cls, x: Entry) -> EntryRead:
        return cls(id=x.id, campaign_id=x.campaign_id, customer_id=x.customer_id, entered_at=x.entered_at,
                   proof=x.proof, consents=[EntryConsentRead(channel=c.channel, status=c.status)
                                            for c in x.consents],
                   points_awarded=x.points_awarded)


class DrawBody(RequestBody):
    seed: str | None = Field(default=None, min_length=1, max_length=256,
                             description="Generated (256 random bits, hex) when omitted")
    redraw: StrictBool = Field(default=False, description="Draw again although a draw exists")


class WinnerRead(BaseModel):
    entry_id: UUID
    customer_id: UUID


class DrawRead(BaseModel):
    id: UUID
    campaign_id: UUID
    algorithm: str = Field(examples=["sha256-rank-v1"])
    seed: str
    seed_source: Literal["given", "generated"]
    winners_wanted: int
    entry_count: int
    entry_ids: list[UUID] = Field(description="The pool drawn from, sorted by entry id")
    entry_customer_ids: list[UUID] = Field(
        description="Each pool entry's customer, in the order of entry_ids (merged entrants: the "
                    "customer they were merged into)")
    winners: list[WinnerRead] = Field(description="In the order drawn")
    redraw_of: UUID | None
    drawn_at: datetime

    @classmethod
    def from_domain(cls, x: Draw) -> DrawRead:
        return cls(id=x.id, campaign_id=x.campaign_id, algorithm=x.algorithm, seed=x.seed,
                   seed_source=x.seed_source, winners_wanted=x.winners_wanted,
                   entry_count=len(x.entry_ids), entry_ids=list(x.entry_ids),
                   entry_customer_ids=list(x.entry_customer_ids),
                   winners=[WinnerRead(entry_id=w.entry_id, customer_id=w.customer_id) for w in x.winners],
                   redraw_of=x.redraw_of, drawn_at=x.drawn_at)


def entries_page(items: Sequence[Entry]) -> list[EntryRead]:
    return [EntryRead.from_domain(x) for x in items]
