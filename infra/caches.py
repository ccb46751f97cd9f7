"""Per-process caches that every request reads: tenants, revoked token ids.

Kept small and explicit; invalidated by LISTEN/NOTIFY (infra.db.notify) and reloaded after
`cache_ttl_seconds` as a fallback, so a suspension or revocation holds on every worker at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.auth.model import TenantRef
from domain.tenants.model import TenantStatus
from infra.auth.keys import KeyStore
from infra.db.tables.control import oauth_clients, revoked_tokens, tenants


@dataclass(frozen=True)
class TenantEntry:
    id: UUID
    slug: str
    schema: str
    status: TenantStatus
    timezone: str
    currency: str

    def ref(self) -> TenantRef:
        return TenantRef(id=self.id, slug=self.slug, schema=self.schema, timezone=self.timezone,
                         currency=self.currency)


class TenantRegistry:
    """Tenant id -> schema and status, without a catalog query per request."""

    def __init__(self, engine: AsyncEngine, ttl: float) -> None:
        self._engine = engine
        self._ttl = ttl
        self._entries: dict[UUID, tuple[float, TenantEntry | None]] = {}

    async def get(self, tenant_id: UUID) -> TenantEntry | None:
        cached = self._entries.get(tenant_id)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(
                tenants.c.id, tenants.c.slug, tenants.c.schema_name, tenants.c.status,
                tenants.c.timezone, tenants.c.currency).where(tenants.c.id == tenant_id))).first()
        entry = TenantEntry(id=row.id, slug=row.slug, schema=row.schema_name,
                            status=TenantStatus(row.status), timezone=row.timezone,
                            currency=row.currency) if row else None
        self._entries[tenant_id] = (time.monotonic(), entry)
        return entry

    def evict(self, tenant_id: UUID) -> None:
        self._entries.pop(tenant_id, None)

    def clear(self) -> None:
        self._entries.clear()


class RevokedTokens:
    """Ids of revoked, not yet expired tokens, and clients deleted within the last token lifetime
    (their tokens die with them): sets in memory, reloaded periodically."""

    def __init__(self, engine: AsyncEngine, ttl: float, token_ttl_seconds: int = 3600) -> None:
        self._engine = engine
        self._ttl = ttl
        self._token_ttl = timedelta(seconds=token_ttl_seconds + 60)
        self._jtis: set[str] = set()
        self._clients: set[str] = set()
        self._added_while_loading: set[str] = set()
        self._clients_added_while_loading: set[str] = set()
        self._loaded_at = float("-inf")

    async def contains(self, jti: str) -> bool:
        if time.monotonic() - self._loaded_at >= self._ttl:
            await self.reload()
        return jti in self._jtis

    async def client_deleted(self, client_id: str) -> bool:
        if time.monotonic() - self._loaded_at >= self._ttl:
            await self.reload()
        return client_id in self._clients

    async def reload(self) -> None:
        self._added_while_loading = set()
        self._clients_added_while_loading = set()
        now = datetime.now(UTC)
        async with self._engine.connect() as conn:
            jtis = {row.jti for row in await conn.execute(select(revoked_tokens.c.jti).where(
                revoked_tokens.c.expires_at > now))}
            clients = {row.client_id for row in await conn.execute(select(oauth_clients.c.client_id).where(
                oauth_clients.c.deleted_at > now - self._token_ttl))}
        # A revocation announced while the query ran may not be in its snapshot: keep it.
        self._jtis = jtis | self._added_while_loading
        self._clients = clients | self._clients_added_while_loading
        self._loaded_at = time.monotonic()

    def add(self, jti: str) -> None:
        self._jtis.add(jti)
        self._added_while_loading.add(jti)

    def add_client(self, client_id: str) -> None:
        self._clients.add(client_id)
        self._clients_added_while_loading.add(client_id)


@dataclass
class Caches:
    tenants: TenantRegistry
    revoked: RevokedTokens
    keys: KeyStore

    def handle(self, payload: str) -> None:
        """A LISTEN/NOTIFY message: `tenant:<id>`, `revoked:<jti>`, `client_deleted:<id>`, `keys`."""
        kind, _, value = payload.partition(":")
        if kind == "tenant":
            try:
                self.tenants.evict(UUID(value))
            except ValueError:
                self.tenants.clear()
        elif kind == "revoked":
            self.revoked.add(value)
        elif kind == "client_deleted":
            self.revoked.add_client(value)
        elif kind == "keys":
            self.keys.mark_stale()
