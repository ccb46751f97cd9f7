"""Hostile and odd input through HTTP: bodies, media types, sizes, slugs, text, ids, cursors, routes
and request ids. Each is a problem+json with the right status, never a 500, and refused input
leaves nothing behind (no tenant row, no schema)."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.errors import PROBLEM_BASE
from tests.conftest import TenantHandle

MAX_BODY = 64 * 1024  # the settings fixture's max_body_bytes


@pytest.fixture(scope="module")
async def tenant(make_tenant) -> TenantHandle:
    """A tenant sent odd input by many tests (some rename it; none suspends or deletes it). Keeps
    this module from provisioning dozens of schemas."""
    return await make_tenant("bad")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
async def other(make_tenant) -> TenantHandle:
    return await make_tenant("bado")  # type: ignore[no-any-return]


def assert_problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == PROBLEM_BASE + kind
    assert body["code"] == kind.replace("-", "_")
    assert body["title"] and isinstance(body["detail"], str)
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def error_fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body["errors"]}


async def footprint(engine: Any) -> tuple[int, int, frozenset[str]]:
    """Tenant rows, tenant schemas, and every schema name: what provisioning would change."""
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT count(*) FROM control.tenants"))).scalar_one()
        schemas = frozenset((await conn.execute(text(
            "SELECT schema_name FROM information_schema.schemata"))).scalars())
    return rows, sum(1 for s in schemas if s.startswith("t_")), schemas


def slug() -> str:
    return "bi_" + secrets.token_hex(5)


# --- bodies and media types -----------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b'{"slug": "abc", "name": ', b"{'slug': 'x'}", b"not json", b'{"a":1}}',
                                 b"\xff\xfe\x00{", b'{"slug": "x", "name": "\xff"}'])
async def test_malformed_json_is_400(api, platform, engine, raw: bytes):
    before = await footprint(engine)
    response = await api.post("/v1/tenants", content=raw,
                              headers={**platform, "Content-Type": "application/json"})
    assert_problem(response, 400, "malformed-body")
    assert await footprint(engine) == before


async def test_deeply_nested_json_is_400_not_500(api, platform):
    raw = b"[" * 30000 + b"]" * 30000  # under the body limit, over the JSON parser's recursion limit
    assert len(raw) < MAX_BODY
    response = await api.post("/v1/tenants", content=raw,
                              headers={**platform, "Content-Type": "application/json"})
    assert_problem(response, 400, "malformed-body")


@pytest.mark.parametrize("raw", [b"[]", b'"tenant"', b"null", b"42", b'[{"slug": "x", "name": "y"}]'])
async def test_json_that_is_not_an_object_is_422(api, platform, raw: bytes):
    response = await api.post("/v1/tenants", content=raw,
                              headers={**platform, "Content-Type": "application/json"})
    assert_problem(response, 422, "invalid-input")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml",
                                          "text/json", "application/jsonx", None])
async def test_wrong_content_type_is_415(api, platform, engine, content_type: str | None):
    before = await footprint(engine)
    body = json.dumps({"slug": slug(), "name": "x"}).encode()
    headers = {**platform}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await api.post("/v1/tenants", content=body, headers=headers)
    assert_problem(response, 415, "unsupported-media-type")
    assert await footprint(engine) == before


async def test_form_post_is_415(api, tenant: TenantHandle):
    response = await api.post("/v1/clients", data={"name": "x", "scopes": "clients:read"},
                              headers=tenant.auth)
    assert_problem(response, 415, "unsupported-media-type")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON",
                                          "application/merge-patch+json"])
async def test_json_media_types_are_accepted(api, tenant: TenantHandle, content_type: str):
    response = await api.post("/v1/clients", content=json.dumps({"name": "mt", "scopes": ["clients:read"]}),
                              headers={**tenant.auth, "Content-Type": content_type})
    assert response.status_code == 201, response.text


async def test_oversized_body_with_content_length_is_413(api, platform, engine):
    before = await footprint(engine)
    body = json.dumps({"slug": slug(), "name": "x" * (MAX_BODY + 10)}).encode()
    response = await api.post("/v1/tenants", content=body,
                              headers={**platform, "Content-Type": "application/json"})
    assert_problem(response, 413, "payload-too-large")
    assert await footprint(engine) == before


async def test_oversized_chunked_body_is_413(api, platform, engine):
    before = await footprint(engine)
    chunks_sent = 0

    async def stream() -> AsyncIterator[bytes]:
        nonlocal chunks_sent
        yield json.dumps({"slug": slug(), "name": "x"})[:-1].encode() + b', "pad": "'
        for _ in range(40):  # 40 x 4 KiB > 64 KiB, with no Content-Length
            chunks_sent += 1
            yield b"y" * 4096
        yield b'"}'

    response = await api.post("/v1/tenants", content=stream(),
                              headers={**platform, "Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, "payload-too-large")
    assert await footprint(engine) == before


async def test_small_chunked_body_is_accepted(api, tenant: TenantHandle):
    async def stream() -> AsyncIterator[bytes]:
        yield b'{"name": "chunked", '
        yield b'"scopes": ["clients:read"]}'

    response = await api.post("/v1/clients", content=stream(),
                              headers={**tenant.auth, "Content-Type": "application/json"})
    assert response.status_code == 201, response.text


async def test_oversized_token_request_is_413(api):
    response = await api.post("/oauth/token", data={"grant_type": "client_credentials",
                                                    "scope": "x" * (MAX_BODY + 1)})
    assert_problem(response, 413, "payload-too-large")

    async def stream() -> AsyncIterator[bytes]:
        yield b"grant_type=client_credentials&scope="
        for _ in range(40):
            yield b"x" * 4096

    response = await api.post("/oauth/token", content=stream(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload-too-large")


async def test_unknown_fields_are_422(api, platform, engine, tenant: TenantHandle):
    before = await footprint(engine)
    response = await api.post("/v1/tenants", json={"slug": slug(), "name": "x", "schema": "control"},
                              headers=platform)
    body = assert_problem(response, 422, "invalid-input")
    assert "schema" in error_fields(body)
    assert await footprint(engine) == before
    # the slug of an existing tenant cannot be changed by smuggling it into a PATCH
    response = await api.patch(f"/v1/tenants/{tenant.id}", json={"slug": "other"}, headers=platform)
    assert "slug" in error_fields(assert_problem(response, 422, "invalid-input"))
    response = await api.post("/v1/clients", json={"name": "x", "scopes": ["clients:read"], "tenant_id": "x"},
                              headers=tenant.auth)
    assert "tenant_id" in error_fields(assert_problem(response, 422, "invalid-input"))


async def test_missing_and_mistyped_fields_are_422(api, platform):
    body = assert_problem(await api.post("/v1/tenants", json={}, headers=platform), 422, "invalid-input")
    assert {"slug", "name"} <= error_fields(body)
    body = assert_problem(await api.post("/v1/tenants", json={"slug": 5, "name": ["x"]}, headers=platform),
                          422, "invalid-input")
    assert {"slug", "name"} <= error_fields(body)


# --- slugs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [
    "Acme", "ACME", "1acme", "_acme", "a", "", "a" * 42, "a" * 65, "a" * 1000,
    "acmé", "ａｃｍｅ", "аcme",  # accented, full-width, Cyrillic а
    "acme-cosme", "acme cosme", "acme\n", "acme\x00", "acme.cosme", "acme/../control",
    "acme; DROP SCHEMA control CASCADE; --", "acme'); DROP TABLE control.tenants; --",
    'x" CASCADE; --', "t_acme\"", "ac%me", "🍣sushi",
])
async def test_bad_slug_is_422_and_creates_nothing(api, platform, engine, bad: str):
    before = await footprint(engine)
    response = await api.post("/v1/tenants", json={"slug": bad, "name": "Bad slug"}, headers=platform)
    body = assert_problem(response, 422, "invalid-input")
    assert error_fields(body) == {"slug"}
    assert await footprint(engine) == before


@pytest.mark.parametrize("make", [
    lambda: "ab",                                   # shortest (unique per session database)
    lambda: "a" * 31 + secrets.token_hex(5),        # longest: 41 characters
    lambda: "a_1" + secrets.token_hex(3), lambda: "z9_" + secrets.token_hex(3),
], ids=["2-chars", "41-chars", "underscore", "digit"])
async def test_boundary_slugs_are_accepted(api, platform, engine, make):
    candidate = make()
    response = await api.post("/v1/tenants", json={"slug": candidate, "name": "Boundary"}, headers=platform)
    assert response.status_code == 201, response.text
    assert response.json()["slug"] == candidate
    assert f"t_{candidate}" in (await footprint(engine))[2]


async def test_duplicate_slug_is_409_and_creates_nothing(api, platform, engine, tenant: TenantHandle):
    before = await footprint(engine)
    response = await api.post("/v1/tenants", json={"slug": tenant.slug, "name": "Again"}, headers=platform)
    assert_problem(response, 409, "conflict")
    assert await footprint(engine) == before


# --- text -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Acme\x00Cosme", "\x00", "Acme\x07", "Acme\x1b[31mred", "line\nbreak",
                                  "tab\there", "Acme\x7f", "Ac\x85me", "Ac\x9bme", "   ",
                                  "", "x" * 201, "\uffff", "Acme\U0010ffff"])
async def test_control_characters_and_empty_names_are_422(api, platform, engine, name: str):
    before = await footprint(engine)
    response = await api.post("/v1/tenants", json={"slug": slug(), "name": name}, headers=platform)
    body = assert_problem(response, 422, "invalid-input")
    assert error_fields(body) == {"name"}
    assert await footprint(engine) == before


@pytest.mark.parametrize("escaped", ["abc\\u0000def", "\\ud800lone", "lone\\udfff", "\\u0000"])
async def test_nul_and_lone_surrogates_in_json_escapes_are_422_not_500(api, platform, tenant: TenantHandle,
                                                                       escaped: str):
    raw = ('{"name": "' + escaped + '", "scopes": ["clients:read"]}').encode()
    response = await api.post("/v1/clients", content=raw,
                              headers={**tenant.auth, "Content-Type": "application/json"})
    assert error_fields(assert_problem(response, 422, "invalid-input")) == {"name"}
    raw = ('{"slug": "' + slug() + '", "name": "' + escaped + '"}').encode()
    response = await api.post("/v1/tenants", content=raw, headers={**platform, "Content-Type": "application/json"})
    assert error_fields(assert_problem(response, 422, "invalid-input")) == {"name"}
    raw = ('{"slug": "ab' + escaped + '", "name": "x"}').encode()
    response = await api.post("/v1/tenants", content=raw, headers={**platform, "Content-Type": "application/json"})
    assert error_fields(assert_problem(response, 422, "invalid-input")) == {"slug"}


async def test_control_characters_in_patch_are_422(api, platform, tenant: TenantHandle):
    before = (await api.get(f"/v1/tenants/{tenant.id}", headers=platform)).json()
    response = await api.patch(f"/v1/tenants/{tenant.id}", json={"name": "new\x00name"}, headers=platform)
    assert_problem(response, 422, "invalid-input")
    assert (await api.get(f"/v1/tenants/{tenant.id}", headers=platform)).json() == before


@pytest.mark.parametrize(("given", "stored"), [
    ("🍣 Sushi 寿司 🇯🇵", "🍣 Sushi 寿司 🇯🇵"),
    ("👨\u200d👩\u200d👧 family", "👨\u200d👩\u200d👧 family"),       # ZWJ sequence survives
    ("Cafe\u0301", "Café"),                                           # combining accent composed
    ("ＡＣＭＥ　化粧品１２３", "ACME 化粧品123"),                          # full-width folded (NFKC)
    ("ｱｸﾒ", "アクメ"),                                                 # half-width kana widened
    ("  trimmed  ", "trimmed"),
    ("アクメ化粧品株式会社", "アクメ化粧品株式会社"),
])
async def test_unicode_names_are_accepted_and_normalised(api, platform, tenant: TenantHandle,
                                                         given: str, stored: str):
    created = await api.post("/v1/tenants", json={"slug": slug(), "name": given}, headers=platform)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == stored
    fetched = await api.get(f"/v1/tenants/{created.json()['id']}", headers=platform)
    assert fetched.json()["name"] == stored
    patched = await api.patch(f"/v1/tenants/{tenant.id}", json={"name": given}, headers=platform)
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == stored
    client = await api.post("/v1/clients", json={"name": given, "scopes": ["clients:read"]}, headers=tenant.auth)
    assert client.status_code == 201, client.text
    assert client.json()["name"] == stored


# --- timezones, currencies ------------------------------------------------------------------------


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "asia/tokyo", "Asia/Tokyo ", "../../etc/passwd",
                                      "/usr/share/zoneinfo/Asia/Tokyo", "+09:00", "JST-9", "", "Asia/Tokyo\x00",
                                      "x" * 65])
async def test_invalid_timezone_is_422(api, platform, engine, tenant: TenantHandle, timezone: str):
    before = await footprint(engine)
    response = await api.post("/v1/tenants", json={"slug": slug(), "name": "tz", "timezone": timezone},
                              headers=platform)
    assert error_fields(assert_problem(response, 422, "invalid-input")) == {"timezone"}
    assert await footprint(engine) == before
    response = await api.patch(f"/v1/tenants/{tenant.id}", json={"timezone": timezone}, headers=platform)
    assert error_fields(assert_problem(response, 422, "invalid-input")) == {"timezone"}


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "posix/Asia/Tokyo", "right/UTC"])
async def test_system_zone_files_are_not_timezones(api, platform, zone):
    response = await api.post("/v1/tenants", json={"slug": slug(), "name": "tz", "timezone": zone},
                              headers=platform)
    assert_problem(response, 422, "invalid-input")


async def test_valid_timezone_is_accepted(api, platform):
    response = await api.post("/v1/tenants", json={"slug": slug(), "name": "tz", "timezone": "America/Sao_Paulo",
                                                   "currency": "BRL"}, headers=platform)
    assert response.status_code == 201, response.text
    assert (response.json()["timezone"], response.json()["currency"]) == ("America/Sao_Paulo", "BRL")


@pytest.mark.parametrize("currency", ["jpy", "XXX", "ABC", "JP", "JPYY", "¥¥¥", "ＪＰＹ", "", "12\x00"])
async def test_invalid_currency_is_422(api, platform, engine, currency: str):
    before = await footprint(engine)
    response = await api.post("/v1/tenants", json={"slug": slug(), "name": "cur", "currency": currency},
                              headers=platform)
    assert error_fields(assert_problem(response, 422, "invalid-input")) == {"currency"}
    assert await footprint(engine) == before


@pytest.mark.parametrize("status", ["deleted", "ACTIVE", "", None])
async def test_invalid_status_is_422(api, platform, tenant: TenantHandle, status: Any):
    response = await api.patch(f"/v1/tenants/{tenant.id}", json={"status": status}, headers=platform)
    if status is None:  # null means "leave unchanged"
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "active"
    else:
        assert error_fields(assert_problem(response, 422, "invalid-input")) == {"status"}


# --- query strings, path ids ----------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("cursor", [
    "garbage!!", "%%%", "e30", _b64(b"not json"), _b64(b"[1, 2]"), _b64(b'"after"'), _b64(b'{"before": 1}'),
    _b64(b'{"after": "not-a-uuid"}'), _b64(b'{"after": null}'), _b64(b"\xff\xfe"), "x" * 513,
])
async def test_invalid_cursor_is_422(api, tenant: TenantHandle, platform, cursor: str):
    for path, headers in (("/v1/clients", tenant.auth), ("/v1/tenants", platform)):
        response = await api.get(path, params={"cursor": cursor}, headers=headers)
        assert error_fields(assert_problem(response, 422, "invalid-input")) == {"cursor"}


@pytest.mark.parametrize("after", [5, [1], {"a": 1}, True])
async def test_cursor_with_a_non_string_after_is_422(api, tenant: TenantHandle, after: Any):
    cursor = _b64(json.dumps({"after": after}).encode())
    response = await api.get("/v1/clients", params={"cursor": cursor}, headers=tenant.auth)
    assert_problem(response, 422, "invalid-input")


async def test_valid_cursor_pages_through(api, tenant: TenantHandle, other: TenantHandle):
    for i in range(2):
        assert (await api.post("/v1/clients", json={"name": f"p{i}", "scopes": ["clients:read"]},
                               headers=tenant.auth)).status_code == 201
    first = (await api.get("/v1/clients", params={"limit": 2}, headers=tenant.auth)).json()
    assert first["next_cursor"]
    second = await api.get("/v1/clients", params={"limit": 2, "cursor": first["next_cursor"]},
                           headers=tenant.auth)
    assert second.status_code == 200
    assert second.json()["data"]
    assert {c["id"] for c in first["data"]}.isdisjoint({c["id"] for c in second.json()["data"]})
    # another tenant replaying the cursor sees only its own clients
    replayed = await api.get("/v1/clients", params={"cursor": first["next_cursor"]}, headers=other.auth)
    assert replayed.status_code == 200
    assert {c["client_id"] for c in replayed.json()["data"]} <= {other.client_id}


@pytest.mark.parametrize("limit", ["0", "-1", "201", "abc", "1.5", "1e3", ""])
async def test_invalid_limit_is_422(api, tenant: TenantHandle, limit: str):
    response = await api.get("/v1/clients", params={"limit": limit}, headers=tenant.auth)
    assert error_fields(assert_problem(response, 422, "invalid-input")) == {"limit"}


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "0193", "'; DROP TABLE x; --", "ｘ" * 36,
                                    "00000000-0000-0000-0000-00000000000g"])
async def test_invalid_uuid_in_path_is_422(api, platform, tenant: TenantHandle, bad_id: str):
    response = await api.get(f"/v1/tenants/{bad_id}", headers=platform)
    assert error_fields(assert_problem(response, 422, "invalid-input")) == {"tenant_id"}
    response = await api.delete(f"/v1/clients/{bad_id}", headers=tenant.auth)
    assert error_fields(assert_problem(response, 422, "invalid-input")) == {"client_id"}


async def test_unknown_uuid_in_path_is_404(api, platform):
    response = await api.get("/v1/tenants/01930000-0000-7000-8000-000000000000", headers=platform)
    assert_problem(response, 404, "not-found")


async def test_invalid_path_id_still_needs_a_token(api):
    """Validation never runs ahead of authentication: an anonymous caller learns nothing."""
    response = await api.get("/v1/tenants/not-a-uuid")
    assert response.status_code == 401


# --- routes and methods ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/nothing", "/v2/clients", "/", "/v1/tenants/x/y/z", "/%00", "/.env"])
async def test_unknown_route_is_404_problem(api, path: str):
    assert_problem(await api.get(path), 404, "not-found")


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/v1/tenants"), ("PUT", "/v1/clients"),
                                              ("GET", "/oauth/token"), ("POST", "/healthz"),
                                              ("PATCH", "/.well-known/jwks.json")])
async def test_wrong_method_is_405_problem(api, method: str, path: str):
    response = await api.request(method, path, json={} if method in ("PUT", "PATCH", "POST") else None)
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"]


# --- request ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize("request_id", ["abc-123", "0193a0b4-7c1e-7d2f-9a8b-1234567890ab", "req.1:2_3",
                                        "x" * 128])
async def test_sane_request_id_is_honoured(api, request_id: str):
    response = await api.get("/v1/nothing", headers={"X-Request-ID": request_id})
    assert response.headers["x-request-id"] == request_id
    assert response.json()["request_id"] == request_id


@pytest.mark.parametrize("request_id", ["x" * 500, "x" * 129, "has spaces in it", "semi;colon", "<script>",
                                        "quote\"d", "", "a,b", "日本語"])
async def test_insane_request_id_is_replaced(api, request_id: str):
    headers = [(b"x-request-id", request_id.encode())]
    response = await api.get("/v1/nothing", headers=headers)
    echoed = response.headers["x-request-id"]
    assert echoed != request_id and echoed
    assert len(echoed) <= 128 and echoed.isascii() and " " not in echoed
    assert response.json()["request_id"] == echoed
    assert len(response.headers.get_list("x-request-id")) == 1


async def test_generated_request_ids_differ(api):
    first = (await api.get("/healthz")).headers["x-request-id"]
    second = (await api.get("/healthz")).headers["x-request-id"]
    assert first and second and first != second


async def test_request_id_on_refusals_before_routing(api, platform):
    """413 and 415 are answered by middleware before any route; they still carry the request id."""
    response = await api.post("/v1/tenants", content=b"x", headers={**platform, "Content-Type": "text/plain",
                                                                  "X-Request-ID": "mw-415"})
    assert response.headers["x-request-id"] == "mw-415"
    assert response.json()["request_id"] == "mw-415"


async def test_unexpected_error_is_a_500_problem_with_the_request_id_and_no_internals(app, monkeypatch):
    """An unhandled exception is answered by Starlette's outermost error middleware, outside the
    request-id middleware: the 500 must still carry the request id, in the body and the header."""
    async def broken() -> dict[str, Any]:
        raise RuntimeError("password=hunter2 at /srv/secret.py")

    monkeypatch.setattr(app.state.wiring, "readiness", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://kizuna.test") as client:
        response = await client.get("/readyz", headers={"X-Request-ID": "boom-1"})
    body = assert_problem(response, 500, "internal-error")
    assert body["request_id"] == "boom-1"
    assert response.headers.get_list("x-request-id") == ["boom-1"]
    assert "hunter2" not in response.text and "secret.py" not in response.text
