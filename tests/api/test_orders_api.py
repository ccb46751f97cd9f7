"""Orders through HTTP with two tenants: recording, checks, customers, refunds, batches, events."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text

from api.app import create_app
from domain.orders.events import OrderPlaced, OrderRefunded
from tests.conftest import bearer, get_token

ORDERED_AT = "2026-01-15T10:00:00+09:00"


def _number() -> str:
    return "EC-" + secrets.token_hex(5)


def _ext() -> str:
    return "cust-" + secrets.token_hex(5)


def _order(*, lines: list[dict[str, Any]] | None = None, discount: int = 0, shipping: int = 0,
           **fields: Any) -> dict[str, Any]:
    lines = lines or [{"sku": "TEA-1", "quantity": 2, "unit_price": 1200, "unit_cost": 400}]
    subtotal = sum(x["quantity"] * x["unit_price"] for x in lines)
    return {"order_number": _number(), "customer": {"external_id": _ext()}, "ordered_at": ORDERED_AT,
            "channel": "ec", "lines": lines, "discount_total": discount, "shipping_total": shipping,
            "total": subtotal - discount + shipping, **fields}


async def _place(api, tenant, **fields) -> dict[str, Any]:
    r = await api.post("/v1/orders", json=_order(**fields), headers=tenant.auth)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _counts(engine, tenant) -> dict[str, int]:
    """Rows in every table an order can touch: what 'nothing half-written' compares."""
    async with engine.connect() as conn:
        return {table: int((await conn.execute(text(f'SELECT count(*) FROM "t_{tenant.slug}".{table}'))).scalar())
                for table in ("orders", "order_lines", "refunds", "customers", "customer_identities")}


@pytest.fixture
def published(app) -> Any:
    """Domain events delivered after commit, as (tenant id, event)."""
    seen: list[tuple[Any, Any]] = []

    def handler(tenant_id, e):
        seen.append((tenant_id, e))

    for name in (OrderPlaced.name, OrderRefunded.name):
        app.state.bus.subscribe(name, handler)
    yield seen
    for name in (OrderPlaced.name, OrderRefunded.name):
        app.state.bus.subscribers[name].remove(handler)


@pytest.fixture(scope="module")
async def big(settings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The same API and database with a body limit that fits 1,000 orders (the suite's settings
    keep 64 KiB to test the 413 path)."""
    application = create_app(settings.model_copy(update={"max_body_bytes": 4 * 1024 * 1024}),
                             database_url=settings.database_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://kizuna.test") as client:
            yield client, application


# -- recording one order ----------------------------------------------------------------------------


async def test_create_resolves_the_customer_snapshots_costs_and_reports_profit(api, tenant_a, tenant_b, published):
    cup = "CUP-" + secrets.token_hex(3)
    r = await api.post("/v1/products", json={"sku": cup, "name": "湯呑", "cost": 300}, headers=tenant_a.auth)
    assert r.status_code == 201
    email = f"{_ext()}@example.jp"
    lines = [{"sku": "TEA-1", "quantity": 2, "unit_price": 1200, "unit_cost": 400},
             {"sku": cup, "quantity": 1, "unit_price": 800},
             {"sku": "MYSTERY", "quantity": 3, "unit_price": 100}]
    r = await api.post("/v1/orders", headers=tenant_a.auth, json=_order(
        lines=lines, discount=200, shipping=500, customer={"email": email.upper()}, store_id="shibuya-01",
        channel="store", currency="JPY"))
    assert r.status_code == 201, r.text
    order = r.json()
    assert r.headers["location"] == f"/v1/orders/{order['id']}" and r.headers["etag"] == '"v1"'
    assert (order["subtotal"], order["total"], order["revenue"]) == (3500, 3800, 3500)
    assert [x["unit_cost"] for x in order["lines"]] == [400, 300, None]  # the catalogue's cost, or unknown
    assert [x["line_no"] for x in order["lines"]] == [1, 2, 3]
    assert (order["cost_total"], order["cost_complete"]) == (1100, False)
    assert order["gross_profit"] == 3500 - 1100 - 200 == order["net_gross_profit"]
    assert (order["status"], order["refunded_total"], order["refunds"]) == ("placed", 0, [])
    # an identity nobody held created the customer, and names it next time
    found = (await api.get("/v1/customers", params={"email": email}, headers=tenant_a.auth)).json()["data"]
    assert [c["id"] for c in found] == [order["customer_id"]]
    again = await _place(api, tenant_a, customer={"email": email})
    assert again["customer_id"] == order["customer_id"]
    by_id = await _place(api, tenant_a, customer={"id": order["customer_id"]})
    assert by_id["customer_id"] == order["customer_id"]

    got = await api.get(f"/v1/orders/{order['id']}", headers=tenant_a.auth)
    assert got.status_code == 200 and got.json() == order and got.headers["etag"] == '"v1"'
    assert (await api.get(f"/v1/orders/{order['id']}", headers=tenant_b.auth)).status_code == 404

    placed = [(tid, e) for tid, e in published if isinstance(e, OrderPlaced) and str(e.order_id) == order["id"]]
    assert len(placed) == 1
    tid, e = placed[0]
    assert str(tid) == tenant_a.id and str(e.customer_id) == order["customer_id"]
    assert (e.total, e.currency, e.order_number, e.channel) == (3800, "JPY", order["order_number"], "store")
    assert e.ordered_at.isoformat() == "2026-01-15T01:00:00+00:00"


async def test_totals_that_disagree_are_422_naming_the_fields_and_nothing_is_written(api, tenant_a, engine):
    before = await _counts(engine, tenant_a)
    body = _order(discount=100, shipping=500)  # lines 2400 - 100 + 500 = 2800
    body["total"] = 2900
    r = await api.post("/v1/orders", json=body, headers=tenant_a.auth)
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "total", "message": (
        "total 2900 does not equal the lines (2400) - discount_total (100) + shipping_total (500) = 2800")}]
    assert await _counts(engine, tenant_a) == before  # not even the new customer


BAD_ORDERS: list[tuple[str, dict[str, Any], str]] = [
    ("negative quantity", {"lines": [{"sku": "A", "quantity": -1, "unit_price": 100}], "total": -100},
     "lines.0.quantity"),
    ("zero quantity", {"lines": [{"sku": "A", "quantity": 0, "unit_price": 100}], "total": 0}, "lines.0.quantity"),
    ("negative price", {"lines": [{"sku": "A", "quantity": 1, "unit_price": -5}], "total": 0}, "lines.0.unit_price"),
    ("fractional price", {"lines": [{"sku": "A", "quantity": 1, "unit_price": 10.5}], "total": 10},
     "lines.0.unit_price"),
    ("no lines", {"lines": [], "total": 0}, "lines"),
    ("impossible date", {"ordered_at": "2026-02-30T10:00:00+09:00"}, "ordered_at"),
    ("impossible time", {"ordered_at": "2026-01-15T25:00:00+09:00"}, "ordered_at"),
    ("future date", {"ordered_at": "2999-01-01T00:00:00Z"}, "ordered_at"),
    ("no offset", {"ordered_at": "2026-01-15T10:00:00"}, "ordered_at"),
    ("another currency", {"currency": "USD"}, "currency"),
    ("not a currency", {"currency": "ABC"}, "currency"),
    ("unknown channel", {"channel": "fax"}, "channel"),
    ("unknown status", {"status": "shipped"}, "status"),
    ("negative discount", {"discount_total": -1}, "discount_total"),
    ("partial refund without amount", {"status": "partially_refunded"}, "refunded_total"),
    ("no customer", {"customer": {}}, "customer"),
    ("two identities", {"customer": {"email": "a@example.jp", "external_id": "x"}}, "customer"),
    ("bad email", {"customer": {"email": "not-an-email"}}, "customer.email"),
    ("bad phone", {"customer": {"phone": "12"}}, "customer.phone"),
    ("bad id", {"customer": {"id": "not-a-uuid"}}, "customer.id"),
    ("unknown identity type", {"customer": {"device_id": "x"}}, "customer.device_id"),
    ("empty order number", {"order_number": ""}, "order_number"),
    ("unknown field", {"coupon": "X"}, "coupon"),
]


async def test_bad_input_is_422_naming_the_field_and_nothing_is_written(api, tenant_a, engine):
    before = await _counts(engine, tenant_a)
    for name, change, field in BAD_ORDERS:
        body = _order() | change
        r = await api.post("/v1/orders", json=body, headers=tenant_a.auth)
        assert r.status_code == 422, (name, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in r.json()["errors"]}, (name, r.json())
    assert await _counts(engine, tenant_a) == before


async def test_customer_ids_that_name_nobody_here_are_404(api, tenant_a, tenant_b, engine):
    theirs = (await api.post("/v1/customers", json={"external_id": _ext()}, headers=tenant_b.auth)).json()
    before = await _counts(engine, tenant_a)
    for customer_id in (theirs["id"], "01a20553-05dd-78c4-8556-276ef9575cbf"):
        r = await api.post("/v1/orders", json=_order(customer={"id": customer_id}), headers=tenant_a.auth)
        assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert await _counts(engine, tenant_a) == before


async def test_duplicate_order_numbers_are_409_per_tenant(api, tenant_a, tenant_b, engine):
    first = await _place(api, tenant_a)
    before = await _counts(engine, tenant_a)
    again = _order(order_number=first["order_number"])
    r = await api.post("/v1/orders", json=again, headers=tenant_a.auth)
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["order_id"]) == ("duplicate_order_number", first["id"])
    assert await _counts(engine, tenant_a) == before
    assert (await api.post("/v1/orders", json=again, headers=tenant_b.auth)).status_code == 201


async def test_idempotency_key_replays_the_first_response(api, tenant_a, engine):
    body, key = _order(), {"Idempotency-Key": secrets.token_hex(8)}
    first = await api.post("/v1/orders", json=body, headers=tenant_a.auth | key)
    before = await _counts(engine, tenant_a)
    again = await api.post("/v1/orders", json=body, headers=tenant_a.auth | key)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await api.post("/v1/orders", json=_order(), headers=tenant_a.auth | key)
    assert other.status_code == 422
    assert await _counts(engine, tenant_a) == before


async def test_scopes(api, tenant_a):
    reader = bearer(await get_token(api, tenant_a.client_id, tenant_a.client_secret, "orders:read"))
    assert (await api.post("/v1/orders", json=_order(), headers=reader)).status_code == 403
    assert (await api.get("/v1/orders", headers=reader)).status_code == 200
    products_only = bearer(await get_token(api, tenant_a.client_id, tenant_a.client_secret, "products:write"))
    assert (await api.get("/v1/orders", headers=products_only)).status_code == 403


async def test_historical_imports_may_arrive_refunded(api, tenant_a):
    done = await _place(api, tenant_a, status="refunded")
    assert (done["status"], done["refunded_total"]) == ("refunded", done["total"])
    part = await _place(api, tenant_a, status="partially_refunded", refunded_total=400)
    assert (part["status"], part["refunded_total"]) == ("partially_refunded", 400)
    cancelled = await _place(api, tenant_a, status="cancelled")
    r = await api.post(f"/v1/orders/{cancelled['id']}/refunds", json={"amount": 1}, headers=tenant_a.auth)
    assert r.status_code == 409 and r.json()["code"] == "order_cancelled"
    wrong = await api.post("/v1/orders", json=_order(refunded_total=5), headers=tenant_a.auth)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "refunded_total"


# -- listing ----------------------------------------------------------------------------------------


async def test_list_filters_and_pagination(api, tenant_a, tenant_b):
    ext = _ext()
    mine = [await _place(api, tenant_a, customer={"external_id": ext}, ordered_at=f"2026-03-0{d}T12:00:00+09:00",
                         channel="ec" if d % 2 else "store") for d in range(1, 6)]
    await _place(api, tenant_a)  # someone else's
    await _place(api, tenant_b, customer={"external_id": ext})  # the same external id in another tenant
    customer_id = mine[0]["customer_id"]

    async def ids(**params):
        r = await api.get("/v1/orders", params=params, headers=tenant_a.auth)
        assert r.status_code == 200, r.text
        return [o["id"] for o in r.json()["data"]]

    seen, cursor = [], None
    while True:
        params = {"customer_id": customer_id, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/v1/orders", params=params, headers=tenant_a.auth)).json()
        seen += [o["id"] for o in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [o["id"] for o in mine]
    assert await ids(customer_id=customer_id, channel="store") == [mine[1]["id"], mine[3]["id"]]
    assert await ids(customer_id=customer_id, ordered_after="2026-03-02T12:00:00+09:00",
                     ordered_before="2026-03-04T12:00:00+09:00") == [mine[1]["id"], mine[2]["id"]]
    assert await ids(customer_id=customer_id, status="refunded") == []
    assert await ids(order_number=mine[4]["order_number"]) == [mine[4]["id"]]
    naive = await api.get("/v1/orders", params={"ordered_after": "2026-03-02T12:00:00"}, headers=tenant_a.auth)
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "ordered_after"
    assert (await api.get("/v1/orders", params={"channel": "fax"}, headers=tenant_a.auth)).status_code == 422


# -- refunds ----------------------------------------------------------------------------------------

REFUND_LINES = [{"sku": "A", "quantity": 2, "unit_price": 1000, "unit_cost": 400},
                {"sku": "B", "quantity": 1, "unit_price": 500, "unit_cost": 200}]


async def test_refunds_arithmetic_from_partial_to_full(api, tenant_a, tenant_b, engine, published):
    order = await _place(api, tenant_a, lines=REFUND_LINES, discount=300, shipping=600)
    assert (order["total"], order["gross_profit"]) == (2800, 2500 - 1000 - 300)
    url = f"/v1/orders/{order['id']}/refunds"

    # one unit of A returned, no amount: its value less its share of the discount (300 x 1000/2500)
    r = await api.post(url, json={"lines": [{"sku": "A", "quantity": 1}], "reason": "破損"}, headers=tenant_a.auth)
    assert r.status_code == 201, r.text
    assert r.json()["refund"]["amount"] == 880 and r.json()["refund"]["lines"] == [
        {"line_no": 1, "sku": "A", "quantity": 1}]
    assert (r.json()["order"]["status"], r.json()["order"]["refunded_total"]) == ("partially_refunded", 880)
    # money only: the shipping
    r = await api.post(url, json={"amount": 600}, headers=tenant_a.auth)
    assert r.json()["order"]["refunded_total"] == 1480

    before = await _counts(engine, tenant_a)
    too_much = await api.post(url, json={"amount": 1321}, headers=tenant_a.auth)
    assert too_much.status_code == 409
    assert (too_much.json()["code"], too_much.json()["remaining"]) == ("refund_exceeds_remaining", 1320)
    too_many = await api.post(url, json={"lines": [{"line_no": 1, "quantity": 2}]}, headers=tenant_a.auth)
    assert too_many.status_code == 409 and too_many.json()["remaining_quantity"] == 1
    assert await _counts(engine, tenant_a) == before

    # everything else back: exactly what remains, and the order is refunded
    r = await api.post(url, json={"lines": [{"line_no": 1, "quantity": 1}, {"sku": "B", "quantity": 1}]},
                       headers=tenant_a.auth)
    assert r.status_code == 201 and r.json()["refund"]["amount"] == 1320
    final = r.json()["order"]
    assert (final["status"], final["refunded_total"], final["net_gross_profit"]) == ("refunded", 2800, 0)
    assert [x["refunded_quantity"] for x in final["lines"]] == [2, 1]
    assert (await api.post(url, json={"amount": 1}, headers=tenant_a.auth)).status_code == 409

    got = (await api.get(f"/v1/orders/{order['id']}", headers=tenant_a.auth))
    assert got.headers["etag"] == '"v4"'
    assert [x["amount"] for x in got.json()["refunds"]] == [880, 600, 1320]
    assert sum(x["amount"] for x in got.json()["refunds"]) == got.json()["refunded_total"]
    assert (await api.post(url, json={"amount": 1}, headers=tenant_b.auth)).status_code == 404

    refunded = [e for _, e in published if isinstance(e, OrderRefunded) and str(e.order_id) == order["id"]]
    assert [(e.amount, e.refunded_total, e.status) for e in refunded] == [
        (880, 880, "partially_refunded"), (600, 1480, "partially_refunded"), (1320, 2800, "refunded")]


async def test_refund_bad_input(api, tenant_a, engine):
    order = await _place(api, tenant_a, lines=[*REFUND_LINES, {"sku": "A", "quantity": 1, "unit_price": 900}])
    url = f"/v1/orders/{order['id']}/refunds"
    before = await _counts(engine, tenant_a)
    cases = [({}, "amount"), ({"amount": 0}, "amount"), ({"amount": -5}, "amount"),
             ({"lines": [{"line_no": 9, "quantity": 1}]}, "lines.0.line_no"),
             ({"lines": [{"sku": "A", "quantity": 1}]}, "lines.0.sku"),  # on two lines
             ({"lines": [{"sku": "Z", "quantity": 1}]}, "lines.0.sku"),
             ({"lines": [{"line_no": 2, "quantity": 0}]}, "lines.0.quantity"),
             ({"lines": [{"line_no": 2, "sku": "B", "quantity": 1}]}, "lines.0"),
             ({"lines": [{"line_no": 2, "quantity": 1}, {"sku": "B", "quantity": 1}]}, "lines.1"),
             ({"amount": 1, "refunded_at": "2999-01-01T00:00:00Z"}, "refunded_at"),
             ({"amount": 1, "refunded_at": "2020-01-01T00:00:00Z"}, "refunded_at")]
    for body, field in cases:
        r = await api.post(url, json=body, headers=tenant_a.auth)
        assert r.status_code == 422, (body, r.text)
        assert field in {e["field"] for e in r.json()["errors"]}, (body, r.json())
    assert await _counts(engine, tenant_a) == before
    missing = await api.post(f"/v1/orders/{order['customer_id']}/refunds", json={"amount": 1}, headers=tenant_a.auth)
    assert missing.status_code == 404


async def test_refund_with_idempotency_key_refunds_once(api, tenant_a):
    order = await _place(api, tenant_a, lines=REFUND_LINES)
    url, key = f"/v1/orders/{order['id']}/refunds", {"Idempotency-Key": secrets.token_hex(8)}
    first = await api.post(url, json={"amount": 100}, headers=tenant_a.auth | key)
    again = await api.post(url, json={"amount": 100}, headers=tenant_a.auth | key)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert (await api.get(f"/v1/orders/{order['id']}", headers=tenant_a.auth)).json()["refunded_total"] == 100


async def test_concurrent_refunds_never_exceed_the_total(api, tenant_a):
    order = await _place(api, tenant_a, lines=REFUND_LINES)  # total 2500
    url = f"/v1/orders/{order['id']}/refunds"
    results = await asyncio.gather(*(api.post(url, json={"amount": 1000}, headers=tenant_a.auth)
                                     for _ in range(3)))
    assert sorted(r.status_code for r in results) == [201, 201, 409]
    final = (await api.get(f"/v1/orders/{order['id']}", headers=tenant_a.auth)).json()
    assert final["refunded_total"] == 2000 == sum(x["amount"] for x in final["refunds"])


# -- batches ----------------------------------------------------------------------------------------


async def test_batch_stores_valid_items_and_reports_the_others(api, tenant_a, tenant_b, engine, published):
    recorded = await _place(api, tenant_a)
    theirs = (await api.post("/v1/customers", json={"external_id": _ext()}, headers=tenant_b.auth)).json()
    ext = _ext()
    good = [_order(customer={"external_id": ext}) for _ in range(3)]
    bad_total = _order() | {"total": 1}
    negative = _order() | {"lines": [{"sku": "A", "quantity": -2, "unit_price": 100}], "total": -200}
    repeated = _order(order_number=good[0]["order_number"])
    old = _order(order_number=recorded["order_number"])
    stranger = _order(customer={"id": theirs["id"]})
    items = [good[0], bad_total, good[1], negative, repeated, old, "nope", stranger, good[2]]
    before = await _counts(engine, tenant_a)
    r = await api.post("/v1/orders/batch", json={"orders": items}, headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (3, 6)
    errors = {e["index"]: e for e in body["errors"]}
    assert sorted(errors) == [1, 3, 4, 5, 6, 7]
    assert errors[1]["code"] == "invalid_input" and errors[1]["errors"][0]["field"] == "total"
    assert errors[3]["errors"][0]["field"] == "lines.0.quantity"
    assert errors[4]["code"] == "duplicate_order_number" and "index 0" in errors[4]["detail"]
    assert (errors[5]["code"], errors[5]["order_id"]) == ("duplicate_order_number", recorded["id"])
    assert errors[6]["code"] == "invalid_input"
    assert errors[7]["code"] == "not_found"
    after = await _counts(engine, tenant_a)
    assert after["orders"] - before["orders"] == 3 and after["order_lines"] - before["order_lines"] == 3
    assert after["customers"] - before["customers"] == 1  # the three good orders share one new customer
    stored = (await api.get("/v1/orders", params={"order_number": good[1]["order_number"]},
                            headers=tenant_a.auth)).json()["data"]
    assert stored[0]["total"] == good[1]["total"] and stored[0]["lines"][0]["unit_cost"] == 400
    placed = {e.order_number for _, e in published if isinstance(e, OrderPlaced)}
    assert {o["order_number"] for o in good} <= placed

    # the same batch again stores nothing twice and says which orders hold the numbers
    published.clear()
    again = (await api.post("/v1/orders/batch", json={"orders": items}, headers=tenant_a.auth)).json()
    assert again["accepted"] == 0 and again["rejected"] == 9
    dupes = {e["index"]: e["order_id"] for e in again["errors"] if e["code"] == "duplicate_order_number"}
    assert set(dupes) == {0, 2, 4, 5, 8}
    assert dupes[4] is None and all(dupes[i] for i in (0, 2, 5, 8))  # 4 repeats index 0 of the batch
    assert await _counts(engine, tenant_a) == after
    assert not [e for _, e in published if isinstance(e, OrderPlaced)]


async def test_batch_of_1001_orders_is_refused_whole(big, tenant_a, engine):
    client, _ = big
    before = await _counts(engine, tenant_a)
    r = await client.post("/v1/orders/batch", json={"orders": [_order() for _ in range(1001)]},
                          headers=tenant_a.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "orders"
    assert await _counts(engine, tenant_a) == before


async def test_batch_of_1000_orders_takes_a_constant_number_of_statements(big, tenant_a, engine):
    client, application = big
    customers = [{"external_id": _ext()} for _ in range(10)]
    # the customers exist already: resolving them is one look-up, whatever the batch size
    for c in customers:
        assert (await client.post("/v1/customers", json=c, headers=tenant_a.auth)).status_code == 201
    orders = [_order(customer=customers[i % 10], lines=[
        {"sku": f"S{i % 7}", "quantity": 1 + i % 3, "unit_price": 100 + i},
        {"sku": "GIFT", "quantity": 1, "unit_price": 0}]) for i in range(1000)]
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sync_engine = application.state.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        r = await client.post("/v1/orders/batch", json={"orders": orders}, headers=tenant_a.auth)
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 1000, "rejected": 0, "errors": []}
    tenant_statements = [s for s in statements if "t_" + tenant_a.slug in s]
    assert len(tenant_statements) <= 8, tenant_statements
    counts = await _counts(engine, tenant_a)
    assert (counts["orders"], counts["order_lines"]) == (1000, 2000)
