"""OAuth 2 use cases: the client-credentials grant, revocation, introspection, client management."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.auth.model import (
    PLATFORM_ADMIN,
    PLATFORM_SCOPES,
    TENANT_SCOPES,
    Client,
    IssuedClient,
    IssuedToken,
    Principal,
    TokenClaims,
    hash_secret,
    new_client,
    parse_scope,
)
from domain.auth.ports import TokenSigner, TokenVerifier
from domain.shared.clock import Clock
from domain.shared.errors import Conflict, Forbidden, InvalidInput, NotFound, OAuthError, Unauthenticated
from domain.shared.pagination import Page, PageRequest, page_from
from domain.shared.ports import UnitOfWork

MAX_SECRET_OVERLAP = timedelta(days=7)


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    ttl_seconds: int


def _invalid_client() -> OAuthError:
    return OAuthError("invalid_client", "client authentication failed", status=401,
                      headers={"WWW-Authenticate": 'Basic realm="kizuna"'})


async def authenticate_client(*, uow: UnitOfWork, clock: Clock, client_id: str,
                              client_secret: str) -> Client:
    """A client with a matching secret whose tenant (if any) is active."""
    async with uow:
        found = await uow.clients.get_for_authentication(client_id)
    if found is None:
        hash_secret(client_secret)  # same work as a real check: no timing oracle on client ids
        raise _invalid_client()
    client, tenant_active = found
    if not client.verify_secret(client_secret, clock.now()):
        raise _invalid_client()
    if not tenant_active:
        raise OAuthError("invalid_client", "the client's tenant is suspended or gone", status=401)
    return client


async def issue_token(*, uow: UnitOfWork, clock: Clock, signer: TokenSigner, policy: TokenPolicy,
                      client_id: str, client_secret: str, grant_type: str,
                      scope: str | None) -> IssuedToken:
    """RFC 6749 section 4.4: the client-credentials grant."""
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
    client = await authenticate_client(uow=uow, clock=clock, client_id=client_id,
                                       client_secret=client_secret)
    requested = parse_scope(scope)
    if requested:
        extra = [s for s in requested if s not in client.scopes]
        if extra:
            raise OAuthError("invalid_scope", f"scopes not granted to this client: {' '.join(extra)}")
        granted = requested
    else:
        granted = client.scopes
    now = int(clock.now().timestamp())
    claims = TokenClaims(
        iss=policy.issuer, aud=policy.audience, sub=client.client_id, tid=client.tenant_id,
        scope=granted, iat=now, exp=now + policy.ttl_seconds, jti=secrets.token_urlsafe(16))
    return IssuedToken(access_token=signer.sign(claims), expires_in=policy.ttl_seconds, scope=granted)


def _claims_or_none(verifier: TokenVerifier, token: str) -> TokenClaims | None:
    try:
        return verifier.verify(token)
    except Unauthenticated:
        return None


async def revoke_token(*, uow: UnitOfWork, clock: Clock, verifier: TokenVerifier, caller: Client,
                       token: str) -> None:
    """RFC 7009: invalid tokens and other clients' tokens are ignored (200), never an error."""
    claims = _claims_or_none(verifier, token)
    if claims is None or claims.sub != caller.client_id:
        return
    async with uow:
        await uow.revocations.revoke(jti=claims.jti, expires_at=datetime.fromtimestamp(claims.exp, UTC))
        await uow.commit()


async def introspect_token(*, uow: UnitOfWork, verifier: TokenVerifier, caller: Client,
                           token: str) -> TokenClaims | None:
    """RFC 7662: a caller learns about tokens of its own tenant (platform clients: any token);
    everything else is reported inactive."""
    claims = _claims_or_none(verifier, token)
    if claims is None:
        return None
    if not caller.is_platform and claims.tid != caller.tenant_id:
        return None
    async with uow:
        if await uow.revocations.is_revoked(claims.jti):
            return None
        client = await uow.clients.get_by_client_id(claims.sub)
        tenant = await uow.tenants.get(claims.tid) if claims.tid else None
    if client is None or (claims.tid is not None and (tenant is None or not tenant.is_active)):
        return None
    return claims


async def create_client(*, uow: UnitOfWork, clock: Clock, principal: Principal, name: str,
                        scopes: list[str]) -> IssuedClient:
    """A new client of the caller's tenant, holding no scope the caller does not hold itself
    (otherwise `clients:write` would be a way to every other scope)."""
    beyond = sorted(set(scopes) - principal.scopes)
    if beyond and all(s in principal.scopes or _is_known(s) for s in scopes):
        raise Forbidden(f"cannot grant scopes the calling client does not hold: {' '.join(beyond)}")
    tenant_id = principal.tenant_id
    issued = new_client(tenant_id=tenant_id, name=name, scopes=tuple(scopes), now=clock.now())
    async with uow:
        await uow.clients.add(issued.client)
        await uow.commit()
    return issued


def _is_known(scope: str) -> bool:
    return scope in TENANT_SCOPES


async def list_clients(*, uow: UnitOfWork, principal: Principal, page: PageRequest) -> Page[Client]:
    async with uow:
        rows = await uow.clients.list(tenant_id=principal.tenant_id, page=page)
    return page_from(rows, page)


async def delete_client(*, uow: UnitOfWork, clock: Clock, principal: Principal, id: UUID) -> None:
    async with uow:
        client = await uow.clients.get(id, tenant_id=principal.tenant_id)
        if client is None:
            raise NotFound("client", id)
        if client.client_id == principal.client_id:
            raise Conflict("a client cannot delete itself; use another client with clients:write")
        await uow.clients.delete(id, now=clock.now())
        await uow.commit()


async def rotate_client_secret(*, uow: UnitOfWork, clock: Clock, principal: Principal, id: UUID,
                               overlap: timedelta) -> IssuedClient:
    """A new secret; the old one keeps working for `overlap` so deployments can switch over."""
    if overlap < timedelta(0) or overlap > MAX_SECRET_OVERLAP:
        raise InvalidInput(f"overlap must be between 0 and {MAX_SECRET_OVERLAP.days} days",
                           field="overlap_seconds")
    async with uow:
        client = await uow.clients.get(id, tenant_id=principal.tenant_id)
        if client is None:
            raise NotFound("client", id)
        rotated, secret = client.with_new_secret(now=clock.now(), overlap=overlap)
        await uow.clients.update_secret(rotated)
        await uow.commit()
    return IssuedClient(client=rotated, client_secret=secret)


async def ensure_platform_client(*, uow: UnitOfWork, clock: Clock, client_id: str,
                                 client_secret: str) -> Client:
    """Deployments' bootstrap: a platform client with these exact credentials (idempotent; a changed
    secret in the environment replaces the stored one)."""
    async with uow:
        existing = await uow.clients.get_by_client_id(client_id)
        if existing is not None:
            if existing.tenant_id is not None:
                raise Conflict(f"client {client_id!r} belongs to a tenant, not the platform")
            if not existing.verify_secret(client_secret, clock.now()):
                existing = replace(existing, secret_hash=hash_secret(client_secret),
                                   previous_secret_hash=None, previous_secret_expires_at=None,
                                   secret_rotated_at=clock.now())
                await uow.clients.update_secret(existing)
                await uow.commit()
            return existing
        issued = new_client(tenant_id=None, name="bootstrap", scopes=PLATFORM_SCOPES, now=clock.now(),
                            client_id=client_id, secret=client_secret)
        await uow.clients.add(issued.client)
        await uow.commit()
        return issued.client


__all__ = ["PLATFORM_ADMIN", "TokenPolicy", "authenticate_client", "create_client", "delete_client",
           "ensure_platform_client", "introspect_token", "issue_token", "list_clients",
           "revoke_token", "rotate_client_secret"]
