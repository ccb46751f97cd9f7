"""Ports of the auth area."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.auth.model import Client, Principal, TenantRef, TokenClaims
from domain.shared.pagination import PageRequest


class ClientRepository(Protocol):
    async def add(self, client: Client) -> None:
        """Insert; raises Conflict when the client_id is taken."""
        ...

    async def get_by_client_id(self, client_id: str) -> Client | None:
        """An active (not deleted) client by its public client_id."""
        ...

    async def get_for_authentication(self, client_id: str) -> tuple[Client, bool] | None:
        """An active client and whether its tenant is active (platform clients: True), in one
        query: this runs on every token request."""
        ...

    async def get(self, id: UUID, *, tenant_id: UUID | None) -> Client | None:
        """An active client by resource id, only if it belongs to `tenant_id`."""
        ...

    async def list(self, *, tenant_id: UUID | None, page: PageRequest) -> list[Client]: ...

    async def update_secret(self, client: Client) -> None: ...

    async def delete(self, id: UUID, *, now: datetime) -> None: ...


class RevocationRepository(Protocol):
    async def revoke(self, *, jti: str, expires_at: datetime) -> None: ...

    async def is_revoked(self, jti: str) -> bool: ...


class TokenSigner(Protocol):
    def sign(self, claims: TokenClaims) -> str: ...


class TokenVerifier(Protocol):
    def verify(self, token: str) -> TokenClaims:
        """Verify signature, algorithm, issuer, audience, expiry; raise Unauthenticated."""
        ...


class Authenticator(Protocol):
    async def authenticate(self, token: str) -> tuple[Principal, TenantRef | None]:
        """Raise Unauthenticated (401) or TenantSuspended (403)."""
        ...
