"""The OAuth 2 authorization server: token (RFC 6749 4.4), metadata (RFC 8414), JWKS, revocation
(RFC 7009), introspection (RFC 7662) and client secret rotation, through HTTP on real PostgreSQL."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus
from uuid import UUID

import httpx
import jwt
import pytest
from sqlalchemy import text

from api.app import create_app
from domain.auth.model import TENANT_SCOPES
from tests.conftest import PLATFORM_ID, PLATFORM_SECRET, TenantHandle, basic, bearer, get_token

TOKEN = "/oauth/token"
GRANT = {"grant_type": "client_credentials"}


@pytest.fixture(scope="module")
async def tenant(make_tenant) -> TenantHandle:
    """A tenant used for token requests by many tests; none of them suspends, deletes or renames it
    (tests that do use the per-test tenant_a). Keeps this module from provisioning dozens of schemas."""
    return await make_tenant("oa")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
async def other(make_tenant) -> TenantHandle:
    return await make_tenant("oao")  # type: ignore[no-any-return]


def assert_oauth_error(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str) and body["error_description"]
    assert response.headers["cache-control"] == "no-store"
    if status == 401:
        assert response.headers["www-authenticate"].lower().startswith("basic")
    return body


async def jwks_set(api: Any) -> jwt.PyJWKSet:
    response = await api.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return jwt.PyJWKSet.from_dict(response.json())


async def new_client(api: Any, tenant: TenantHandle, scopes: list[str], name: str = "partner") -> dict[str, Any]:
    response = await api.post("/v1/clients", json={"name": name, "scopes": scopes}, headers=tenant.auth)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def token_status(api: Any, client_id: str, secret: str) -> int:
    response = await api.post(TOKEN, data=GRANT, headers=basic(client_id, secret))
    return response.status_code


# --- the token endpoint ---------------------------------------------------------------------------


async def test_client_authentication_by_http_basic(api, settings, tenant: TenantHandle):
    response = await api.post(TOKEN, data=GRANT, headers=basic(tenant.client_id, tenant.client_secret))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.token_ttl_seconds
    assert set(body["scope"].split()) == set(TENANT_SCOPES)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert (await api.get("/v1/clients", headers=bearer(body["access_token"]))).status_code == 200


async def test_client_authentication_by_form_fields(api, tenant: TenantHandle):
    response = await api.post(TOKEN, data={**GRANT, "client_id": tenant.client_id,
                                           "client_secret": tenant.client_secret})
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
    assert response.headers["cache-control"] == "no-store"


async def test_basic_credentials_are_form_urlencoded_first(api, tenant: TenantHandle):
    """RFC 6749 2.3.1: id and secret are form-urlencoded before Basic encoding; the server decodes."""
    raw = f"{quote_plus(tenant.client_id)}:{quote_plus(tenant.client_secret)}"
    header = {"Authorization": "basic " + base64.b64encode(raw.encode()).decode()}
    response = await api.post(TOKEN, data=GRANT, headers=header)
    assert response.status_code == 200, response.text


async def test_two_authentication_methods_at_once_are_refused(api, tenant: TenantHandle):
    response = await api.post(TOKEN, data={**GRANT, "client_id": tenant.client_id,
                                           "client_secret": tenant.client_secret},
                              headers=basic(tenant.client_id, tenant.client_secret))
    assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize("how", ["basic", "form"])
async def test_wrong_secret_is_invalid_client(api, tenant: TenantHandle, how: str):
    wrong = tenant.client_secret[:-1] + ("A" if tenant.client_secret[-1] != "A" else "B")
    if how == "basic":
        response = await api.post(TOKEN, data=GRANT, headers=basic(tenant.client_id, wrong))
    else:
        response = await api.post(TOKEN, data={**GRANT, "client_id": tenant.client_id,
                                               "client_secret": wrong})
    assert_oauth_error(response, 401, "invalid_client")
    assert "access_token" not in response.text


async def test_unknown_client_looks_like_a_wrong_secret(api, tenant: TenantHandle):
    unknown = await api.post(TOKEN, data=GRANT, headers=basic("kc_doesnotexist", "ksec_whatever"))
    wrong = await api.post(TOKEN, data=GRANT, headers=basic(tenant.client_id, "ksec_whatever"))
    assert assert_oauth_error(unknown, 401, "invalid_client") == assert_oauth_error(wrong, 401, "invalid_client")


@pytest.mark.parametrize("authorization", [
    "Basic !!!notbase64!!!", "Basic " + base64.b64encode(b"no-colon-here").decode(), "Basic ",
    "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
])
async def test_malformed_basic_credentials_are_invalid_client(api, authorization: str):
    response = await api.post(TOKEN, data=GRANT, headers={"Authorization": authorization})
    assert_oauth_error(response, 401, "invalid_client")


@pytest.mark.parametrize("client_id", ["kc_\x00abc", "a\x00", "\x00", "kc_" + "x" * 5000, "kc_\u2028x"])
async def test_odd_client_ids_are_invalid_client_not_500(api, client_id: str):
    """Whatever the client id holds (NUL cannot even be sent to PostgreSQL), the answer is 401."""
    by_basic = await api.post(TOKEN, data=GRANT, headers=basic(quote_plus(client_id), "ksec_x"))
    assert_oauth_error(by_basic, 401, "invalid_client")
    by_form = await api.post(TOKEN, data={**GRANT, "client_id": client_id, "client_secret": "ksec_x"})
    assert_oauth_error(by_form, 401, "invalid_client")


async def test_odd_secret_is_invalid_client_not_500(api, tenant: TenantHandle):
    for secret in ("\x00", "ksec_\x00", "é" * 3000):
        response = await api.post(TOKEN, data=GRANT, headers=basic(tenant.client_id, quote_plus(secret)))
        assert_oauth_error(response, 401, "invalid_client")


async def test_no_client_authentication_is_invalid_client(api):
    assert_oauth_error(await api.post(TOKEN, data=GRANT), 401, "invalid_client")
    # a secret without an id (or an id without a secret) is no authentication either
    assert_oauth_error(await api.post(TOKEN, data={**GRANT, "client_secret": "x"}), 401, "invalid_client")


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "refresh_token",
                                        "CLIENT_CREDENTIALS", "client_credentials "])
async def test_unsupported_grant_type(api, tenant: TenantHandle, grant_type: str):
    response = await api.post(TOKEN, data={"grant_type": grant_type},
                              headers=basic(tenant.client_id, tenant.client_secret))
    assert_oauth_error(response, 400, "unsupported_grant_type")


@pytest.mark.parametrize("data", [{}, {"grant_type": ""}, {"scope": "clients:read"}])
async def test_missing_grant_type(api, tenant: TenantHandle, data: dict[str, str]):
    response = await api.post(TOKEN, data=data, headers=basic(tenant.client_id, tenant.client_secret))
    assert_oauth_error(response, 400, "invalid_request")


async def test_json_body_is_not_a_token_request(api, tenant: TenantHandle):
    response = await api.post(TOKEN, json=GRANT, headers=basic(tenant.client_id, tenant.client_secret))
    assert_oauth_error(response, 400, "invalid_request")


async def test_requested_scope_subset_is_granted(api, settings, tenant: TenantHandle):
    response = await api.post(TOKEN, data={**GRANT, "scope": "customers:read  clients:read customers:read"},
                              headers=basic(tenant.client_id, tenant.client_secret))
    assert response.status_code == 200, response.text
    assert response.json()["scope"].split() == ["customers:read", "clients:read"]
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["scope"].split() == ["customers:read", "clients:read"]
    # and it is what the API enforces: clients:read but not clients:write
    token = bearer(response.json()["access_token"])
    assert (await api.get("/v1/clients", headers=token)).status_code == 200
    denied = await api.post("/v1/clients", json={"name": "x", "scopes": ["clients:read"]}, headers=token)
    assert denied.status_code == 403


@pytest.mark.parametrize("scope", ["platform:admin", "clients:read platform:admin", "customers:admin",
                                   "nonsense", "CLIENTS:READ"])
async def test_scope_beyond_the_clients_is_invalid_scope(api, tenant: TenantHandle, scope: str):
    response = await api.post(TOKEN, data={**GRANT, "scope": scope},
                              headers=basic(tenant.client_id, tenant.client_secret))
    assert_oauth_error(response, 400, "invalid_scope")


async def test_scope_of_a_narrow_client_cannot_be_widened(api, tenant: TenantHandle):
    narrow = await new_client(api, tenant, ["customers:read"])
    ok = await api.post(TOKEN, data=GRANT, headers=basic(narrow["client_id"], narrow["client_secret"]))
    assert ok.json()["scope"] == "customers:read"
    widened = await api.post(TOKEN, data={**GRANT, "scope": "customers:read customers:write"},
                             headers=basic(narrow["client_id"], narrow["client_secret"]))
    assert_oauth_error(widened, 400, "invalid_scope")


async def test_access_token_is_an_es256_jwt_that_verifies_against_jwks(api, settings, tenant: TenantHandle):
    before = int(time.time())
    response = await api.post(TOKEN, data=GRANT, headers=basic(tenant.client_id, tenant.client_secret))
    token = response.json()["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["typ"] == "at+jwt"
    keys = await jwks_set(api)
    key = keys[header["kid"]]
    claims = jwt.decode(token, key, algorithms=["ES256"], audience=settings.audience, issuer=settings.issuer)
    assert {"iss", "aud", "sub", "tid", "scope", "iat", "exp", "jti"} <= set(claims)
    assert claims["iss"] == settings.issuer
    assert claims["aud"] == settings.audience
    assert claims["sub"] == tenant.client_id
    assert UUID(claims["tid"]) == UUID(tenant.id)
    assert set(claims["scope"].split()) == set(TENANT_SCOPES)
    assert before - 5 <= claims["iat"] <= int(time.time()) + 5
    assert claims["exp"] - claims["iat"] == settings.token_ttl_seconds
    # a fresh jti per token
    other = jwt.decode(await get_token(api, tenant.client_id, tenant.client_secret),
                       options={"verify_signature": False})
    assert other["jti"] != claims["jti"] and len(claims["jti"]) >= 16


async def test_platform_token_has_no_tenant(api, settings):
    token = await get_token(api, PLATFORM_ID, PLATFORM_SECRET)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert "tid" not in claims
    assert claims["scope"] == "platform:admin"
    assert claims["sub"] == PLATFORM_ID


async def test_jwks_publishes_public_keys_only(api, app):
    response = await api.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    for jwk in keys:
        assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and jwk["alg"] == "ES256" and jwk["use"] == "sig"
        assert jwk["kid"] and jwk["x"] and jwk["y"]
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(jwk), "private key material published"
    assert app.state.caches.keys.signing_key().kid in {k["kid"] for k in keys}


async def test_metadata_document(api, settings, tenant: TenantHandle):
    response = await api.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    meta = response.json()
    issuer = settings.issuer.rstrip("/")
    assert meta["issuer"] == settings.issuer
    # RFC 8414 section 3.3: the issuer in metadata is the iss of the tokens
    claims = jwt.decode(tenant.token, options={"verify_signature": False})
    assert claims["iss"] == meta["issuer"]
    assert meta["token_endpoint"] == f"{issuer}/oauth/token"
    assert meta["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert meta["revocation_endpoint"] == f"{issuer}/oauth/revoke"
    assert meta["introspection_endpoint"] == f"{issuer}/oauth/introspect"
    assert meta["grant_types_supported"] == ["client_credentials"]
    for field in ("token_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported",
                  "introspection_endpoint_auth_methods_supported"):
        assert set(meta[field]) == {"client_secret_basic", "client_secret_post"}
    assert "platform:admin" in meta["scopes_supported"]
    assert set(TENANT_SCOPES) <= set(meta["scopes_supported"])
    assert "response_types_supported" in meta
    # RFC 8414 section 2: absent parameters are omitted, not null
    assert None not in meta.values(), meta


# --- revocation (RFC 7009) ------------------------------------------------------------------------


async def test_revoked_token_is_refused_everywhere(api, tenant_a: TenantHandle):
    token = await get_token(api, tenant_a.client_id, tenant_a.client_secret)
    creds = basic(tenant_a.client_id, tenant_a.client_secret)
    assert (await api.post("/oauth/introspect", data={"token": token}, headers=creds)).json()["active"]
    response = await api.post("/oauth/revoke", data={"token": token, "token_type_hint": "access_token"},
                              headers=creds)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    refused = await api.get("/v1/clients", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    introspected = await api.post("/oauth/introspect", data={"token": token}, headers=creds)
    assert introspected.json() == {"active": False}
    # revoking again is harmless
    assert (await api.post("/oauth/revoke", data={"token": token}, headers=creds)).status_code == 200


async def test_revocation_with_form_credentials(api, tenant_a: TenantHandle):
    token = await get_token(api, tenant_a.client_id, tenant_a.client_secret)
    response = await api.post("/oauth/revoke", data={"token": token, "client_id": tenant_a.client_id,
                                                     "client_secret": tenant_a.client_secret})
    assert response.status_code == 200
    assert (await api.get("/v1/clients", headers=bearer(token))).status_code == 401


async def test_revoking_someone_elses_token_is_a_silent_no_op(api, tenant_a: TenantHandle,
                                                             tenant_b: TenantHandle):
    # another tenant's client
    response = await api.post("/oauth/revoke", data={"token": tenant_a.token},
                              headers=basic(tenant_b.client_id, tenant_b.client_secret))
    assert response.status_code == 200
    assert response.content == b""
    assert (await api.get("/v1/clients", headers=tenant_a.auth)).status_code == 200
    # another client of the same tenant
    sibling = await new_client(api, tenant_a, ["clients:read"], name="sibling")
    response = await api.post("/oauth/revoke", data={"token": tenant_a.token},
                              headers=basic(sibling["client_id"], sibling["client_secret"]))
    assert response.status_code == 200
    assert (await api.get("/v1/clients", headers=tenant_a.auth)).status_code == 200
    # the platform client neither
    response = await api.post("/oauth/revoke", data={"token": tenant_a.token},
                              headers=basic(PLATFORM_ID, PLATFORM_SECRET))
    assert response.status_code == 200
    assert (await api.get("/v1/clients", headers=tenant_a.auth)).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 5000])
async def test_revoking_an_invalid_token_is_200(api, tenant: TenantHandle, token: str):
    response = await api.post("/oauth/revoke", data={"token": token},
                              headers=basic(tenant.client_id, tenant.client_secret))
    assert response.status_code == 200


async def test_revocation_requires_client_authentication(api, tenant: TenantHandle):
    unauthenticated = await api.post("/oauth/revoke", data={"token": tenant.token})
    assert_oauth_error(unauthenticated, 401, "invalid_client")
    wrong = await api.post("/oauth/revoke", data={"token": tenant.token},
                           headers=basic(tenant.client_id, "wrong"))
    assert_oauth_error(wrong, 401, "invalid_client")
    assert (await api.get("/v1/clients", headers=tenant.auth)).status_code == 200
    missing = await api.post("/oauth/revoke", data={},
                             headers=basic(tenant.client_id, tenant.client_secret))
    assert_oauth_error(missing, 400, "invalid_request")


# --- introspection (RFC 7662) ---------------------------------------------------------------------


async def test_introspection_of_an_active_token(api, settings, tenant: TenantHandle):
    response = await api.post("/oauth/introspect", data={"token": tenant.token},
                              headers=basic(tenant.client_id, tenant.client_secret))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    claims = jwt.decode(tenant.token, options={"verify_signature": False})
    assert body["active"] is True
    assert body["client_id"] == body["sub"] == tenant.client_id
    assert body["tid"] == tenant.id
    assert body["scope"] == claims["scope"]
    assert body["exp"] == claims["exp"] and body["iat"] == claims["iat"] and body["jti"] == claims["jti"]
    assert body["iss"] == settings.issuer and body["aud"] == settings.audience
    assert body["token_type"] == "Bearer"


@pytest.mark.parametrize("token", ["garbage", "", "a.b.c"])
async def test_introspection_of_garbage_is_inactive(api, tenant: TenantHandle, token: str):
    response = await api.post("/oauth/introspect", data={"token": token},
                              headers=basic(tenant.client_id, tenant.client_secret))
    if token == "":
        assert_oauth_error(response, 400, "invalid_request")
    else:
        assert response.status_code == 200
        assert response.json() == {"active": False}


async def test_other_tenants_token_is_reported_inactive(api, tenant_a: TenantHandle, tenant_b: TenantHandle):
    response = await api.post("/oauth/introspect", data={"token": tenant_a.token},
                              headers=basic(tenant_b.client_id, tenant_b.client_secret))
    assert response.status_code == 200
    assert response.json() == {"active": False}
    # a tenant learns nothing about platform tokens either
    platform_token = await get_token(api, PLATFORM_ID, PLATFORM_SECRET)
    response = await api.post("/oauth/introspect", data={"token": platform_token},
                              headers=basic(tenant_b.client_id, tenant_b.client_secret))
    assert response.json() == {"active": False}
    # while the platform operator sees every tenant's token
    response = await api.post("/oauth/introspect", data={"token": tenant_a.token},
                              headers=basic(PLATFORM_ID, PLATFORM_SECRET))
    assert response.json()["active"] is True
    assert response.json()["tid"] == tenant_a.id


async def test_introspection_of_a_suspended_tenants_token_is_inactive(api, platform, tenant_a: TenantHandle):
    creds = basic(PLATFORM_ID, PLATFORM_SECRET)
    assert (await api.post("/oauth/introspect", data={"token": tenant_a.token}, headers=creds)).json()["active"]
    await api.patch(f"/v1/tenants/{tenant_a.id}", json={"status": "suspended"}, headers=platform)
    response = await api.post("/oauth/introspect", data={"token": tenant_a.token}, headers=creds)
    assert response.json() == {"active": False}


async def test_introspection_requires_client_authentication(api, tenant: TenantHandle):
    response = await api.post("/oauth/introspect", data={"token": tenant.token})
    assert_oauth_error(response, 401, "invalid_client")
    assert "active" not in response.json()


# --- clients: secret rotation and deletion --------------------------------------------------------


async def test_rotation_with_overlap_keeps_the_old_secret_working(api, tenant: TenantHandle):
    client = await new_client(api, tenant, ["clients:read"])
    old = client["client_secret"]
    before = datetime.now(UTC)
    response = await api.post(f"/v1/clients/{client['id']}/rotate-secret", json={"overlap_seconds": 3600},
                              headers=tenant.auth)
    assert response.status_code == 200, response.text
    rotated = response.json()
    new = rotated["client_secret"]
    assert new != old and rotated["client_id"] == client["client_id"]
    assert rotated["secret_rotated_at"] is not None
    expires = datetime.fromisoformat(rotated["previous_secret_expires_at"])
    assert before + timedelta(seconds=3590) <= expires <= datetime.now(UTC) + timedelta(seconds=3610)
    assert await token_status(api, client["client_id"], new) == 200
    assert await token_status(api, client["client_id"], old) == 200
    # the listing shows the overlap too, never a secret
    listed = next(c for c in (await api.get("/v1/clients", headers=tenant.auth)).json()["data"]
                  if c["id"] == client["id"])
    assert listed["previous_secret_expires_at"] is not None and "client_secret" not in listed


async def test_old_secret_stops_when_the_overlap_ends(api, engine, tenant: TenantHandle):
    client = await new_client(api, tenant, ["clients:read"])
    old = client["client_secret"]
    rotated = await api.post(f"/v1/clients/{client['id']}/rotate-secret", json={"overlap_seconds": 600},
                             headers=tenant.auth)
    assert await token_status(api, client["client_id"], old) == 200
    async with engine.begin() as conn:  # ten minutes pass
        await conn.execute(text("UPDATE control.oauth_clients SET previous_secret_expires_at = now() "
                                "- interval '1 second' WHERE id = :id"), {"id": UUID(client["id"])})
    assert await token_status(api, client["client_id"], old) == 401
    assert await token_status(api, client["client_id"], rotated.json()["client_secret"]) == 200


async def test_rotation_without_overlap_stops_the_old_secret_at_once(api, tenant: TenantHandle):
    client = await new_client(api, tenant, ["clients:read"])
    first = client["client_secret"]
    second = (await api.post(f"/v1/clients/{client['id']}/rotate-secret", json={"overlap_seconds": 3600},
                             headers=tenant.auth)).json()["client_secret"]
    response = await api.post(f"/v1/clients/{client['id']}/rotate-secret", json={"overlap_seconds": 0},
                              headers=tenant.auth)
    assert response.status_code == 200, response.text
    third = response.json()["client_secret"]
    assert response.json()["previous_secret_expires_at"] is None
    assert await token_status(api, client["client_id"], third) == 200
    assert await token_status(api, client["client_id"], second) == 401
    assert await token_status(api, client["client_id"], first) == 401


async def test_only_the_latest_previous_secret_overlaps(api, tenant: TenantHandle):
    client = await new_client(api, tenant, ["clients:read"])
    first = client["client_secret"]
    url = f"/v1/clients/{client['id']}/rotate-secret"
    second = (await api.post(url, json={"overlap_seconds": 3600}, headers=tenant.auth)).json()["client_secret"]
    third = (await api.post(url, json={"overlap_seconds": 3600}, headers=tenant.auth)).json()["client_secret"]
    assert await token_status(api, client["client_id"], third) == 200
    assert await token_status(api, client["client_id"], second) == 200
    assert await token_status(api, client["client_id"], first) == 401


async def test_rotation_without_body_uses_the_default_overlap(api, tenant: TenantHandle):
    client = await new_client(api, tenant, ["clients:read"])
    response = await api.post(f"/v1/clients/{client['id']}/rotate-secret", headers=tenant.auth)
    assert response.status_code == 200, response.text
    assert response.json()["previous_secret_expires_at"] is not None
    assert await token_status(api, client["client_id"], client["client_secret"]) == 200


@pytest.mark.parametrize("overlap", [-1, 7 * 24 * 3600 + 1, "soon", None, 1.5])
async def test_rotation_overlap_out_of_range_is_422(api, tenant: TenantHandle, overlap: Any):
    client = await new_client(api, tenant, ["clients:read"])
    response = await api.post(f"/v1/clients/{client['id']}/rotate-secret", json={"overlap_seconds": overlap},
                              headers=tenant.auth)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "overlap_seconds"
    assert await token_status(api, client["client_id"], client["client_secret"]) == 200


async def test_rotating_another_tenants_client_is_404(api, tenant: TenantHandle, other: TenantHandle):
    client = await new_client(api, tenant, ["clients:read"])
    response = await api.post(f"/v1/clients/{client['id']}/rotate-secret", json={"overlap_seconds": 0},
                              headers=other.auth)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await token_status(api, client["client_id"], client["client_secret"]) == 200


async def test_deleted_clients_secret_stops_working(api, tenant: TenantHandle, other: TenantHandle):
    client = await new_client(api, tenant, ["clients:read"])
    assert await token_status(api, client["client_id"], client["client_secret"]) == 200
    # another tenant cannot delete it
    assert (await api.delete(f"/v1/clients/{client['id']}", headers=other.auth)).status_code == 404
    assert await token_status(api, client["client_id"], client["client_secret"]) == 200
    response = await api.delete(f"/v1/clients/{client['id']}", headers=tenant.auth)
    assert response.status_code == 204
    refused = await api.post(TOKEN, data=GRANT, headers=basic(client["client_id"], client["client_secret"]))
    assert_oauth_error(refused, 401, "invalid_client")
    listed = (await api.get("/v1/clients", headers=tenant.auth)).json()["data"]
    assert client["id"] not in {c["id"] for c in listed}


async def test_deleted_client_in_overlap_loses_both_secrets(api, tenant: TenantHandle):
    client = await new_client(api, tenant, ["clients:read"])
    new = (await api.post(f"/v1/clients/{client['id']}/rotate-secret", json={"overlap_seconds": 3600},
                          headers=tenant.auth)).json()["client_secret"]
    assert (await api.delete(f"/v1/clients/{client['id']}", headers=tenant.auth)).status_code == 204
    assert await token_status(api, client["client_id"], new) == 401
    assert await token_status(api, client["client_id"], client["client_secret"]) == 401


async def test_suspended_tenants_client_gets_no_token(api, platform, tenant_a: TenantHandle):
    await api.patch(f"/v1/tenants/{tenant_a.id}", json={"status": "suspended"}, headers=platform)
    response = await api.post(TOKEN, data=GRANT, headers=basic(tenant_a.client_id, tenant_a.client_secret))
    assert_oauth_error(response, 401, "invalid_client")


async def test_metadata_issuer_is_the_tokens_iss_even_with_a_trailing_slash(settings):
    """An operator who configures KIZUNA_ISSUER with a trailing slash gets tokens whose `iss` has
    it; RFC 8414 section 3.3 makes clients compare the two exactly."""
    configured = settings.model_copy(update={"issuer": "https://auth.example/"})
    other_app = create_app(configured, database_url=configured.database_url)
    async with other_app.router.lifespan_context(other_app):
        transport = httpx.ASGITransport(app=other_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kizuna.test") as client:
            meta = (await client.get("/.well-known/oauth-authorization-server")).json()
            token = await get_token(client, PLATFORM_ID, PLATFORM_SECRET)
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == meta["issuer"]
    assert meta["token_endpoint"] == "https://auth.example/oauth/token"
