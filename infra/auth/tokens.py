"""JWT access tokens (RFC 9068 profile) signed with ES256 by PyJWT, and the request authenticator."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import jwt

from domain.auth.model import Principal, TenantRef, TokenClaims
from domain.shared.errors import TenantSuspended, Unauthenticated
from infra.auth.keys import ALGORITHM, KeyStore
from infra.caches import Caches

REQUIRED_CLAIMS = ["iss", "aud", "sub", "scope", "iat", "exp", "jti"]


class JwtSigner:
    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    def sign(self, claims: TokenClaims) -> str:
        key = self._keys.signing_key()
        payload: dict[str, Any] = {
            "iss": claims.iss, "aud": claims.aud, "sub": claims.sub, "scope": " ".join(claims.scope),
            "iat": claims.iat, "nbf": claims.iat, "exp": claims.exp, "jti": claims.jti,
            "client_id": claims.sub,
        }
        if claims.tid is not None:
            payload["tid"] = str(claims.tid)
        return jwt.encode(payload, key.private, algorithm=ALGORITHM,
                          headers={"kid": key.kid, "typ": "at+jwt"})


class JwtVerifier:
    """Pins the algorithm (no `none`, no HS/ES confusion), issuer, audience, expiry and kid."""

    def __init__(self, keys: KeyStore, *, issuer: str, audience: str, leeway: int = 5) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway

    def verify(self, token: str) -> TokenClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("the access token is malformed") from exc
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated(f"tokens must be signed with {ALGORITHM}")
        kid = header.get("kid")
        key = self._keys.verification_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise Unauthenticated("the token's signing key (kid) is unknown")
        try:
            payload = jwt.decode(
                token, key.public, algorithms=[ALGORITHM], audience=self._audience,
                issuer=self._issuer, leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS, "verify_nbf": True})
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the access token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthenticated("the access token is not valid yet") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the access token is invalid: {exc}") from exc
        # Claims this server signs are strings (tid absent for platform tokens); anything else is
        # malformed, not coerced (UUID(123) would even raise AttributeError: a 500).
        tid_claim = payload.get("tid")
        if ("tid" in payload and not isinstance(tid_claim, str)) or not all(
                isinstance(payload.get(name), str) for name in ("sub", "scope", "jti")):
            raise Unauthenticated("the access token's claims are malformed")
        try:
            tid = UUID(tid_claim) if tid_claim is not None else None
            return TokenClaims(iss=payload["iss"], aud=self._audience, sub=payload["sub"], tid=tid,
                               scope=tuple(payload["scope"].split()), iat=int(payload["iat"]),
                               exp=int(payload["exp"]), jti=payload["jti"])
        except (ValueError, TypeError, KeyError) as exc:
            raise Unauthenticated("the access token's claims are malformed") from exc


class TokenAuthenticator:
    """Bearer token -> principal and tenant, with no database query on the hot path.

    A token's signature is verified once and its claims remembered (bounded, until `exp`):
    an ES256 verification costs about as much as the rest of a small request. Revocation, client
    deletion and tenant status are still checked on every request, from their caches.
    """

    MAX_REMEMBERED = 20_000

    def __init__(self, verifier: JwtVerifier, caches: Caches, *, leeway: int = 5) -> None:
        self._verifier = verifier
        self._caches = caches
        self._leeway = leeway
        self._verified: dict[str, TokenClaims] = {}

    def _remembered(self, token: str) -> TokenClaims | None:
        claims = self._verified.get(token)
        if claims is not None and claims.exp + self._leeway <= time.time():
            del self._verified[token]
            raise Unauthenticated("the access token has expired")
        return claims

    def _remember(self, token: str, claims: TokenClaims) -> None:
        if len(self._verified) >= self.MAX_REMEMBERED:
            # dicts keep insertion order: drop the oldest tenth rather than everything
            for stale in list(self._verified)[: self.MAX_REMEMBERED // 10]:
                del self._verified[stale]
        self._verified[token] = claims

    async def authenticate(self, token: str) -> tuple[Principal, TenantRef | None]:
        keys = self._caches.keys
        await keys.refresh_if_stale()
        claims = self._remembered(token)
        if claims is None:  # a key outlives every token it signed, so exp alone bounds a hit
            claims = await self._verify(keys, token)
            self._remember(token, claims)
        return await self._bind(claims)

    async def _verify(self, keys: KeyStore, token: str) -> TokenClaims:
        try:
            return self._verifier.verify(token)
        except Unauthenticated:
            # A key created by another worker moments ago: look once more before refusing.
            if not _kid_known(keys, token):
                await keys.reload_unless_recent(1.0)
                return self._verifier.verify(token)
            raise

    async def _bind(self, claims: TokenClaims) -> tuple[Principal, TenantRef | None]:
        if await self._caches.revoked.contains(claims.jti):
            raise Unauthenticated("the access token has been revoked")
        if await self._caches.revoked.client_deleted(claims.sub):
            raise Unauthenticated("the token's client has been deleted")
        tenant = None
        if claims.tid is not None:
            entry = await self._caches.tenants.get(claims.tid)
            if entry is None:
                raise Unauthenticated("the token's tenant does not exist")
            if not entry.status == "active":
                raise TenantSuspended(claims.tid)
            tenant = TenantRef(id=entry.id, slug=entry.slug, schema=entry.schema,
                               timezone=entry.timezone, currency=entry.currency)
        principal = Principal(client_id=claims.sub, tenant_id=claims.tid,
                              scopes=frozenset(claims.scope), jti=claims.jti, expires_at=claims.exp)
        return principal, tenant


def _kid_known(keys: KeyStore, token: str) -> bool:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return True  # malformed: reloading keys would not help
    return isinstance(kid, str) and keys.verification_key(kid) is not None
