"""Attacks on bearer-token authentication (DESIGN.md section 4), through GET /v1/clients.

Every forged token differs from a token the server accepts (`test_forged_baseline_is_accepted`)
in exactly one respect, so each refusal is the verifier's doing and not an accident of the forgery.
Every refusal is a 401 or 403 problem+json, never a 500.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from uuid import UUID, uuid4

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import event, text

from api.errors import PROBLEM_BASE
from infra.db.notify import notify
from tests.conftest import TenantHandle, basic, bearer, get_token

ENDPOINT = "/v1/clients"


@pytest.fixture(scope="module")
async def tenant(make_tenant) -> TenantHandle:
    """A tenant forged against by many tests; none of them suspends, deletes or renames it
    (tests that do use the per-test tenant_a). Keeps this module from provisioning dozens of schemas."""
    return await make_tenant("atk")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
async def other(make_tenant) -> TenantHandle:
    return await make_tenant("atko")  # type: ignore[no-any-return]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def claims_for(settings: Any, tenant: TenantHandle, **changes: Any) -> dict[str, Any]:
    """The claims the server itself would sign for `tenant`'s initial client; `changes` overrides
    (a value of ... removes the claim)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.issuer, "aud": settings.audience, "sub": tenant.client_id, "tid": tenant.id,
        "scope": "clients:read clients:write", "iat": now, "nbf": now, "exp": now + 300,
        "jti": secrets.token_urlsafe(16), "client_id": tenant.client_id}
    for name, value in changes.items():
        if value is ...:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def es256(header: dict[str, Any], claims: Any, private: Any) -> str:
    """A compact JWS built by hand, so claims PyJWT would refuse to encode can be signed too."""
    signing_input = f"{b64json({'alg': 'ES256', **header})}.{b64json(claims)}"
    signature = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).sign(
        signing_input.encode(), private)
    return f"{signing_input}.{b64url(signature)}"


def sign_real(app: Any, claims: Any, **header: Any) -> str:
    """Signed with the server's own private key, as an insider or a leaked key would."""
    key = app.state.caches.keys.signing_key()
    return es256({"kid": key.kid, "typ": "at+jwt", **header}, claims, key.private)


def assert_problem(response: Any, status: int, kind: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith(PROBLEM_BASE)
    if kind is not None:
        assert body["type"] == PROBLEM_BASE + kind
    assert body["request_id"] == response.headers["x-request-id"]
    if status == 401:
        assert response.headers["www-authenticate"].lower().startswith("bearer")
        assert body["code"] == "unauthenticated"
    return body


async def _refused(api: Any, token: str) -> dict[str, Any]:
    return assert_problem(await api.get(ENDPOINT, headers=bearer(token)), 401, "unauthenticated")


# --- the control: a token forged exactly like the server's own is accepted -------------------


async def test_forged_baseline_is_accepted(api, app, settings, tenant: TenantHandle):
    token = sign_real(app, claims_for(settings, tenant))
    response = await api.get(ENDPOINT, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert tenant.client_id in {c["client_id"] for c in response.json()["data"]}


async def test_lower_case_bearer_scheme_is_accepted(api, tenant: TenantHandle):
    # RFC 7235: the scheme is case-insensitive.
    response = await api.get(ENDPOINT, headers={"Authorization": f"bearer {tenant.token}"})
    assert response.status_code == 200, response.text


# --- algorithm attacks ------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_is_refused(api, app, settings, tenant: TenantHandle, alg: str):
    kid = app.state.caches.keys.signing_key().kid
    header = {"alg": alg, "typ": "JWT", "kid": kid}
    unsigned = f"{b64json(header)}.{b64json(claims_for(settings, tenant))}."
    await _refused(api, unsigned)


async def _public_pem(api: Any, kid: str) -> bytes:
    jwks = (await api.get("/.well-known/jwks.json")).json()
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    public = jwt.PyJWK(jwk).key
    return public.public_bytes(serialization.Encoding.PEM,  # type: ignore[no-any-return]
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


@pytest.mark.parametrize("secret_form", ["pem", "pem-stripped", "jwk-json"])
async def test_hs256_signed_with_the_public_key_is_refused(api, app, settings, tenant: TenantHandle,
                                                           secret_form: str):
    """Key confusion: a verifier that let the header pick the algorithm would check this HMAC with
    the public key it holds, which everybody can download."""
    kid = app.state.caches.keys.signing_key().kid
    pem = await _public_pem(api, kid)
    jwks = (await api.get("/.well-known/jwks.json")).json()
    secret = {"pem": pem, "pem-stripped": pem.strip(),
              "jwk-json": json.dumps(next(k for k in jwks["keys"] if k["kid"] == kid)).encode()}[secret_form]
    token = _hs256({"alg": "HS256", "typ": "JWT", "kid": kid}, claims_for(settings, tenant), secret)
    await _refused(api, token)


async def test_rs256_header_is_refused(api, app, settings, tenant: TenantHandle):
    kid = app.state.caches.keys.signing_key().kid
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    token = f"{b64json(header)}.{b64json(claims_for(settings, tenant))}.{b64url(secrets.token_bytes(256))}"
    await _refused(api, token)


async def test_real_es256_signature_under_a_header_claiming_another_alg_is_refused(
        api, app, settings, tenant: TenantHandle):
    """A valid ES256 signature, then the header rewritten to ES384: the signature no longer covers
    the header, and the algorithm is pinned anyway."""
    good = sign_real(app, claims_for(settings, tenant))
    _, payload, signature = good.split(".")
    kid = app.state.caches.keys.signing_key().kid
    header = b64json({"alg": "ES384", "typ": "at+jwt", "kid": kid})
    await _refused(api, f"{header}.{payload}.{signature}")


# --- time, issuer, audience ----------------------------------------------------------------------


async def test_expired_token_is_refused(api, app, settings, tenant: TenantHandle):
    now = int(time.time())
    token = sign_real(app, claims_for(settings, tenant, iat=now - 7200, nbf=now - 7200, exp=now - 60))
    body = await _refused(api, token)
    assert "expired" in body["detail"]


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_token_from_the_future_is_refused(api, app, settings, tenant: TenantHandle, claim: str):
    now = int(time.time())
    changes: dict[str, Any] = {claim: now + 600, "exp": now + 1200}
    if claim == "iat":
        changes["nbf"] = ...  # only iat says "future"
    await _refused(api, sign_real(app, claims_for(settings, tenant, **changes)))


@pytest.mark.parametrize("iss", ["https://evil.example", "http://127.0.0.1:8000/", "", None])
async def test_wrong_issuer_is_refused(api, app, settings, tenant: TenantHandle, iss: Any):
    assert iss != settings.issuer
    await _refused(api, sign_real(app, claims_for(settings, tenant, iss=iss)))


@pytest.mark.parametrize("aud", ["other-api", ["other-api"], "", "KIZUNA-API"])
async def test_wrong_audience_is_refused(api, app, settings, tenant: TenantHandle, aud: Any):
    await _refused(api, sign_real(app, claims_for(settings, tenant, aud=aud)))


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "scope", "iat", "exp", "jti"])
async def test_missing_required_claim_is_refused(api, app, settings, tenant: TenantHandle, claim: str):
    await _refused(api, sign_real(app, claims_for(settings, tenant, **{claim: ...})))


@pytest.mark.parametrize("changes", [
    {"tid": 12345}, {"tid": "not-a-uuid"}, {"tid": ["x"]}, {"tid": {"id": "x"}}, {"tid": ""},
    {"tid": None}, {"tid": 0},
    {"iat": "yesterday"}, {"iat": []}, {"iat": {}}, {"exp": "tomorrow"}, {"exp": []}, {"exp": None},
    {"nbf": []}, {"nbf": "now"},
    {"jti": ["a", "b"]}, {"sub": {"client": "x"}}, {"scope": {"clients:read": True}},
], ids=lambda c: "-".join(f"{k}={v!r}"[:24] for k, v in c.items()))
async def test_malformed_claims_under_the_real_key_are_401_not_500(api, app, settings,
                                                                   tenant: TenantHandle,
                                                                   changes: dict[str, Any]):
    """Even a token signed with the real key (a bug in another issuer, a leaked key) must not crash
    the verifier."""
    await _refused(api, sign_real(app, claims_for(settings, tenant, **changes)))


# --- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kid", ["unknown-kid", "", "../../etc/passwd", "' OR '1'='1", 42, None, ...])
async def test_unknown_or_missing_kid_is_refused(api, app, settings, tenant: TenantHandle, kid: Any):
    key = app.state.caches.keys.signing_key()
    headers: dict[str, Any] = {"typ": "at+jwt"}
    if kid is not ...:
        headers["kid"] = kid
    await _refused(api, es256(headers, claims_for(settings, tenant), key.private))


async def test_unknown_kid_does_not_reload_keys_on_every_request(api, app, engine, settings,
                                                                 tenant: TenantHandle):
    """An unknown kid may mean a key another worker created a moment ago, so the key store is
    reloaded once; but a stream of junk kids must not turn into one database query each."""
    key = app.state.caches.keys.signing_key()
    queries: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "signing_keys" in statement:
            queries.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        for _ in range(20):
            token = sign_real(app, claims_for(settings, tenant), kid="junk-" + secrets.token_hex(4))
            await _refused(api, token)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert len(queries) <= 1
    # and the real key still verifies afterwards
    assert (await api.get(ENDPOINT, headers=bearer(sign_real(app, claims_for(settings, tenant))))
            ).status_code == 200
    assert key.kid == app.state.caches.keys.signing_key().kid


async def test_attacker_key_with_a_real_kid_is_refused(api, app, settings, tenant: TenantHandle):
    attacker = ec.generate_private_key(ec.SECP256R1())
    kid = app.state.caches.keys.signing_key().kid
    token = jwt.encode(claims_for(settings, tenant), attacker, algorithm="ES256",
                       headers={"kid": kid, "typ": "at+jwt"})
    await _refused(api, token)


async def test_attacker_key_embedded_in_the_header_is_ignored(api, app, settings, tenant: TenantHandle):
    """The `jwk` / `jku` header parameters must not supply the verification key."""
    attacker = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(attacker.public_key()))
    kid = app.state.caches.keys.signing_key().kid
    for extra in ({"jwk": jwk}, {"jku": "https://evil.example/jwks.json"}, {"kid": "attacker", "jwk": jwk}):
        token = jwt.encode(claims_for(settings, tenant), attacker, algorithm="ES256",
                           headers={"kid": kid, "typ": "at+jwt", **extra})
        await _refused(api, token)


# --- tampering and garbage -----------------------------------------------------------------------


def _tamper(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{b64json(claims)}.{signature}"


async def test_tampered_payload_is_refused(api, tenant: TenantHandle, other: TenantHandle):
    narrow = await get_token(api, tenant.client_id, tenant.client_secret, scope="customers:read")
    assert (await api.get(ENDPOINT, headers=bearer(narrow))).status_code == 403  # untampered: authenticated, only lacks the scope
    await _refused(api, _tamper(narrow, scope="clients:read clients:write"))
    await _refused(api, _tamper(tenant.token, tid=other.id))
    await _refused(api, _tamper(tenant.token, exp=int(time.time()) + 10 ** 8))
    await _refused(api, _tamper(tenant.token, scope="platform:admin", tid=None))


async def test_tampered_signature_is_refused(api, tenant: TenantHandle):
    header, payload, signature = tenant.token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0x01
    await _refused(api, f"{header}.{payload}.{b64url(bytes(raw))}")
    await _refused(api, f"{header}.{payload}.")
    await _refused(api, f"{header}.{payload}")


@pytest.mark.parametrize("token", [
    "garbage", "a.b.c", "...", "a.b.c.d", "eyJhbGciOiJFUzI1NiJ9.e30.", "e30.e30.e30",
    b64json([1, 2]) + "." + b64json({}) + ".sig", b64json("ES256") + ".e30.sig",
    "x" * 8000, "Bearer", "null",
])
async def test_garbage_tokens_are_refused(api, token: str):
    await _refused(api, token)


async def test_non_ascii_token_bytes_are_refused(api):
    headers = [(b"authorization", "Bearer トークン.é.ü".encode())]
    response = await api.get(ENDPOINT, headers=headers)
    assert_problem(response, 401, "unauthenticated")


@pytest.mark.parametrize("make_header", [
    lambda t: t,                      # no scheme
    lambda t: f"Basic {t}",
    lambda t: f"Token {t}",
    lambda t: f"Bearer{t}",           # no separator
    lambda t: "Bearer",
    lambda t: "Bearer    ",
    lambda t: "",
])
async def test_missing_or_wrong_scheme_is_refused(api, tenant: TenantHandle, make_header):
    value = make_header(tenant.token)
    response = await api.get(ENDPOINT, headers={"Authorization": value} if value else {})
    assert_problem(response, 401, "unauthenticated")


async def test_no_authorization_header_is_refused(api):
    assert_problem(await api.get(ENDPOINT), 401, "unauthenticated")


async def test_token_in_query_string_is_not_accepted(api, tenant: TenantHandle):
    response = await api.get(ENDPOINT, params={"access_token": tenant.token})
    assert_problem(response, 401, "unauthenticated")


# --- revocation, tenant state --------------------------------------------------------------------


async def test_revoked_token_is_refused(api, tenant: TenantHandle):
    token = await get_token(api, tenant.client_id, tenant.client_secret)
    assert (await api.get(ENDPOINT, headers=bearer(token))).status_code == 200
    revoked = await api.post("/oauth/revoke", data={"token": token},
                             headers=basic(tenant.client_id, tenant.client_secret))
    assert revoked.status_code == 200
    body = await _refused(api, token)
    assert "revoked" in body["detail"]
    # the client's other token is untouched
    assert (await api.get(ENDPOINT, headers=tenant.auth)).status_code == 200


async def test_revocation_by_another_process_holds_within_a_second(api, app, engine,
                                                                  tenant: TenantHandle):
    """Another worker revokes: it writes the row and NOTIFYs; this process hears it."""
    token = await get_token(api, tenant.client_id, tenant.client_secret)
    assert (await api.get(ENDPOINT, headers=bearer(token))).status_code == 200
    claims = jwt.decode(token, options={"verify_signature": False})
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO control.revoked_tokens (jti, expires_at) "
                                "VALUES (:jti, to_timestamp(:exp))"), {"jti": claims["jti"], "exp": claims["exp"]})
        await notify(conn, f"revoked:{claims['jti']}")
    response = None
    for _ in range(40):
        response = await api.get(ENDPOINT, headers=bearer(token))
        if response.status_code != 200:
            break
        await asyncio.sleep(0.05)
    assert response is not None
    assert_problem(response, 401, "unauthenticated")


async def test_suspended_tenant_gets_403_and_reactivation_restores(api, platform, tenant_a: TenantHandle,
                                                                   tenant_b: TenantHandle):
    assert (await api.get(ENDPOINT, headers=tenant_a.auth)).status_code == 200
    suspended = await api.patch(f"/v1/tenants/{tenant_a.id}", json={"status": "suspended"}, headers=platform)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"

    body = assert_problem(await api.get(ENDPOINT, headers=tenant_a.auth), 403)
    assert body["type"].endswith("tenant-suspended")
    # writes too, and the token endpoint refuses new tokens
    assert_problem(await api.post(ENDPOINT, json={"name": "x", "scopes": ["clients:read"]},
                                  headers=tenant_a.auth), 403, "tenant-suspended")
    refused = await api.post("/oauth/token", data={"grant_type": "client_credentials"},
                             headers=basic(tenant_a.client_id, tenant_a.client_secret))
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    # another tenant is unaffected
    assert (await api.get(ENDPOINT, headers=tenant_b.auth)).status_code == 200

    active = await api.patch(f"/v1/tenants/{tenant_a.id}", json={"status": "active"}, headers=platform)
    assert active.status_code == 200, active.text
    assert (await api.get(ENDPOINT, headers=tenant_a.auth)).status_code == 200
    assert (await get_token(api, tenant_a.client_id, tenant_a.client_secret))


async def test_deleted_tenant_gets_401(api, app, engine, tenant_a: TenantHandle, tenant_b: TenantHandle):
    """The tenant row vanishes (deleted by another process, which NOTIFYs): its tokens are 401."""
    assert (await api.get(ENDPOINT, headers=tenant_a.auth)).status_code == 200  # now cached
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM control.tenants WHERE id = :id"), {"id": UUID(tenant_a.id)})
        await notify(conn, f"tenant:{tenant_a.id}")
    response = None
    for _ in range(40):
        response = await api.get(ENDPOINT, headers=tenant_a.auth)
        if response.status_code != 200:
            break
        await asyncio.sleep(0.05)
    assert response is not None
    body = assert_problem(response, 401, "unauthenticated")
    assert "tenant" in body["detail"]
    assert (await api.get(ENDPOINT, headers=tenant_b.auth)).status_code == 200


async def test_token_of_a_tenant_that_never_existed_is_refused(api, app, settings, tenant: TenantHandle):
    await _refused(api, sign_real(app, claims_for(settings, tenant, tid=str(uuid4()))))


# --- scopes --------------------------------------------------------------------------------------


async def test_platform_token_on_a_tenant_endpoint_is_403(api, platform):
    body = assert_problem(await api.get(ENDPOINT, headers=platform), 403, "insufficient-scope")
    assert body["required_scopes"] == ["clients:read"]


async def test_tenant_token_on_the_platform_endpoint_is_403(api, tenant: TenantHandle):
    body = assert_problem(await api.get("/v1/tenants", headers=tenant.auth), 403, "insufficient-scope")
    assert body["required_scopes"] == ["platform:admin"]
    body = assert_problem(await api.post("/v1/tenants", json={"slug": "sneaky", "name": "x"},
                                         headers=tenant.auth), 403, "insufficient-scope")


async def test_tenant_token_claiming_platform_scope_is_still_403(api, app, settings, tenant: TenantHandle):
    """platform:admin in a token that names a tenant does not open the control plane."""
    token = sign_real(app, claims_for(settings, tenant, scope="platform:admin clients:read"))
    body = assert_problem(await api.get("/v1/tenants", headers=bearer(token)), 403, "insufficient-scope")
    assert body["required_scopes"] == ["platform:admin"]


async def test_missing_scope_is_403_with_required_scopes(api, tenant: TenantHandle):
    writer = await get_token(api, tenant.client_id, tenant.client_secret, scope="clients:write")
    body = assert_problem(await api.get(ENDPOINT, headers=bearer(writer)), 403, "insufficient-scope")
    assert body["required_scopes"] == ["clients:read"]
    assert body["code"] == "insufficient_scope"

    reader = await get_token(api, tenant.client_id, tenant.client_secret, scope="clients:read")
    assert (await api.get(ENDPOINT, headers=bearer(reader))).status_code == 200
    body = assert_problem(await api.post(ENDPOINT, json={"name": "x", "scopes": ["clients:read"]},
                                         headers=bearer(reader)), 403, "insufficient-scope")
    assert body["required_scopes"] == ["clients:write"]
