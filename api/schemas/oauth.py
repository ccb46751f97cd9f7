"""OAuth 2 response bodies (RFC 6749, 7662, 8414)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(examples=[3600])
    scope: str = Field(examples=["customers:read customers:write"])


class OAuthErrorBody(BaseModel):
    error: Literal["invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                   "unsupported_grant_type", "invalid_scope"]
    error_description: str


class IntrospectionResponse(BaseModel):
    active: bool
    scope: str | None = None
    client_id: str | None = None
    sub: str | None = None
    tid: str | None = None
    token_type: str | None = None
    exp: int | None = None
    iat: int | None = None
    iss: str | None = None
    aud: str | None = None
    jti: str | None = None


class Jwk(BaseModel):
    kty: str
    crv: str
    x: str
    y: str
    kid: str
    alg: str
    use: str


class Jwks(BaseModel):
    keys: list[Jwk]


class ServerMetadata(BaseModel):
    issuer: str
    token_endpoint: str
    jwks_uri: str
    revocation_endpoint: str
    introspection_endpoint: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    introspection_endpoint_auth_methods_supported: list[str]
    scopes_supported: list[str]
    response_types_supported: list[str]
    token_endpoint_auth_signing_alg_values_supported: list[str] | None = None
