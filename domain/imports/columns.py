"""CSV columns each kind of import reads: the contract's field names, checked before any row.

A header names columns once each; unknown columns are an error (a typo never passes silently),
except empty names (trailing separators some spreadsheets write) and the `reject_line` and
`reject_reason` columns of a rejects file, so a corrected rejects file imports as it is.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from domain.imports.model import ImportKind, Rejection, SourceRecord
from domain.shared.errors import FieldProblem, InvalidInput

REJECT_COLUMNS = ("reject_line", "reject_reason")

_CUSTOMER = ("external_id", "email", "phone", "line_user_id", "family_name", "given_name",
             "family_name_kana", "given_name_kana", "birth_date", "gender", "postal_code", "prefecture",
             "city", "line1", "line2", "tags", "acquisition.channel", "acquisition.stage",
             "acquisition.campaign", "acquisition.occurred_at")
_PRODUCT = ("sku", "name", "category_path", "price", "cost", "currency", "stock_quantity", "status")
_ORDER = ("order_number", "customer_id", "customer_external_id", "customer_email", "customer_phone",
          "customer_line_user_id", "ordered_at", "currency", "sku", "quantity", "unit_price",
          "unit_cost", "discount_total", "shipping_total", "total", "refunded_total", "channel",
          "store_id", "status")

COLUMNS: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.CUSTOMERS: _CUSTOMER, ImportKind.PRODUCTS: _PRODUCT, ImportKind.ORDERS: _ORDER}
# Columns named `attributes.<name>` fill custom attributes.
WITH_ATTRIBUTES = (ImportKind.CUSTOMERS, ImportKind.PRODUCTS)
ALIASES: dict[ImportKind, dict[str, str]] = {
    ImportKind.CUSTOMERS: {f"address.{k}": k
                           for k in ("postal_code", "prefecture", "city", "line1", "line2")},
    ImportKind.PRODUCTS: {},
    ImportKind.ORDERS: {f"customer.{k}": ("customer_id" if k == "id" else f"customer_{k}")
                        for k in ("id", "external_id", "email", "phone", "line_user_id")},
}
IDENTITY_COLUMNS = ("external_id", "email", "phone", "line_user_id")
CUSTOMER_REF_COLUMNS = ("customer_id", "customer_external_id", "customer_email", "customer_phone",
                        "customer_line_user_id")
REQUIRED: dict[ImportKind, tuple[tuple[str, ...], ...]] = {
    # each inner tuple: at least one of these columns
    ImportKind.CUSTOMERS: (IDENTITY_COLUMNS,),
    ImportKind.PRODUCTS: (("sku",),),
    ImportKind.ORDERS: (("order_number",), ("ordered_at",), ("sku",), ("quantity",), ("unit_price",),
                        CUSTOMER_REF_COLUMNS),
}


def _normal(name: str) -> str:
    return unicodedata.normalize("NFKC", name).replace("\ufeff", "").strip().lower()


@dataclass(frozen=True)
class ColumnMap:
    """Where each known column sits in a record."""

    kind: ImportKind
    header: tuple[str, ...]
    positions: tuple[tuple[int, str], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.positions)

    def cell(self, record: SourceRecord, name: str) -> str:
        """One column's cell, trimmed ("" when absent), even from a record of the wrong width."""
        for index, column in self.positions:
            if column == name:
                return record.fields[index].strip() if index < len(record.fields) else ""
        return ""

    def values(self, record: SourceRecord) -> dict[str, str] | Rejection:
        """The record's non-empty cells by column name (trimmed), or why the record is unusable.
        A blank cell means "not given": imports never clear a field."""
        fields = record.fields
        width = len(self.header)
        if len(fields) < width or any(f.strip() for f in fields[width:]):
            return Rejection(line=record.line, fields=tuple(fields),
                             reason=f"expected {width} fields, found {len(fields)}")
        values: dict[str, str] = {}
        for index, name in self.positions:
            cell = fields[index].strip()
            if cell:
                values[name] = cell
        return values


def resolve_header(kind: ImportKind, header: list[str]) -> ColumnMap:
    """Map a header to canonical column names; every problem at once (InvalidInput)."""
    problems: list[FieldProblem] = []
    known = set(COLUMNS[kind])
    aliases = ALIASES[kind]
    positions: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = _normal(raw)
        name = aliases.get(name, name)
        if not name or name in REJECT_COLUMNS:
            continue
        if name.startswith("attributes.") and kind in WITH_ATTRIBUTES:
            if len(name) == len("attributes."):
                problems.append(FieldProblem(f"column {index + 1}", "attributes.<name> needs a name"))
                continue
        elif name not in known:
            problems.append(FieldProblem(f"column {index + 1}", f"unknown column {raw.strip()!r} for a"
                                         f" {kind.value} import"))
            continue
        if name in seen:
            problems.append(FieldProblem(f"column {index + 1}",
                                         f"{name!r} appears twice (also column {seen[name] + 1})"))
            continue
        seen[name] = index
        positions.append((index, name))
    for group in REQUIRED[kind]:
        if not any(name in seen for name in group):
            wanted = group[0] if len(group) == 1 else "one of " + ", ".join(group)
            problems.append(FieldProblem("header", f"needs a column {wanted}"))
    if problems:
        raise InvalidInput(f"the header is not a {kind.value} import header", problems=problems)
    return ColumnMap(kind=kind, header=tuple(header), positions=tuple(positions))
