"""Product bodies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, Strict, WithJsonSchema

from api.http.batch import item_error_body
from api.http.problems import FieldError
from api.schemas.common import RequestBody, ResponseBody
from domain.products.model import MAX_AMOUNT, MAX_CATEGORY_DEPTH, MAX_STOCK, Product
from domain.products.services import UpsertReport
from domain.shared.batch import MAX_BATCH, ItemError

Status = Literal["active", "inactive", "discontinued"]
# Counts and money are JSON integers: not true/false, "12" or 12.0.
Int = Annotated[int, Strict()]


def _amount() -> Any:
    return Field(default=None, ge=0, le=MAX_AMOUNT, description="Minor units of `currency` (JPY: yen)")


class ProductFields(RequestBody):
    name: str | None = Field(default=None, max_length=500, examples=["有機ほうじ茶 100g"])
    category_path: list[str] | None = Field(default=None, max_length=MAX_CATEGORY_DEPTH,
                                            examples=[["食品", "飲料", "お茶"]],
                                            description="From the top category down")
    price: Int | None = _amount()
    cost: Int | None = _amount()
    currency: str | None = Field(default=None, min_length=3, max_length=3, examples=["JPY"],
                                 description="ISO 4217; the tenant's currency when omitted at creation")
    stock_quantity: Int | None = Field(default=None, ge=0, le=MAX_STOCK)
    status: Status | None = Field(default=None, description="active when omitted at creation")
    attributes: dict[str, Any] | None = Field(default=None, description="Free JSON object")

    def given(self) -> dict[str, Any]:
        """The fields the caller sent (PATCH semantics), as plain values."""
        return self.model_dump(exclude_unset=True)


class ProductCreate(ProductFields):
    sku: str = Field(min_length=1, max_length=128, examples=["TEA-HOJI-100"])
    name: str = Field(max_length=500, examples=["有機ほうじ茶 100g"])  # type: ignore[assignment]


class ProductUpdate(ProductFields):
    """Every field optional; null clears price, cost, stock_quantity, category_path or attributes.
    The sku cannot change."""


class ProductUpsert(ProductFields):
    """One batch item: the sku names the product; a new sku needs a name; an existing one changes
    only the fields the item holds."""

    sku: str = Field(min_length=1, max_length=128, examples=["TEA-HOJI-100"])


# Batch items are validated one by one (api.http.batch.parse_items, then the use case), so a bad
# item is reported by its index instead of refusing the batch; the document still describes them
# (inline: no operation takes a single ProductUpsert, so it has no component to refer to).
ProductItem = Annotated[Any, WithJsonSchema(ProductUpsert.model_json_schema())]


class ProductBatch(RequestBody):
    products: list[ProductItem] = Field(max_length=MAX_BATCH, description=(
        f"Up to {MAX_BATCH} ProductUpsert items; more is 422 for the whole request. Each item is "
        "validated alone: invalid ones are reported by index, the others stored."))


class ProductRead(ResponseBody):
    id: UUID
    sku: str
    name: str
    category_path: list[str]
    price: int | None
    cost: int | None
    currency: str
    stock_quantity: int | None
    status: Status
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, p: Product) -> ProductRead:
        return cls(id=p.id, sku=p.sku, name=p.name, category_path=list(p.category_path), price=p.price,
                   cost=p.cost, currency=p.currency, stock_quantity=p.stock_quantity,
                   status=p.status.value, attributes=p.attributes, created_at=p.created_at,
                   updated_at=p.updated_at)


class ProductBatchError(BaseModel):
    index: int = Field(description="Position of the item in `products` (from 0)")
    detail: str
    code: str = Field(examples=["invalid_input", "duplicate_sku"],
                      description="invalid_input, duplicate_sku (earlier in the batch), retry")
    errors: list[FieldError] = Field(description="Invalid fields; paths are relative to the item")


class ProductBatchResult(BaseModel):
    accepted: int = Field(description="Items stored: created + updated + unchanged")
    rejected: int
    created: int
    updated: int
    unchanged: int = Field(description="Items equal to the stored product (nothing written)")
    errors: list[ProductBatchError]

    @classmethod
    def from_report(cls, report: UpsertReport, refused: Sequence[ItemError]) -> ProductBatchResult:
        errors = sorted([*refused, *report.errors], key=lambda e: e.index)
        return cls(accepted=report.accepted, rejected=len(errors), created=len(report.created),
                   updated=len(report.updated), unchanged=len(report.unchanged),
                   errors=[ProductBatchError(**item_error_body(e)) for e in errors])
