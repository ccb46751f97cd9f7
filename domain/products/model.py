"""Products: the catalogue that favourites, restock and price-drop actions refer to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.shared.errors import FieldProblem, InvalidInput
from domain.shared.text import clean_text
from domain.tenants.model import validate_currency

MAX_AMOUNT = 10**15  # minor units; far beyond any price, far below BIGINT, so sums cannot overflow
MAX_STOCK = 2**31 - 1  # the column is an INTEGER
MAX_CATEGORY_DEPTH = 10
MAX_ATTRIBUTES = 200
SKU_MAX_LENGTH = 128


class ProductStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"  # not on sale for now (out of season, hidden)
    DISCONTINUED = "discontinued"  # never on sale again: no restock or price-drop actions


def normalise_sku(value: str, *, field: str = "sku") -> str:
    """NFKC and trimmed, so `ＡＢＣ－１` from a spreadsheet and `ABC-1` from the EC site match."""
    return clean_text(value, field=field, max_length=SKU_MAX_LENGTH)


def money(value: int, *, field: str) -> int:
    """An amount in minor units: a whole number between 0 and MAX_AMOUNT."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("must be an integer in the currency's minor unit", field=field)
    if not 0 <= value <= MAX_AMOUNT:
        raise InvalidInput(f"must be between 0 and {MAX_AMOUNT}", field=field)
    return value


def _stock(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_STOCK:
        raise InvalidInput(f"must be an integer between 0 and {MAX_STOCK}", field="stock_quantity")
    return value


def _category_path(values: list[str]) -> tuple[str, ...]:
    if len(values) > MAX_CATEGORY_DEPTH:
        raise InvalidInput(f"at most {MAX_CATEGORY_DEPTH} levels", field="category_path")
    return tuple(clean_text(v, field=f"category_path.{i}", max_length=100) for i, v in enumerate(values))


def _attributes(value: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput("must be a JSON object", field="attributes")
    if len(value) > MAX_ATTRIBUTES:
        raise InvalidInput(f"at most {MAX_ATTRIBUTES} attributes", field="attributes")
    for key in value:
        clean_text(key, field=f"attributes.{key}", max_length=64)
    return dict(value)


def _status(value: str) -> ProductStatus:
    try:
        return ProductStatus(value)
    except ValueError as exc:
        raise InvalidInput("status is one of active, inactive, discontinued", field="status") from exc


_REQUIRED_WHEN_CREATING = ("sku", "name")
_NOT_NULL = ("sku", "name", "currency", "status")


def normalise_product(raw: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Only the keys present in `raw` come back (PATCH semantics); None clears a nullable field.
    Every problem is reported at once."""
    rules: dict[str, Callable[[Any], Any]] = {
        "sku": normalise_sku,
        "name": lambda v: clean_text(v, field="name", max_length=500),
        "category_path": _category_path,
        "price": lambda v: money(v, field="price"),
        "cost": lambda v: money(v, field="cost"),
        "currency": lambda v: validate_currency(str(v).strip().upper()),
        "stock_quantity": _stock,
        "status": _status,
        "attributes": _attributes,
    }
    problems: list[FieldProblem] = []
    values: dict[str, Any] = {}
    if creating:
        problems.extend(FieldProblem(key, "is required") for key in _REQUIRED_WHEN_CREATING
                        if raw.get(key) is None)
    for key, value in raw.items():
        if key not in rules:
            continue
        if value is None:
            if key in _NOT_NULL:
                if not (creating and key in _REQUIRED_WHEN_CREATING):  # reported above
                    problems.append(FieldProblem(key, "must not be null"))
                continue
            values[key] = {"category_path": (), "attributes": {}}.get(key)
            continue
        try:
            values[key] = rules[key](value)
        except InvalidInput as exc:
            problems.extend(exc.problems or [FieldProblem(key, exc.detail)])
    if problems:
        raise InvalidInput("the product has invalid fields", problems=problems)
    return values


@dataclass(frozen=True)
class Product:
    id: UUID
    sku: str
    name: str
    currency: str
    created_at: datetime
    updated_at: datetime
    category_path: tuple[str, ...] = ()
    price: int | None = None
    cost: int | None = None
    stock_quantity: int | None = None
    status: ProductStatus = ProductStatus.ACTIVE
    attributes: dict[str, Any] = field(default_factory=dict)
    version: int = 1

    @classmethod
    def create(cls, *, id: UUID, values: dict[str, Any], default_currency: str, now: datetime) -> Product:
        """`values` come from normalise_product(..., creating=True)."""
        given = {k: v for k, v in values.items() if v is not None}
        if "attributes" in given:
            given["attributes"] = {k: v for k, v in given["attributes"].items() if v is not None}
        return cls(id=id, created_at=now, updated_at=now, **{"currency": default_currency, **given})

    def changed(self, values: dict[str, Any], now: datetime) -> Product:
        """Apply normalised PATCH values: `attributes` merges key by key (a null value removes a key;
        `"attributes": null` clears them all). Unchanged products keep their version, so a re-sent
        feed does not invalidate ETags."""
        if "sku" in values and values["sku"] != self.sku:
            raise InvalidInput("a product's sku cannot change; create a new product", field="sku")
        values = {k: v for k, v in values.items() if k != "sku"}
        if values.get("attributes"):
            merged = {**self.attributes, **values["attributes"]}
            values["attributes"] = {k: v for k, v in merged.items() if v is not None}
        if all(getattr(self, k) == v for k, v in values.items()):
            return self
        return replace(self, **values, updated_at=now, version=self.version + 1)
