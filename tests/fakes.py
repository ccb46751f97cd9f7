"""In-memory twins of the domain ports, for unit tests only (integration tests use PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any
from uuid import UUID

from domain.auth.model import Client, TokenClaims
from domain.shared.errors import Conflict, Unauthenticated
from domain.shared.pagination import PageRequest
from domain.shared.ports import StoredResponse
from domain.tenants.model import Tenant


class FixedClock:
    def __init__(self, at: str | datetime = "2026-11-22T00:00:00+00:00") -> None:
        self.at = datetime.fromisoformat(at) if isinstance(at, str) else at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


class _Store:
    """What a database would hold: survives across units of work, changed only on commit."""

    def __init__(self) -> None:
        self.tenants: dict[UUID, Tenant] = {}
        self.clients: dict[UUID, Client] = {}
        self.deleted_clients: set[UUID] = set()
        self.revoked: dict[str, datetime] = {}
        self.schemas: list[str] = []
        self.idempotency: dict[tuple[str, str], list[Any]] = {}


class FakeTenantRepository:
    def __init__(self, data: _Store) -> None:
        self.data = data

    async def add(self, tenant: Tenant) -> None:
        if any(t.slug == tenant.slug for t in self.data.tenants.values()):
            raise Conflict("slug taken")
        self.data.tenants[tenant.id] = tenant

    async def get(self, tenant_id: UUID) -> Tenant | None:
        return self.data.tenants.get(tenant_id)

    async def get_by_slug(self, slug: str) -> Tenant | None:
        return next((t for t in self.data.tenants.values() if t.slug == slug), None)

    get_for_update = get

    async def update(self, tenant: Tenant) -> None:
        self.data.tenants[tenant.id] = tenant

    async def list(self, page: PageRequest) -> list[Tenant]:
        rows = sorted(self.data.tenants.values(), key=lambda t: t.id)
        if page.after:
            rows = [t for t in rows if t.id > page.after]
        return rows[: page.limit + 1]


class FakeClientRepository:
    def __init__(self, data: _Store) -> None:
        self.data = data

    def _active(self) -> list[Client]:
        return [c for i, c in self.data.clients.items() if i not in self.data.deleted_clients]

    async def add(self, client: Client) -> None:
        if any(c.client_id == client.client_id for c in self.data.clients.values()):
            raise Conflict("client id taken")
        self.data.clients[client.id] = client

    async def get_by_client_id(self, client_id: str) -> Client | None:
        return next((c for c in self._active() if c.client_id == client_id), None)

    async def get_for_authentication(self, client_id: str) -> tuple[Client, bool] | None:
        client = await self.get_by_client_id(client_id)
        if client is None:
            return None
        tenant = self.data.tenants.get(client.tenant_id) if client.tenant_id else None
        return client, client.tenant_id is None or (tenant is not None and tenant.is_active)

    async def get(self, id: UUID, *, tenant_id: UUID | None) -> Client | None:
        return next((c for c in self._active() if c.id == id and c.tenant_id == tenant_id), None)

    async def list(self, *, tenant_id: UUID | None, page: PageRequest) -> list[Client]:
        rows = sorted((c for c in self._active() if c.tenant_id == tenant_id), key=lambda c: c.id)
        if page.after:
            rows = [c for c in rows if c.id > page.after]
        return rows[: page.limit + 1]

    async def update_secret(self, client: Client) -> None:
        self.data.clients[client.id] = client

    async def delete(self, id: UUID, *, now: datetime) -> None:
        self.data.deleted_clients.add(id)


class FakeRevocationRepository:
    def __init__(self, data: _Store) -> None:
        self.data = data

    async def revoke(self, *, jti: str, expires_at: datetime) -> None:
        self.data.revoked[jti] = expires_at

    async def is_revoked(self, jti: str) -> bool:
        return jti in self.data.revoked


class FakeSchemaProvisioner:
    def __init__(self, data: _Store, fail: bool = False) -> None:
        self.data = data
        self.fail = fail

    async def provision(self, schema: str) -> None:
        if self.fail:
            raise RuntimeError("disk full")
        self.data.schemas.append(schema)


class FakeIdempotencyStore:
    def __init__(self, data: _Store) -> None:
        self.data = data

    async def claim(self, *, owner: str, key: str, fingerprint: str, now: datetime) -> StoredResponse | None:
        row = self.data.idempotency.get((owner, key))
        if row is None:
            self.data.idempotency[(owner, key)] = [fingerprint, None, None]
            return None
        if row[1] is None:
            raise Conflict("in flight")
        return StoredResponse(status=row[1], body=row[2], fingerprint=row[0])

    async def complete(self, *, owner: str, key: str, status: int, body: bytes, now: datetime) -> None:
        self.data.idempotency[(owner, key)][1:] = [status, body]


class FakeUnitOfWork:
    """Copies the store on entry and writes it back on commit, so an uncommitted block leaves
    nothing behind, as a rolled-back transaction would."""

    def __init__(self, store: _Store | None = None, *, provision_fails: bool = False) -> None:
        self.store = store or _Store()
        self.provision_fails = provision_fails
        self.committed = 0
        self._depth = 0
        self._work: _Store | None = None
        self._pending_commit = False

    async def __aenter__(self) -> FakeUnitOfWork:
        self._depth += 1
        if self._depth == 1:
            import copy
            self._work = copy.deepcopy(self.store)
            self._pending_commit = False
            self.tenants = FakeTenantRepository(self._work)
            self.clients = FakeClientRepository(self._work)
            self.revocations = FakeRevocationRepository(self._work)
            self.schemas = FakeSchemaProvisioner(self._work, self.provision_fails)
            self.idempotency = FakeIdempotencyStore(self._work)
        return self

    async def commit(self) -> None:
        self._pending_commit = True
        if self._depth == 1:
            self._apply()

    def _apply(self) -> None:
        assert self._work is not None
        self.store.__dict__.update(self._work.__dict__)
        self.committed += 1

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._depth -= 1


@dataclass
class FakeTokens:
    """Signs by writing the claims down; verifies by reading them back."""

    issued: dict[str, TokenClaims]

    def __init__(self) -> None:
        self.issued = {}

    def sign(self, claims: TokenClaims) -> str:
        token = f"tok-{len(self.issued)}"
        self.issued[token] = claims
        return token

    def verify(self, token: str) -> TokenClaims:
        if token not in self.issued:
            raise Unauthenticated("unknown token")
        return self.issued[token]
