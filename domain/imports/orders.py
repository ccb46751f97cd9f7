"""Order rows: one CSV row per order line, the rows of one order on consecutive lines.

The order's own columns (customer, ordered_at, totals, channel, ...) are read from its first row;
later rows may leave them blank or repeat them, but may not contradict them. An order is
accepted or rejected whole: every row of a rejected order is in the rejects file. Recording goes
through the orders area's `place_orders` use case, so an import checks totals, resolves (or
creates) customers, refuses recorded order numbers and announces OrderPlaced exactly as
`POST /v1/orders/batch` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.imports.cells import nfkc, parse_datetime, parse_int
from domain.imports.columns import CUSTOMER_REF_COLUMNS
from domain.imports.model import ChunkOutcome, ImportContext, Parsed, Rejection, describe
from domain.orders.model import LineDraft, OrderDraft, expected_total
from domain.orders.services import place_orders
from domain.shared.batch import MAX_BATCH
from domain.shared.clock import Clock
from domain.shared.errors import FieldProblem, InvalidInput
from domain.shared.ports import UnitOfWork

HEADER_COLUMNS = ("order_number", *CUSTOMER_REF_COLUMNS, "ordered_at", "currency", "discount_total",
                  "shipping_total", "total", "refunded_total", "channel", "store_id", "status")
_MONEY_HEADER = ("discount_total", "shipping_total", "total", "refunded_total")
_LINE_FIELD = re.compile(r"^lines\.(\d+)\.?(.*)$")


@dataclass(frozen=True)
class OrderRow:
    """One row: its order's columns as given (normalised text) and its line."""

    order_number: str
    header: dict[str, str]
    line: LineDraft


def order_key(cells: dict[str, str]) -> str:
    return nfkc(cells.get("order_number", ""))


def parse_order_row(cells: dict[str, str], ctx: ImportContext) -> OrderRow:
    problems: list[FieldProblem] = []

    def number(key: str, *, money: bool, minimum: int = 0) -> int:
        if key not in cells:
            problems.append(FieldProblem(key, "is required"))
            return 0
        try:
            return parse_int(cells[key], field=key, money=money, minimum=minimum)
        except InvalidInput as exc:
            problems.extend(exc.problems)
            return 0

    if "order_number" not in cells:
        problems.append(FieldProblem("order_number", "is required"))
    if "sku" not in cells:
        problems.append(FieldProblem("sku", "is required"))
    quantity = number("quantity", money=False, minimum=1)
    unit_price = number("unit_price", money=True)
    unit_cost = number("unit_cost", money=True) if "unit_cost" in cells else None
    header = {k: nfkc(cells[k]) for k in HEADER_COLUMNS if k in cells}
    if problems:
        raise InvalidInput("the order row has invalid fields", problems=problems)
    return OrderRow(order_number=order_key(cells), header=header,
                    line=LineDraft(sku=cells["sku"], quantity=quantity, unit_price=unit_price,
                                   unit_cost=unit_cost))


def _draft(rows: list[OrderRow], ctx: ImportContext) -> OrderDraft:
    """The order the rows describe (types only; `validate_order` checks the rest)."""
    header = rows[0].header
    problems: list[FieldProblem] = []
    customer = {k.removeprefix("customer_"): v for k, v in header.items() if k in CUSTOMER_REF_COLUMNS}
    ordered_at = None
    if "ordered_at" not in header:
        problems.append(FieldProblem("ordered_at", "is required"))
    else:
        try:
            ordered_at = parse_datetime(header["ordered_at"], field="ordered_at", timezone=ctx.timezone)
        except InvalidInput as exc:
            problems.extend(exc.problems)
    amounts: dict[str, int | None] = {}
    for key in _MONEY_HEADER:
        try:
            amounts[key] = parse_int(header[key], field=key, money=True) if key in header else None
        except InvalidInput as exc:
            problems.extend(exc.problems)
            amounts[key] = 0
    if "channel" not in header:
        problems.append(FieldProblem("channel", "is required (ec, store, phone, marketplace, ...)"))
    if problems:
        raise InvalidInput("the order has invalid fields", problems=problems)
    assert ordered_at is not None
    lines = [row.line for row in rows]
    discount, shipping = amounts["discount_total"] or 0, amounts["shipping_total"] or 0
    total = amounts["total"]
    if total is None:  # documented: a blank total is the lines less discount plus shipping
        total = expected_total(lines, discount, shipping)
    return OrderDraft(order_number=rows[0].order_number, customer=customer, ordered_at=ordered_at,
                      lines=lines, total=total, channel=header["channel"].lower(),
                      currency=header["currency"].upper() if "currency" in header else None,
                      discount_total=discount, shipping_total=shipping, store_id=header.get("store_id"),
                      status=header.get("status", "placed").lower(),
                      refunded_total=amounts["refunded_total"])


@dataclass
class _Group:
    number: str
    items: list[Parsed]
    failed: list[Rejection]


Entry = tuple[str, Parsed | Rejection]  # (order number as written, the row parsed or refused)


def _groups(items: list[Entry], continues: str | None) -> tuple[list[_Group], list[Rejection]]:
    """Consecutive rows with one order number form an order. A number met again after other
    orders, or continuing an order begun in the previous chunk (over MAX_LINES rows), is refused."""
    groups: list[_Group] = []
    refused: list[Rejection] = []
    seen: dict[str, int] = {}
    for number, entry in items:
        if groups and number and groups[-1].number == number:
            group = groups[-1]
        else:
            group = _Group(number=number, items=[], failed=[])
            groups.append(group)
        if isinstance(entry, Rejection):
            group.failed.append(entry)
        else:
            group.items.append(entry)
    kept: list[_Group] = []
    for index, group in enumerate(groups):
        line = _first_line(group)
        reason = None
        if index == 0 and continues is not None and group.number == continues:
            reason = f"order {group.number!r} has more lines than an order may have"
        elif group.number and group.number in seen:
            reason = (f"order {group.number!r} appears again (first at line {seen[group.number]}); an"
                      " order's rows must be consecutive")
        if group.number and group.number not in seen:
            seen[group.number] = line
        if reason is not None:
            refused += [*group.failed, *(_reject(item, reason) for item in group.items)]
            continue
        kept.append(group)
    return kept, refused


def _first_line(group: _Group) -> int:
    lines = [r.line or 0 for r in group.failed] + [i.record.line for i in group.items]
    return min(lines) if lines else 0


def _reject(item: Parsed, reason: str, problems: tuple[FieldProblem, ...] = ()) -> Rejection:
    return Rejection(line=item.record.line, reason=reason, problems=problems,
                     fields=tuple(item.record.fields))


def _located(problems: list[FieldProblem], group: _Group) -> tuple[FieldProblem, ...]:
    """`lines.2.quantity` -> `quantity` "(line 14) ...": the file's line, not the order's index."""
    out = []
    for p in problems:
        found = _LINE_FIELD.match(p.field)
        if found and int(found.group(1)) < len(group.items):
            line = group.items[int(found.group(1))].record.line
            out.append(FieldProblem(found.group(2) or "lines", f"(line {line}) {p.message}"))
        else:
            out.append(p)
    return tuple(out)


def _contradictions(group: _Group) -> list[FieldProblem]:
    first = group.items[0]
    problems = []
    for item in group.items[1:]:
        for key, value in item.value.header.items():
            if first.value.header.get(key, value) != value:
                problems.append(FieldProblem(key, f"(line {item.record.line}) differs from the order's"
                                                  f" first row (line {first.record.line})"))
    return problems


async def write_orders(uow: UnitOfWork, clock: Clock, items: list[Entry],
                       ctx: ImportContext, continues: str | None = None) -> ChunkOutcome:
    """`items` are the chunk's rows in file order with their order numbers, parsed or already
    refused (an order with one bad row is refused whole). `continues`: the order number the
    previous chunk ended with when that order was cut (it had more rows than an order may have)."""
    groups, rejections = _groups(items, continues)
    drafts: list[tuple[_Group, OrderDraft]] = []
    for group in groups:
        if group.failed:
            bad = group.failed[0]
            reason = f"the order's row at line {bad.line} is invalid: {bad.reason}"
            rejections += [*group.failed, *(_reject(i, reason) for i in group.items)]
            continue
        problems = _contradictions(group)
        try:
            if problems:
                raise InvalidInput("the order's rows disagree", problems=problems)
            drafts.append((group, _draft([i.value for i in group.items], ctx)))
        except InvalidInput as exc:
            located = _located(exc.problems, group)
            rejections += [_reject(i, describe(located, exc.detail), located) for i in group.items]
    accepted = 0
    for start in range(0, len(drafts), MAX_BATCH):
        batch = drafts[start:start + MAX_BATCH]
        report = await place_orders(uow=uow, clock=clock, tenant_currency=ctx.currency,
                                    drafts=[(i, draft) for i, (_, draft) in enumerate(batch)])
        accepted += sum(len(batch[index][0].items) for index, _ in report.accepted)
        for error in report.errors:
            group = batch[error.index][0]
            located = _located(list(getattr(error.error, "problems", ())), group)
            rejections += [_reject(i, describe(located, error.error.detail), located) for i in group.items]
    rejections.sort(key=lambda r: r.line or 0)
    return ChunkOutcome(accepted=accepted, rejections=rejections)
