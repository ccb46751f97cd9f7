"""Order rows: one row per line, grouped into orders; an order stands or falls whole."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.imports.model import ImportContext, Parsed, Rejection, SourceRecord
from domain.imports.orders import _contradictions, _draft, _groups, _located, parse_order_row
from domain.shared.errors import FieldProblem, InvalidInput

CTX = ImportContext(today=date(2026, 11, 22), now=datetime(2026, 11, 22, tzinfo=UTC), timezone="Asia/Tokyo",
                    currency="JPY")
FIRST = {"order_number": "A-1", "customer_external_id": "C1", "ordered_at": "2026/11/01 10:00",
         "channel": "EC", "sku": "SKU-1", "quantity": "２", "unit_price": "¥1,000", "shipping_total": "500"}


def entry(line: int, cells: dict[str, str]) -> tuple[str, Parsed | Rejection]:
    try:
        return cells.get("order_number", ""), Parsed(SourceRecord(line, list(cells.values())),
                                                     parse_order_row(cells, CTX))
    except InvalidInput as exc:
        return cells.get("order_number", ""), Rejection(line=line, reason=exc.detail, problems=tuple(exc.problems))


def test_rows_become_an_order_draft_with_a_computed_total():
    rows = [entry(2, FIRST), entry(3, {"order_number": "A-1", "sku": "SKU-2", "quantity": "1", "unit_price": "300",
                                       "unit_cost": "100"})]
    (group,), refused = _groups(rows, None)
    assert not refused and not _contradictions(group)
    draft = _draft([i.value for i in group.items], CTX)
    assert draft.total == 2 * 1000 + 300 + 500 and draft.channel == "ec"
    assert draft.customer == {"external_id": "C1"}
    assert draft.ordered_at == datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    assert [(line.sku, line.quantity, line.unit_price, line.unit_cost) for line in draft.lines] == [
        ("SKU-1", 2, 1000, None), ("SKU-2", 1, 300, 100)]


def test_later_rows_may_repeat_but_not_contradict_the_first():
    rows = [entry(2, FIRST), entry(3, {**FIRST, "sku": "SKU-2"}), entry(4, {**FIRST, "ordered_at": "2026/11/02"})]
    (group,), _ = _groups(rows, None)
    assert [(p.field, p.message) for p in _contradictions(group)] == [
        ("ordered_at", "(line 4) differs from the order's first row (line 2)")]


def test_an_order_number_met_again_later_is_refused_and_bad_rows_stay_with_their_order():
    rows = [entry(2, FIRST), entry(3, {**FIRST, "order_number": "B-1"}),
            entry(4, {**FIRST, "quantity": "0"}), entry(5, {**FIRST, "order_number": "A-1"})]
    groups, refused = _groups(rows, None)
    assert [g.number for g in groups] == ["A-1", "B-1"]
    assert [r.line for r in refused] == [4, 5] and "appears again (first at line 2)" in refused[1].reason


def test_the_continuation_of_an_order_cut_for_size_is_refused():
    groups, refused = _groups([entry(2, FIRST), entry(3, {**FIRST, "order_number": "Z"})], continues="A-1")
    assert [g.number for g in groups] == ["Z"] and "more lines" in refused[0].reason


def test_problems_name_the_file_line_not_the_order_line():
    rows = [entry(7, FIRST), entry(8, {**FIRST, "sku": "x"})]
    (group,), _ = _groups(rows, None)
    located = _located([FieldProblem("lines.1.quantity", "too many"), FieldProblem("total", "wrong")], group)
    assert [(p.field, p.message) for p in located] == [("quantity", "(line 8) too many"), ("total", "wrong")]


def test_missing_order_columns_are_reported():
    with pytest.raises(InvalidInput) as caught:
        _draft([parse_order_row({"order_number": "A", "sku": "S", "quantity": "1", "unit_price": "1"}, CTX)], CTX)
    assert {p.field for p in caught.value.problems} == {"ordered_at", "channel"}
