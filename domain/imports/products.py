"""Product rows: cells turned into the fields `upsert_products` takes (upsert by sku, blank cells
leave a field as it is); that use case does the checking and the bulk writes."""

from __future__ import annotations

from typing import Any

from domain.imports.cells import nfkc, parse_int
from domain.imports.model import ChunkOutcome, ImportContext, Parsed, Rejection, describe
from domain.products.services import upsert_products
from domain.shared.batch import MAX_BATCH
from domain.shared.clock import Clock
from domain.shared.errors import FieldProblem, InvalidInput
from domain.shared.ports import UnitOfWork
from domain.shared.text import clean_text

CATEGORY_SEPARATOR = ">"


def parse_product(cells: dict[str, str], ctx: ImportContext) -> dict[str, Any]:
    """`category_path` is written `食品 > 菓子 > チョコレート`; amounts are integers in the minor
    unit (`1,200`, `¥1,200` and `1200円` read as 1200)."""
    problems: list[FieldProblem] = []
    raw: dict[str, Any] = {k: cells[k] for k in ("sku", "name") if k in cells}

    def attempt(key: str, fn: Any) -> None:
        try:
            raw[key] = fn()
        except InvalidInput as exc:
            problems.extend(exc.problems)

    for key in ("price", "cost"):
        if key in cells:
            attempt(key, lambda k=key: parse_int(cells[k], field=k, money=True))
    if "stock_quantity" in cells:
        attempt("stock_quantity", lambda: parse_int(cells["stock_quantity"], field="stock_quantity"))
    if "currency" in cells:
        raw["currency"] = nfkc(cells["currency"]).upper()
    if "status" in cells:
        raw["status"] = nfkc(cells["status"]).lower()
    if "category_path" in cells:
        raw["category_path"] = [p.strip() for p in cells["category_path"].split(CATEGORY_SEPARATOR)
                                if p.strip()]
    attributes = {}
    for column, value in cells.items():
        if column.startswith("attributes."):
            try:  # jsonb cannot hold NUL: attribute text is cleaned as other text is
                name = column.removeprefix("attributes.")
                attributes[name] = clean_text(value, field=column, max_length=2000)
            except InvalidInput as exc:
                problems.extend(exc.problems)
    if attributes:
        raw["attributes"] = attributes
    if problems:
        raise InvalidInput("the product row has invalid fields", problems=problems)
    return raw


def _batches(items: list[Parsed]) -> list[list[Parsed]]:
    """At most MAX_BATCH per call, and a sku never twice in one call, so rows naming the same sku
    apply one after the other in file order, as separate API calls would."""
    batches: list[list[Parsed]] = [[]]
    seen: set[str] = set()
    for item in items:
        sku = nfkc(str(item.value.get("sku", "")))
        if len(batches[-1]) >= MAX_BATCH or sku in seen:
            batches.append([])
            seen = set()
        batches[-1].append(item)
        seen.add(sku)
    return [b for b in batches if b]


async def write_products(uow: UnitOfWork, clock: Clock, items: list[Parsed],
                         ctx: ImportContext) -> ChunkOutcome:
    accepted = 0
    rejections: list[Rejection] = []
    for batch in _batches(items):
        report = await upsert_products(uow=uow, clock=clock, default_currency=ctx.currency,
                                       items=[(i, item.value) for i, item in enumerate(batch)])
        accepted += report.accepted
        for error in report.errors:
            record = batch[error.index].record
            problems = tuple(getattr(error.error, "problems", ()))
            rejections.append(Rejection(line=record.line, reason=describe(problems, error.error.detail),
                                        problems=problems, fields=tuple(record.fields)))
    return ChunkOutcome(accepted=accepted, rejections=rejections)
