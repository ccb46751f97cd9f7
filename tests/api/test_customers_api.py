"""Customers through HTTP with two tenants: profiles, Japanese input, identities, consents, merge."""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy import text


def _ext() -> str:
    return "ext-" + secrets.token_hex(4)


async def _create(api, tenant, **fields):
    r = await api.post("/v1/customers", json=fields, headers=tenant.auth)
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_normalises_japanese_input(api, tenant_a):
    body = await _create(api, tenant_a, external_id="ＳＨＯＰ－０１", email="Hanako.Yamada@Example.JP",
                         phone="０９０－１２３４－５６７８", family_name="山田", given_name="花子",
                         family_name_kana="ﾔﾏﾀﾞ", given_name_kana="はなこ", birth_date="1990-04-01",
                         address={"postal_code": "〒１００ー０００１", "prefecture": "東京", "city": "千代田区"},
                         tags=["ＶＩＰ", "vip", "newsletter"], acquisition={"channel": "instagram_ad",
                                                                           "stage": "pre_purchase"})
    assert body["external_id"] == "SHOP-01"
    assert body["email"] == "hanako.yamada@example.jp"
    assert body["phone"] == "+819012345678"
    assert body["family_name_kana"] == "ヤマダ" and body["given_name_kana"] == "はなこ"
    assert body["address"] == {"postal_code": "100-0001", "prefecture": "13", "prefecture_name": "東京都",
                               "city": "千代田区", "line1": None, "line2": None}
    assert body["tags"] == ["VIP", "newsletter", "vip"]
    got = await api.get(f"/v1/customers/{body['id']}", headers=tenant_a.auth)
    assert got.json() == body and got.headers["etag"] == '"v1"'


async def test_invalid_fields_are_all_reported_and_nothing_is_written(api, tenant_a, engine):
    r = await api.post("/v1/customers", headers=tenant_a.auth, json={
        "email": "not-an-email", "phone": "12", "birth_date": "2999-01-01", "family_name_kana": "山田",
        "address": {"postal_code": "12-34", "prefecture": "Atlantis"}})
    assert r.status_code == 422
    fields = sorted(e["field"] for e in r.json()["errors"])
    assert fields == ["address.postal_code", "address.prefecture", "birth_date", "email",
                      "family_name_kana", "phone"]
    impossible = await api.post("/v1/customers", headers=tenant_a.auth, json={"birth_date": "2001-02-30"})
    assert impossible.status_code == 422 and impossible.json()["errors"][0]["field"] == "birth_date"
    async with engine.connect() as conn:
        count = (await conn.execute(text(f'SELECT count(*) FROM "t_{tenant_a.slug}".customers'))).scalar()
    assert count == 0


async def test_identities_are_unique_per_tenant_not_across_tenants(api, tenant_a, tenant_b):
    first = await _create(api, tenant_a, email="same@example.jp")
    clash = await api.post("/v1/customers", json={"email": "SAME@example.jp"}, headers=tenant_a.auth)
    assert clash.status_code == 409 and clash.json()["customer_id"] == first["id"]
    other_tenant = await api.post("/v1/customers", json={"email": "same@example.jp"}, headers=tenant_b.auth)
    assert other_tenant.status_code == 201


async def test_cross_tenant_ids_are_404_everywhere(api, tenant_a, tenant_b):
    a = await _create(api, tenant_a, email="a@example.jp")
    b = await _create(api, tenant_b, email="b@example.jp")
    cid = a["id"]
    calls = [
        api.get(f"/v1/customers/{cid}", headers=tenant_b.auth),
        api.patch(f"/v1/customers/{cid}", json={"given_name": "x"}, headers=tenant_b.auth),
        api.get(f"/v1/customers/{cid}/identities", headers=tenant_b.auth),
        api.post(f"/v1/customers/{cid}/identities", json={"type": "device_id", "value": "d"}, headers=tenant_b.auth),
        api.get(f"/v1/customers/{cid}/consents", headers=tenant_b.auth),
        api.put(f"/v1/customers/{cid}/consents/email", json={"status": "granted"}, headers=tenant_b.auth),
        api.post(f"/v1/customers/{b['id']}/merge", json={"source_customer_id": cid}, headers=tenant_b.auth),
        api.post(f"/v1/customers/{cid}/merge", json={"source_customer_id": b["id"]}, headers=tenant_b.auth),
    ]
    for response in await asyncio.gather(*calls):
        assert response.status_code == 404, (response.request.url, response.text)
    assert (await api.get(f"/v1/customers/{cid}", headers=tenant_a.auth)).json()["given_name"] is None


async def test_list_filters_and_kana_search(api, tenant_a):
    await _create(api, tenant_a, family_name="佐藤", family_name_kana="サトウ", tags=["vip"],
                  phone="03-1234-5678")
    await _create(api, tenant_a, family_name="鈴木", family_name_kana="スズキ")
    by_kana = (await api.get("/v1/customers", params={"q": "ｻﾄｳ"}, headers=tenant_a.auth)).json()["data"]
    assert [c["family_name"] for c in by_kana] == ["佐藤"]
    by_name = (await api.get("/v1/customers", params={"q": "鈴"}, headers=tenant_a.auth)).json()["data"]
    assert [c["family_name"] for c in by_name] == ["鈴木"]
    by_tag = (await api.get("/v1/customers", params={"tag": "vip"}, headers=tenant_a.auth)).json()["data"]
    assert [c["family_name"] for c in by_tag] == ["佐藤"]
    by_phone = (await api.get("/v1/customers", params={"phone": "０３１２３４５６７８"},
                              headers=tenant_a.auth)).json()["data"]
    assert [c["family_name"] for c in by_phone] == ["佐藤"]
    like_chars = (await api.get("/v1/customers", params={"q": "%"}, headers=tenant_a.auth)).json()["data"]
    assert like_chars == []


async def test_patch_with_if_match_merges_attributes_and_moves_identities(api, tenant_a):
    c = await _create(api, tenant_a, email="old@example.jp", attributes={"a": 1, "b": 2})
    url = f"/v1/customers/{c['id']}"
    r = await api.patch(url, json={"email": "new@example.jp", "attributes": {"b": None, "c": 3}},
                        headers=tenant_a.auth | {"If-Match": '"v1"'})
    assert r.status_code == 200, r.text
    assert r.json()["attributes"] == {"a": 1, "c": 3} and r.headers["etag"] == '"v2"'
    stale = await api.patch(url, json={"given_name": "x"}, headers=tenant_a.auth | {"If-Match": '"v1"'})
    assert stale.status_code == 412
    # the old email is free again; the new one is taken
    assert (await api.post("/v1/customers", json={"email": "old@example.jp"}, headers=tenant_a.auth)).status_code == 201
    assert (await api.post("/v1/customers", json={"email": "new@example.jp"}, headers=tenant_a.auth)).status_code == 409


async def test_upsert_by_external_id(api, tenant_a):
    ext = _ext()
    created = await api.put(f"/v1/customers/by-external-id/{ext}", json={"given_name": "太郎"}, headers=tenant_a.auth)
    assert created.status_code == 201 and created.json()["external_id"] == ext
    updated = await api.put(f"/v1/customers/by-external-id/{ext}", json={"family_name": "田中"}, headers=tenant_a.auth)
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert (updated.json()["given_name"], updated.json()["family_name"]) == ("太郎", "田中")


async def test_attribute_definitions_type_values(api, tenant_a):
    name = "rank_" + secrets.token_hex(2)
    r = await api.put(f"/v1/customer-attributes/{name}", json={"type": "enum", "enum_values": ["gold", "silver"]},
                      headers=tenant_a.auth)
    assert r.status_code == 200
    bad = await api.post("/v1/customers", json={"attributes": {name: "bronze"}}, headers=tenant_a.auth)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == f"attributes.{name}"
    ok = await api.post("/v1/customers", json={"attributes": {name: "gold", "free_form": [1, 2]}},
                        headers=tenant_a.auth)
    assert ok.status_code == 201
    bad_def = await api.put("/v1/customer-attributes/Bad-Name", json={"type": "string"}, headers=tenant_a.auth)
    assert bad_def.status_code == 422
    assert (await api.delete(f"/v1/customer-attributes/{name}", headers=tenant_a.auth)).status_code == 204


async def test_consents_keep_history_and_the_latest_decision_wins(api, tenant_a):
    c = await _create(api, tenant_a)
    url = f"/v1/customers/{c['id']}/consents"
    granted = await api.put(f"{url}/email", json={"status": "granted", "source": "signup",
                                                  "occurred_at": "2026-01-02T00:00:00+09:00"}, headers=tenant_a.auth)
    assert granted.status_code == 200
    late_older = await api.put(f"{url}/email", json={"status": "denied", "source": "old-import",
                                                     "occurred_at": "2025-01-01T00:00:00+09:00"}, headers=tenant_a.auth)
    assert late_older.json()["status"] == "granted"  # an older decision arriving late changes nothing
    await api.put(f"{url}/line", json={"status": "denied"}, headers=tenant_a.auth)
    current = {x["channel"]: x["status"] for x in (await api.get(url, headers=tenant_a.auth)).json()["data"]}
    assert current == {"email": "granted", "line": "denied"}
    unknown = await api.put(f"{url}/fax", json={"status": "granted"}, headers=tenant_a.auth)
    assert unknown.status_code == 422
    future = await api.put(f"{url}/sms", json={"status": "granted", "occurred_at": "2999-01-01T00:00:00Z"},
                           headers=tenant_a.auth)
    assert future.status_code == 422


async def test_merge_moves_identities_consents_and_resolves_the_source(api, tenant_a):
    target = await _create(api, tenant_a, email="t@example.jp", attributes={"color": "red"}, tags=["a"])
    source = await _create(api, tenant_a, phone="090-8765-4321", given_name="花子",
                           attributes={"color": "blue", "size": "M"}, tags=["b"])
    await api.put(f"/v1/customers/{target['id']}/consents/email",
                  json={"status": "denied", "occurred_at": "2026-01-01T00:00:00Z"}, headers=tenant_a.auth)
    await api.put(f"/v1/customers/{source['id']}/consents/email",
                  json={"status": "granted", "occurred_at": "2026-02-01T00:00:00Z"}, headers=tenant_a.auth)
    r = await api.post(f"/v1/customers/{target['id']}/merge", json={"source_customer_id": source["id"]},
                       headers=tenant_a.auth)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["consents"] == {"email": "source"}
    assert report["attribute_conflicts"] == {"color": {"kept": "red", "dropped": "blue"}}
    merged = report["target"]
    assert merged["phone"] == "+819087654321" and merged["given_name"] == "花子"
    assert merged["attributes"] == {"color": "red", "size": "M"} and merged["tags"] == ["a", "b"]
    via_source = await api.get(f"/v1/customers/{source['id']}", headers=tenant_a.auth)
    assert via_source.status_code == 200 and via_source.json()["id"] == target["id"]
    assert via_source.headers["content-location"] == f"/v1/customers/{target['id']}"
    consents = (await api.get(f"/v1/customers/{target['id']}/consents", headers=tenant_a.auth)).json()["data"]
    assert [(x["channel"], x["status"]) for x in consents] == [("email", "granted")]
    again = await api.post(f"/v1/customers/{target['id']}/merge", json={"source_customer_id": source["id"]},
                           headers=tenant_a.auth)
    assert again.status_code == 200 and again.json()["already_merged"] is True
    self_merge = await api.post(f"/v1/customers/{target['id']}/merge", json={"source_customer_id": target["id"]},
                                headers=tenant_a.auth)
    assert self_merge.status_code == 422
    ids = {i["type"]: i["value"] for i in
           (await api.get(f"/v1/customers/{target['id']}/identities", headers=tenant_a.auth)).json()["data"]}
    assert ids == {"email": "t@example.jp", "phone": "+819087654321"}


async def test_concurrent_crosswise_merges_do_not_deadlock_or_lose_data(api, tenant_a):
    a = await _create(api, tenant_a, email=f"{_ext()}@example.jp")
    b = await _create(api, tenant_a, email=f"{_ext()}@example.jp")
    r1, r2 = await asyncio.gather(
        api.post(f"/v1/customers/{a['id']}/merge", json={"source_customer_id": b["id"]}, headers=tenant_a.auth),
        api.post(f"/v1/customers/{b['id']}/merge", json={"source_customer_id": a["id"]}, headers=tenant_a.auth))
    statuses = sorted([r1.status_code, r2.status_code])
    assert statuses in ([200, 404], [200, 409]), (r1.text, r2.text)
    winner = (r1 if r1.status_code == 200 else r2).json()["target"]
    ids = (await api.get(f"/v1/customers/{winner['id']}/identities", headers=tenant_a.auth)).json()["data"]
    assert len(ids) == 2


async def test_identities_endpoint(api, tenant_a, tenant_b):
    c = await _create(api, tenant_a)
    url = f"/v1/customers/{c['id']}/identities"
    added = await api.post(url, json={"type": "custom:pos_member", "value": "Ｐ００１"}, headers=tenant_a.auth)
    assert added.status_code == 201 and added.json()["value"] == "P001"
    bad_type = await api.post(url, json={"type": "passport", "value": "x"}, headers=tenant_a.auth)
    assert bad_type.status_code == 422
    gone = await api.delete(f"{url}/custom:pos_member/P001", headers=tenant_a.auth)
    assert gone.status_code == 204
    assert (await api.get(url, headers=tenant_a.auth)).json()["data"] == []


async def test_list_filters_with_control_characters_are_422_not_500(api, tenant_a):
    for params in ({"tag": "a\x00b"}, {"q": "x\x00"}, {"external_id": "\x00"}):
        r = await api.get("/v1/customers", params=params, headers=tenant_a.auth)
        assert r.status_code == 422, (params, r.text)
