"""Product use cases with fakes: normalisation, duplicates, If-Match, bulk upsert."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.products.model import ProductStatus, normalise_product
from domain.products.ports import ProductFilter
from domain.products.services import (
    create_product,
    list_products,
    update_product,
    upsert_products,
)
from domain.shared.errors import Conflict, InvalidInput, PreconditionFailed
from domain.shared.pagination import PageRequest
from tests.fakes import FixedClock
from tests.unit.orders.fakes import CommerceUnitOfWork

NOW = datetime(2026, 11, 22, tzinfo=UTC)


async def create(uow, **fields):
    return await create_product(uow=uow, clock=FixedClock(NOW), default_currency="JPY",
                                fields={"sku": "TEA-1", "name": "tea"} | fields)


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidInput) as caught:
        normalise_product({"sku": None, "price": -1, "cost": True, "currency": "YEN", "status": "sold",
                           "stock_quantity": 2**31, "category_path": ["a"] * 11}, creating=True)
    assert {p.field for p in caught.value.problems} == {
        "sku", "name", "price", "cost", "currency", "status", "stock_quantity", "category_path"}


async def test_create_normalises_and_refuses_a_taken_sku():
    uow = CommerceUnitOfWork()
    p = await create(uow, sku="ＴＥＡ－１", category_path=["食品", "ｵﾁｬ"], currency="usd")
    assert (p.sku, p.category_path, p.currency, p.status) == ("TEA-1", ("食品", "オチャ"), "USD", ProductStatus.ACTIVE)
    with pytest.raises(Conflict) as caught:
        await create(uow)
    assert caught.value.extra == {"code": "duplicate_sku", "product_id": str(p.id)}


async def test_update_honours_the_expected_version_and_keeps_it_when_nothing_changes():
    uow = CommerceUnitOfWork()
    p = await create(uow, price=100)
    same = await update_product(uow=uow, clock=FixedClock(NOW), product_id=p.id, fields={"price": 100},
                                expected_version=1)
    assert same.version == 1
    changed = await update_product(uow=uow, clock=FixedClock(NOW), product_id=p.id, fields={"price": 90},
                                   expected_version=1)
    assert (changed.price, changed.version) == (90, 2)
    with pytest.raises(PreconditionFailed):
        await update_product(uow=uow, clock=FixedClock(NOW), product_id=p.id, fields={"price": 80},
                             expected_version=1)
    with pytest.raises(InvalidInput):
        await update_product(uow=uow, clock=FixedClock(NOW), product_id=p.id, fields={"sku": "X"})


async def test_upsert_creates_updates_and_reports_per_item():
    uow = CommerceUnitOfWork()
    p = await create(uow, price=100, stock_quantity=0)
    report = await upsert_products(uow=uow, clock=FixedClock(NOW), default_currency="JPY", items=[
        (0, {"sku": "TEA-1", "stock_quantity": 5}), (1, {"sku": "NEW", "name": "new"}),
        (2, {"sku": "NEW", "name": "dup"}), (3, {"sku": "NONAME"}), (4, {"sku": "BAD", "price": -1}),
        (5, {"name": "no sku"})])
    assert [i for i, _ in report.updated] == [0] and [i for i, _ in report.created] == [1]
    assert [e.index for e in report.errors] == [2, 3, 4, 5]
    assert uow.data.products[p.id].stock_quantity == 5 and uow.data.products[p.id].price == 100
    again = await upsert_products(uow=uow, clock=FixedClock(NOW), default_currency="JPY",
                                  items=[(0, {"sku": "TEA-1", "stock_quantity": 5})])
    assert [i for i, _ in again.unchanged] == [0] and report.accepted == 2


async def test_list_filters_normalise_their_input():
    uow = CommerceUnitOfWork()
    p = await create(uow, category_path=["食品", "オチャ"])
    page = await list_products(uow=uow, filters=ProductFilter(sku="ＴＥＡ－１", category="ｵﾁｬ"),
                               page=PageRequest())
    assert [x.id for x in page.items] == [p.id]
