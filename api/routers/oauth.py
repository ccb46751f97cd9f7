"""OAuth 2 authorization server endpoints: token, revocation, introspection, JWKS, metadata."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse

from api.deps import wiring
from api.schemas.oauth import IntrospectionResponse, Jwks, OAuthErrorBody, ServerMetadata, TokenResponse
from domain.auth.model import PLATFORM_SCOPES, TENANT_SCOPES, Client
from domain.auth.services import authenticate_client, introspect_token, issue_token, revoke_token
from domain.shared.errors import OAuthError

router = APIRouter(tags=["oauth"])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_OAUTH_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": OAuthErrorBody, "description": "RFC 6749 error (invalid_request, invalid_scope, ...)"},
    401: {"model": OAuthErrorBody, "description": "invalid_client"},
}

Str = Annotated[str | None, Form()]


def _invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, status=401,
                      headers={"WWW-Authenticate": 'Basic realm="kizuna"'})


def client_credentials(request: Request, form_id: str | None, form_secret: str | None) -> tuple[str, str]:
    """HTTP Basic (RFC 6749 2.3.1: each part form-urlencoded) or client_id/client_secret fields;
    using both is refused, as the RFC says."""
    cid, secret = _client_credentials(request, form_id, form_secret)
    if "\x00" in cid or "\x00" in secret:
        # No client id holds NUL, and PostgreSQL cannot even be asked about one (it would be a 500).
        raise _invalid_client("client authentication failed")
    return cid, secret


def _client_credentials(request: Request, form_id: str | None, form_secret: str | None) -> tuple[str, str]:
    header = request.headers.get("authorization")
    if header and header.lower().startswith("basic "):
        if form_secret:
            raise OAuthError("invalid_request", "use one client authentication method, not two")
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            raw_id, sep, raw_secret = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _invalid_client("malformed Basic credentials") from exc
        if not sep:
            raise _invalid_client("malformed Basic credentials")
        return unquote_plus(raw_id), unquote_plus(raw_secret)
    if form_id and form_secret:
        return form_id, form_secret
    raise _invalid_client("client authentication is required")


async def _authenticated_client(request: Request, client_id: str | None,
                                client_secret: str | None) -> Client:
    w = wiring(request)
    cid, secret = client_credentials(request, client_id, client_secret)
    client = await authenticate_client(uow=w.uow_factory(None, read_only=True), clock=w.clock,
                                          client_id=cid,
                                          client_secret=secret)
    return client


@router.post("/oauth/token", operation_id="oauth_token", response_model=TokenResponse,
             summary="Issue an access token (client credentials grant)", responses=_OAUTH_ERRORS)
async def token(request: Request, grant_type: Str = None, scope: Str = None,
                client_id: Str = None, client_secret: Str = None) -> JSONResponse:
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    w = wiring(request)
    cid, secret = client_credentials(request, client_id, client_secret)
    issued = await issue_token(uow=w.uow_factory(None, read_only=True), clock=w.clock, signer=w.signer,
                               policy=w.token_policy, client_id=cid, client_secret=secret,
                               grant_type=grant_type, scope=scope)
    body = TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in,
                         scope=" ".join(issued.scope))
    return JSONResponse(body.model_dump(), headers=_NO_STORE)


@router.post("/oauth/revoke", operation_id="oauth_revoke", status_code=200,
             summary="Revoke an access token (RFC 7009)", responses=_OAUTH_ERRORS)
async def revoke(request: Request, token: Str = None, token_type_hint: Str = None,
                 client_id: Str = None, client_secret: Str = None) -> Response:
    client = await _authenticated_client(request, client_id, client_secret)
    if not token:
        raise OAuthError("invalid_request", "token is required")
    w = wiring(request)
    await revoke_token(uow=w.uow_factory(None), clock=w.clock, verifier=w.verifier, caller=client,
                       token=token)
    return Response(status_code=200, headers=_NO_STORE)


@router.post("/oauth/introspect", operation_id="oauth_introspect", response_model=IntrospectionResponse,
             summary="Introspect an access token (RFC 7662)", responses=_OAUTH_ERRORS)
async def introspect(request: Request, token: Str = None, token_type_hint: Str = None,
                     client_id: Str = None, client_secret: Str = None) -> JSONResponse:
    client = await _authenticated_client(request, client_id, client_secret)
    if not token:
        raise OAuthError("invalid_request", "token is required")
    w = wiring(request)
    claims = await introspect_token(uow=w.uow_factory(None, read_only=True), verifier=w.verifier,
                                    caller=client, token=token)
    if claims is None:
        return JSONResponse({"active": False}, headers=_NO_STORE)
    body = IntrospectionResponse(
        active=True, scope=" ".join(claims.scope), client_id=claims.sub, sub=claims.sub,
        tid=str(claims.tid) if claims.tid else None, token_type="Bearer", exp=claims.exp,
        iat=claims.iat, iss=claims.iss, aud=claims.aud, jti=claims.jti)
    return JSONResponse(body.model_dump(exclude_none=True), headers=_NO_STORE)


@router.get("/.well-known/jwks.json", operation_id="oauth_jwks", response_model=Jwks,
            summary="Public keys that verify access tokens")
async def jwks(request: Request) -> JSONResponse:
    keys = await wiring(request).jwks()
    return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})


@router.get("/.well-known/oauth-authorization-server", operation_id="oauth_metadata",
            response_model=ServerMetadata, response_model_exclude_none=True,
            summary="Authorization server metadata (RFC 8414)")
async def metadata(request: Request) -> ServerMetadata:
    # RFC 8414 3.3: `issuer` is exactly the tokens' `iss`; only the endpoint URLs drop a trailing /.
    issuer = wiring(request).token_policy.issuer
    base = issuer.rstrip("/")
    methods = ["client_secret_basic", "client_secret_post"]
    return ServerMetadata(
        issuer=issuer, token_endpoint=f"{base}/oauth/token",
        jwks_uri=f"{base}/.well-known/jwks.json", revocation_endpoint=f"{base}/oauth/revoke",
        introspection_endpoint=f"{base}/oauth/introspect",
        grant_types_supported=["client_credentials"],
        token_endpoint_auth_methods_supported=methods,
        revocation_endpoint_auth_methods_supported=methods,
        introspection_endpoint_auth_methods_supported=methods,
        scopes_supported=[*PLATFORM_SCOPES, *TENANT_SCOPES], response_types_supported=[])
