"""Per-process caches that every request reads: tenants, revoked token ids.

Kept small and explicit; invalidated by LISTEN/NOTIFY (infra.db.notify) and reloaded after
`cache_ttl_seconds` as a fallback, so a suspension or revocation holds on every worker at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.auth.model import TenantRef
from domain.tenants.model import TenantStatus
from infra import background
from infra.auth.keys import KeyStore
from infra.db.tables.control import oauth_clients, revoked_tokens, tenants

log = logging.getLogger(__name__)


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
    """Tenant id -> schema and status, without a catalog query per request.

    An entry older than the TTL is served while one background query per tenant refreshes it
    (the TTL is only the fallback behind LISTEN/NOTIFY, which evicts at once); an entry not held
    is loaded by one query that concurrent requests share. Before, every request that found an
    entry stale ran its own query: at 1,600 requests/s each expiry was a burst of identical
    queries holding the pool, and the customer read's p99 went from 40 to 300-900 ms
    (docs/performance.md).
    """

    def __init__(self, engine: AsyncEngine, ttl: float) -> None:
        self._engine = engine
        self._ttl = ttl
        self._entries: dict[UUID, tuple[float, TenantEntry | None]] = {}
        self._loading: dict[UUID, asyncio.Task[TenantEntry | None]] = {}
        self._generation: dict[UUID, int] = {}

    async def get(self, tenant_id: UUID) -> TenantEntry | None:
        cached = self._entries.get(tenant_id)
        if cached is not None:
            if time.monotonic() - cached[0] >= self._ttl:
                self._load(tenant_id)  # in the background; this request uses what is held
            return cached[1]
        return await asyncio.shield(self._load(tenant_id))

    def _load(self, tenant_id: UUID) -> asyncio.Task[TenantEntry | None]:
        task = self._loading.get(tenant_id)
        if task is None:
            task = self._loading[tenant_id] = background.start(
                self._query(tenant_id, self._generation.get(tenant_id, 0)))
        return task

    async def _query(self, tenant_id: UUID, generation: int) -> TenantEntry | None:
        try:
            async with self._engine.connect() as conn:
                row = (await conn.execute(select(
                    tenants.c.id, tenants.c.slug, tenants.c.schema_name, tenants.c.status,
                    tenants.c.timezone, tenants.c.currency).where(tenants.c.id == tenant_id))).first()
        except Exception:
            log.warning("tenant registry: loading %s failed; serving what is held", tenant_id,
                        exc_info=True)
            raise
        finally:
            if self._loading.get(tenant_id) is asyncio.current_task():
                del self._loading[tenant_id]
        entry = TenantEntry(id=row.id, slug=row.slug, schema=row.schema_name,
                            status=TenantStatus(row.status), timezone=row.timezone,
                            currency=row.currency) if row else None
        # An eviction (NOTIFY) while the query ran may postdate its snapshot: keep it evicted.
        if self._generation.get(tenant_id, 0) == generation:
            self._entries[tenant_id] = (time.monotonic(), entry)
        return entry

    def evict(self, tenant_id: UUID) -> None:
        self._generation[tenant_id] = self._generation.get(tenant_id, 0) + 1
        self._entries.pop(tenant_id, None)
        self._loading.pop(tenant_id, None)  # a load begun before it must not answer after it

    def clear(self) -> None:
        for tenant_id in list(self._entries):
            self.evict(tenant_id)


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
        self._reloading: asyncio.Task[None] | None = None

    async def contains(self, jti: str) -> bool:
        await self._fresh()
        return jti in self._jtis

    async def client_deleted(self, client_id: str) -> bool:
        await self._fresh()
        return client_id in self._clients

    async def _fresh(self) -> None:
        """Past the TTL, one background reload at a time while requests use the sets held (as
        TenantRegistry, and for the same reason); only the very first load is waited for.
        Revocations announced by NOTIFY are added at once either way."""
        if time.monotonic() - self._loaded_at < self._ttl:
            return
        if self._reloading is None:
            self._reloading = background.start(self._reload_once())
        if self._loaded_at == float("-inf"):
            await asyncio.shield(self._reloading)

    async def _reload_once(self) -> None:
        try:
            await self.reload()
        except Exception:
            log.warning("revoked tokens: reload failed; serving what is held", exc_info=True)
            if self._loaded_at == float("-inf"):
                raise
        finally:
            self._reloading = None

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


class IdentityOwners:
    """The customer that holds an identity, (type, value) -> customer id, per tenant: what
    events ingest would otherwise look up a thousand at a time per batch (2.5-3 ms of PostgreSQL
    CPU and 1 ms of ours for a 1,000-event batch, docs/performance.md).

    Exact, not eventually right: entries are kept under the tenant's identity generation (a number
    a trigger raises with every statement that updates or deletes identities, migration t0008), and
    a reader first reads the generation in its own transaction; entries kept under another number
    are dropped. An owner only changes by such a statement (merge, erasure, a changed email), so an
    entry under the number just read is what a look-up in that transaction would return. Entries
    are added after their transaction commits (a rolled-back insert is never remembered). Bounded:
    past MAX_ENTRIES in the process everything is dropped and refilled by the next look-ups.
    """

    MAX_ENTRIES = 500_000  # about 150 MB at most; a tenant's active customers, not all of them

    def __init__(self) -> None:
        self._held: dict[str, tuple[int, dict[tuple[str, str], UUID]]] = {}
        self._size = 0

    def under(self, tenant: str, generation: int) -> dict[tuple[str, str], UUID]:
        """The entries of `tenant` (its id) valid under `generation` (read-only for the caller)."""
        held = self._held.get(tenant)
        if held is None or held[0] != generation:
            if held is not None:
                self._size -= len(held[1])
            held = self._held[tenant] = (generation, {})
        return held[1]

    def remember(self, tenant: str, generation: int, owners: dict[tuple[str, str], UUID]) -> None:
        """Owners read under `generation`, once their transaction has committed."""
        entries = self.under(tenant, generation)
        before = len(entries)
        if self._size + len(owners) > self.MAX_ENTRIES:
            self.clear()
            entries, before = self.under(tenant, generation), 0
        entries.update(owners)
        self._size += len(entries) - before

    def clear(self) -> None:
        self._held.clear()
        self._size = 0


@dataclass
class Caches:
    tenants: TenantRegistry
    revoked: RevokedTokens
    keys: KeyStore
    identities: IdentityOwners = field(default_factory=IdentityOwners)

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
