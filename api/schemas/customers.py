"""Customer bodies (contract names from the customer-data issue)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from api.schemas.common import Day, RequestBody, ResponseBody, Timestamp
from domain.customers.attributes import AttributeDefinition
from domain.customers.japan import prefecture_name
from domain.customers.model import Consent, Customer, Identity

Stage = Literal["pre_purchase", "purchase", "post_purchase"]


class AddressBody(RequestBody):
    postal_code: str | None = Field(default=None, max_length=16, examples=["100-0001"])
    prefecture: StrictStr | StrictInt | None = Field(default=None, examples=["13", "東京都"],
                                         description="JIS X 0401 code (01-47) or name")
    city: str | None = Field(default=None, max_length=200, examples=["千代田区"])
    line1: str | None = Field(default=None, max_length=200, examples=["千代田1-1"])
    line2: str | None = Field(default=None, max_length=200)


class AcquisitionBody(RequestBody):
    channel: str | None = Field(default=None, max_length=200, examples=["instagram_ad"])
    stage: Stage | None = None
    campaign: str | None = Field(default=None, max_length=200)
    occurred_at: Timestamp | None = None


class CustomerFields(RequestBody):
    external_id: str | None = Field(default=None, max_length=256, examples=["shop-000123"])
    email: str | None = Field(default=None, max_length=320, examples=["hanako@example.jp"])
    phone: str | None = Field(default=None, max_length=40, examples=["090-1234-5678"],
                              description="Stored as E.164; Japanese domestic form accepted")
    line_user_id: str | None = Field(default=None, max_length=64)
    family_name: str | None = Field(default=None, max_length=100, examples=["山田"])
    given_name: str | None = Field(default=None, max_length=100, examples=["花子"])
    family_name_kana: str | None = Field(default=None, max_length=100, examples=["ヤマダ"])
    given_name_kana: str | None = Field(default=None, max_length=100, examples=["ハナコ"])
    birth_date: Day | None = None
    gender: Literal["female", "male", "other", "undisclosed"] | None = None
    address: AddressBody | None = None
    tags: list[str] | None = Field(default=None, max_length=100)
    attributes: dict[str, Any] | None = Field(default=None, description="Free JSON; typed by definitions")
    acquisition: AcquisitionBody | None = None

    def given(self) -> dict[str, Any]:
        """The fields the caller sent (PATCH semantics), as plain values."""
        return self.model_dump(exclude_unset=True)


class CustomerCreate(CustomerFields):
    pass


class CustomerUpdate(CustomerFields):
    pass


class AddressRead(BaseModel):
    postal_code: str | None
    prefecture: str | None
    prefecture_name: str | None
    city: str | None
    line1: str | None
    line2: str | None


class AcquisitionRead(BaseModel):
    channel: str | None
    stage: str | None
    campaign: str | None
    occurred_at: datetime | None


class CustomerRead(ResponseBody):
    id: UUID
    external_id: str | None
    email: str | None
    phone: str | None
    line_user_id: str | None
    family_name: str | None
    given_name: str | None
    family_name_kana: str | None
    given_name_kana: str | None
    birth_date: date | None
    gender: str | None
    address: AddressRead
    tags: list[str]
    attributes: dict[str, Any]
    acquisition: AcquisitionRead | None
    status: Literal["active", "merged", "erased"]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, c: Customer) -> CustomerRead:
        a = c.address
        return cls(
            id=c.id, external_id=c.external_id, email=c.email, phone=c.phone, line_user_id=c.line_user_id,
            family_name=c.family_name, given_name=c.given_name, family_name_kana=c.family_name_kana,
            given_name_kana=c.given_name_kana, birth_date=c.birth_date,
            gender=c.gender.value if c.gender else None,
            address=AddressRead(postal_code=a.postal_code, prefecture=a.prefecture,
                                prefecture_name=prefecture_name(a.prefecture) if a.prefecture else None,
                                city=a.city, line1=a.line1, line2=a.line2),
            tags=list(c.tags), attributes=c.attributes,
            acquisition=AcquisitionRead(**vars(c.acquisition)) if c.acquisition else None,
            status=c.status.value, created_at=c.created_at, updated_at=c.updated_at)


class IdentityBody(RequestBody):
    type: str = Field(max_length=48, examples=["device_id", "custom:pos_member_no"],
                      description="email, phone, line_user_id, external_id, device_id or custom:<name>")
    value: str = Field(max_length=320)


class IdentityRead(ResponseBody):
    type: str
    value: str
    created_at: datetime

    @classmethod
    def from_domain(cls, i: Identity) -> IdentityRead:
        return cls(type=i.type, value=i.value, created_at=i.created_at)


class IdentityList(BaseModel):
    data: list[IdentityRead]


class ConsentBody(RequestBody):
    status: Literal["granted", "denied"]
    source: str | None = Field(default=None, max_length=200, examples=["signup_form"])
    occurred_at: Timestamp | None = Field(default=None,
                                          description="When the customer decided; now if absent")


class ConsentRead(ResponseBody):
    channel: str
    status: str
    source: str | None
    occurred_at: datetime
    recorded_at: datetime

    @classmethod
    def from_domain(cls, c: Consent) -> ConsentRead:
        return cls(channel=c.channel.value, status=c.status.value, source=c.source,
                   occurred_at=c.occurred_at, recorded_at=c.recorded_at)


class ConsentList(BaseModel):
    data: list[ConsentRead]


class MergeBody(RequestBody):
    source_customer_id: UUID


class MergeRead(BaseModel):
    target: CustomerRead
    source_customer_id: UUID
    already_merged: bool
    identities_moved: int
    consents: dict[str, str] = Field(description="channel -> whose decision won (source|target)")
    attribute_conflicts: dict[str, dict[str, Any]] = Field(
        description="attributes both had with different values: the target's was kept")
    moved: dict[str, int]


class AttributeDefinitionBody(RequestBody):
    type: Literal["string", "integer", "number", "boolean", "date", "datetime", "enum", "string_list"]
    enum_values: list[str] | None = Field(default=None, max_length=200)
    required: bool = False
    description: str | None = Field(default=None, max_length=500)


class AttributeDefinitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    type: str
    enum_values: list[str] | None
    required: bool
    description: str | None

    @classmethod
    def from_domain(cls, d: AttributeDefinition) -> AttributeDefinitionRead:
        return cls(name=d.name, type=d.type.value, enum_values=list(d.enum_values) if d.enum_values else None,
                   required=d.required, description=d.description)


class AttributeDefinitionList(BaseModel):
    data: list[AttributeDefinitionRead]


class CustomerExport(BaseModel):
    """Everything held about one customer (APPI / GDPR access request)."""

    format: str = Field(examples=["kizuna.customer_export.v1"])
    generated_at: datetime
    customer: dict[str, Any]
    merged_customer_ids: list[str]
    identities: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    consent_history: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    events: list[dict[str, Any]]
    merges: list[dict[str, Any]]


class ErasureBody(RequestBody):
    reason: str | None = Field(default=None, max_length=500, examples=["customer request 2026-11-22"])


class ErasureRead(BaseModel):
    customer_id: UUID
    erased_at: datetime
    removed: dict[str, int] = Field(description="What was deleted or de-identified, by kind")
