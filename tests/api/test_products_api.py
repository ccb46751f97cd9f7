"""Products through HTTP with two tenants: catalogue fields, ETag/If-Match, filters, bulk upsert."""

from __future__ import annotations

import secrets

from sqlalchemy import text

from tests.conftest import bearer, get_token


def _sku() -> str:
    return "SKU-" + secrets.token_hex(4).upper()


async def _create(api, tenant, **fields):
    body = {"sku": _sku(), "name": "有機ほうじ茶 100g", **fields}
    r = await api.post("/v1/products", json=body, headers=tenant.auth)
    assert r.status_code == 201, r.text
    return r.json()


async def _count(engine, tenant) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f'SELECT count(*) FROM "t_{tenant.slug}".products'))).scalar())


async def test_create_defaults_normalises_and_reads_back_with_etag(api, tenant_a, tenant_b):
    r = await api.post("/v1/products", headers=tenant_a.auth, json={
        "sku": "ＴＥＡ－０１", "name": " ほうじ茶 ", "category_path": ["食品", "飲料", "お茶"],
        "price": 1200, "cost": 400, "stock_quantity": 30, "attributes": {"origin": "静岡"}})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["sku"], body["name"], body["currency"], body["status"]) == ("TEA-01", "ほうじ茶", "JPY", "active")
    assert r.headers["location"] == f"/v1/products/{body['id']}" and r.headers["etag"] == '"v1"'
    got = await api.get(f"/v1/products/{body['id']}", headers=tenant_a.auth)
    assert got.status_code == 200 and got.json() == body and got.headers["etag"] == '"v1"'
    # the other tenant cannot see, change or learn of it
    assert (await api.get(f"/v1/products/{body['id']}", headers=tenant_b.auth)).status_code == 404
    other = await api.patch(f"/v1/products/{body['id']}", json={"price": 1}, headers=tenant_b.auth)
    assert other.status_code == 404
    # ... and may use the same sku for its own product
    assert (await api.post("/v1/products", json={"sku": "TEA-01", "name": "x"},
                           headers=tenant_b.auth)).status_code == 201


async def test_duplicate_sku_is_409_naming_the_product(api, tenant_a, engine):
    first = await _create(api, tenant_a)
    before = await _count(engine, tenant_a)
    r = await api.post("/v1/products", json={"sku": first["sku"].lower().upper(), "name": "again"},
                       headers=tenant_a.auth)
    assert r.status_code == 409 and r.json()["code"] == "duplicate_sku"
    assert r.json()["product_id"] == first["id"]
    assert await _count(engine, tenant_a) == before


async def test_invalid_fields_are_all_reported_and_nothing_is_written(api, tenant_a, engine):
    before = await _count(engine, tenant_a)
    r = await api.post("/v1/products", headers=tenant_a.auth, json={
        "sku": "A", "name": "x", "price": -1, "stock_quantity": -5, "status": "sold", "currency": "YEN"})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"price", "stock_quantity", "status"}
    not_iso = await api.post("/v1/products", json={"sku": "A", "name": "x", "currency": "ABC",
                                                   "category_path": [""]}, headers=tenant_a.auth)
    assert not_iso.status_code == 422
    assert {e["field"] for e in not_iso.json()["errors"]} == {"currency", "category_path.0"}
    control = await api.post("/v1/products", json={"sku": "A\u0000B", "name": "x"}, headers=tenant_a.auth)
    assert control.status_code == 422
    assert await _count(engine, tenant_a) == before


async def test_patch_with_if_match(api, tenant_a):
    p = await _create(api, tenant_a, price=1000, attributes={"a": 1, "b": 2})
    url = f"/v1/products/{p['id']}"
    r = await api.patch(url, json={"price": None, "stock_quantity": 0, "attributes": {"b": None, "c": 3}},
                        headers=tenant_a.auth | {"If-Match": '"v1"'})
    assert r.status_code == 200, r.text
    assert r.json()["price"] is None and r.json()["stock_quantity"] == 0
    assert r.json()["attributes"] == {"a": 1, "c": 3} and r.headers["etag"] == '"v2"'
    stale = await api.patch(url, json={"name": "x"}, headers=tenant_a.auth | {"If-Match": '"v1"'})
    assert stale.status_code == 412
    same = await api.patch(url, json={"stock_quantity": 0}, headers=tenant_a.auth | {"If-Match": '"v2"'})
    assert same.status_code == 200 and same.headers["etag"] == '"v2"'  # nothing changed, same version
    sku = await api.patch(url, json={"sku": "OTHER"}, headers=tenant_a.auth)
    assert sku.status_code == 422  # the sku is the product's identity
    null_name = await api.patch(url, json={"name": None}, headers=tenant_a.auth)
    assert null_name.status_code == 422 and null_name.json()["errors"][0]["field"] == "name"
    assert (await api.get(url, headers=tenant_a.auth)).json()["name"] == p["name"]


async def test_list_filters_and_pagination(api, tenant_a, tenant_b):
    tag = secrets.token_hex(3)
    made = [await _create(api, tenant_a, category_path=["食品", f"茶-{tag}"]) for _ in range(5)]
    await _create(api, tenant_a, category_path=["雑貨"], status="discontinued")
    await _create(api, tenant_b, category_path=["食品", f"茶-{tag}"])
    seen, cursor = [], None
    while True:
        params = {"category": f"茶-{tag}", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/v1/products", params=params, headers=tenant_a.auth)).json()
        assert len(page["data"]) <= 2
        seen += [p["id"] for p in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [p["id"] for p in made]
    by_level = (await api.get("/v1/products", params={"category": "食品", "limit": 200},
                              headers=tenant_a.auth)).json()["data"]
    assert {p["id"] for p in made} <= {p["id"] for p in by_level}
    gone = (await api.get("/v1/products", params={"status": "discontinued"}, headers=tenant_a.auth)).json()
    assert [p["category_path"] for p in gone["data"]] == [["雑貨"]]
    by_sku = (await api.get("/v1/products", params={"sku": made[2]["sku"].lower().upper()},
                            headers=tenant_a.auth)).json()["data"]
    assert [p["id"] for p in by_sku] == [made[2]["id"]]
    bad = await api.get("/v1/products", params={"status": "sold"}, headers=tenant_a.auth)
    assert bad.status_code == 422
    bad_cursor = await api.get("/v1/products", params={"cursor": "nope"}, headers=tenant_a.auth)
    assert bad_cursor.status_code == 422


async def test_batch_upsert_by_sku_reports_each_item(api, tenant_a, tenant_b, engine):
    existing = await _create(api, tenant_a, price=1000, stock_quantity=0)
    twin = await _create(api, tenant_a, price=500)
    new_sku = _sku()
    r = await api.post("/v1/products/batch", headers=tenant_a.auth, json={"products": [
        {"sku": existing["sku"], "stock_quantity": 12},                # 0: update, only stock
        {"sku": new_sku, "name": "新商品", "price": 800},               # 1: create
        {"sku": twin["sku"], "price": 500},                             # 2: unchanged
        {"sku": _sku(), "price": 1},                                    # 3: new without a name
        {"sku": new_sku, "name": "again"},                              # 4: sku repeated in batch
        {"sku": _sku(), "name": "x", "price": -3},                      # 5: invalid field
        "not an object",                                                # 6
        {"name": "no sku"},                                             # 7
    ]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (3, 5)
    assert (body["created"], body["updated"], body["unchanged"]) == (1, 1, 1)
    errors = {e["index"]: e for e in body["errors"]}
    assert sorted(errors) == [3, 4, 5, 6, 7]
    assert errors[3]["errors"] == [{"field": "name", "message": "is required for a new sku"}]
    assert errors[4]["code"] == "duplicate_sku"
    assert errors[5]["errors"][0]["field"] == "price"
    assert errors[7]["errors"][0]["field"] == "sku"
    updated = (await api.get(f"/v1/products/{existing['id']}", headers=tenant_a.auth))
    assert updated.json()["stock_quantity"] == 12 and updated.json()["price"] == 1000
    assert updated.headers["etag"] == '"v2"'
    assert (await api.get(f"/v1/products/{twin['id']}", headers=tenant_a.auth)).headers["etag"] == '"v1"'
    created = (await api.get("/v1/products", params={"sku": new_sku}, headers=tenant_a.auth)).json()["data"]
    assert [(p["name"], p["price"], p["currency"]) for p in created] == [("新商品", 800, "JPY")]
    # the other tenant's catalogue is untouched: the same skus there are new products
    other = await api.post("/v1/products/batch", headers=tenant_b.auth,
                           json={"products": [{"sku": existing["sku"], "stock_quantity": 1}]})
    assert other.json()["rejected"] == 1 and other.json()["errors"][0]["errors"][0]["field"] == "name"


async def test_batch_over_1000_items_is_refused_whole(api, tenant_a, engine):
    before = await _count(engine, tenant_a)
    r = await api.post("/v1/products/batch", headers=tenant_a.auth,
                       json={"products": [{"sku": f"S{i}", "name": "n"} for i in range(1001)]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "products"
    assert await _count(engine, tenant_a) == before


async def test_scopes_and_idempotent_create(api, tenant_a):
    reader = bearer(await get_token(api, tenant_a.client_id, tenant_a.client_secret, "products:read"))
    denied = await api.post("/v1/products", json={"sku": _sku(), "name": "x"}, headers=reader)
    assert denied.status_code == 403 and denied.json()["code"] == "insufficient_scope"
    assert (await api.get("/v1/products", headers=reader)).status_code == 200
    key = {"Idempotency-Key": secrets.token_hex(8)}
    body = {"sku": _sku(), "name": "x"}
    first = await api.post("/v1/products", json=body, headers=tenant_a.auth | key)
    again = await api.post("/v1/products", json=body, headers=tenant_a.auth | key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
