"""OAuth clients and revoked tokens in the control plane."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.auth.model import Client
from domain.shared.errors import Conflict
from domain.shared.pagination import PageRequest
from infra.db.notify import notify
from infra.db.tables.control import oauth_clients, revoked_tokens, tenants


def _to_domain(row: Any) -> Client:
    return Client(
        id=row.id, client_id=row.client_id, tenant_id=row.tenant_id, name=row.name,
        scopes=tuple(row.scopes), secret_hash=row.secret_hash, created_at=row.created_at,
        previous_secret_hash=row.previous_secret_hash,
        previous_secret_expires_at=row.previous_secret_expires_at,
        secret_rotated_at=row.secret_rotated_at)


_active = oauth_clients.c.deleted_at.is_(None)


class SqlClientRepository:
    def __init__(self, conn: AsyncConnection, on_commit: list[Any] | None = None,
                 forget: Any = None) -> None:
        self._conn = conn
        self._on_commit = on_commit if on_commit is not None else []
        self._forget = forget

    async def add(self, client: Client) -> None:
        inserted = (await self._conn.execute(
            insert(oauth_clients).values(
                id=client.id, client_id=client.client_id, tenant_id=client.tenant_id,
                name=client.name, scopes=list(client.scopes), secret_hash=client.secret_hash,
                created_at=client.created_at)
            .on_conflict_do_nothing().returning(oauth_clients.c.id))).first()
        if inserted is None:
            raise Conflict(f"client id {client.client_id!r} is taken")

    async def get_by_client_id(self, client_id: str) -> Client | None:
        row = (await self._conn.execute(select(oauth_clients).where(
            oauth_clients.c.client_id == client_id, _active))).first()
        return _to_domain(row) if row else None

    async def get_for_authentication(self, client_id: str) -> tuple[Client, bool] | None:
        row = (await self._conn.execute(
            select(oauth_clients, tenants.c.status.label("tenant_status"))
            .select_from(oauth_clients.outerjoin(tenants, tenants.c.id == oauth_clients.c.tenant_id))
            .where(oauth_clients.c.client_id == client_id, _active))).first()
        if row is None:
            return None
        client = _to_domain(row)
        return client, client.tenant_id is None or row.tenant_status == "active"

    async def get(self, id: UUID, *, tenant_id: UUID | None) -> Client | None:
        owner = (oauth_clients.c.tenant_id.is_(None) if tenant_id is None
                 else oauth_clients.c.tenant_id == tenant_id)
        row = (await self._conn.execute(select(oauth_clients).where(
            oauth_clients.c.id == id, owner, _active).with_for_update())).first()
        return _to_domain(row) if row else None

    async def list(self, *, tenant_id: UUID | None, page: PageRequest) -> list[Client]:
        owner = (oauth_clients.c.tenant_id.is_(None) if tenant_id is None
                 else oauth_clients.c.tenant_id == tenant_id)
        query = (select(oauth_clients).where(owner, _active).order_by(oauth_clients.c.id)
                 .limit(page.limit + 1))
        if page.after is not None:
            query = query.where(oauth_clients.c.id > page.after)
        return [_to_domain(row) for row in await self._conn.execute(query)]

    async def update_secret(self, client: Client) -> None:
        await self._conn.execute(oauth_clients.update().where(oauth_clients.c.id == client.id).values(
            secret_hash=client.secret_hash, previous_secret_hash=client.previous_secret_hash,
            previous_secret_expires_at=client.previous_secret_expires_at,
            secret_rotated_at=client.secret_rotated_at))

    async def delete(self, id: UUID, *, now: datetime) -> None:
        # Soft delete: the client_id is never reused, and audit trails keep resolving. Its tokens
        # stop working on every worker (NOTIFY) until they would have expired anyway.
        client_id = (await self._conn.execute(
            oauth_clients.update().where(oauth_clients.c.id == id).values(deleted_at=now)
            .returning(oauth_clients.c.client_id))).scalar()
        if client_id is not None:
            await notify(self._conn, f"client_deleted:{client_id}")
            if self._forget is not None:
                self._on_commit.append(lambda: self._forget(client_id))


class SqlRevocationRepository:
    def __init__(self, conn: AsyncConnection, on_commit: list[Any], remember: Any) -> None:
        self._conn = conn
        self._on_commit = on_commit
        self._remember = remember

    async def revoke(self, *, jti: str, expires_at: datetime) -> None:
        await self._conn.execute(insert(revoked_tokens).values(jti=jti, expires_at=expires_at)
                                 .on_conflict_do_nothing())
        await notify(self._conn, f"revoked:{jti}")
        self._on_commit.append(lambda: self._remember(jti))

    async def is_revoked(self, jti: str) -> bool:
        return (await self._conn.execute(select(revoked_tokens.c.jti).where(
            revoked_tokens.c.jti == jti))).first() is not None
