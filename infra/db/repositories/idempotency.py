"""Idempotency records, stored in the same transaction as the effect they guard."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.shared.errors import Conflict
from domain.shared.ports import StoredResponse


class SqlIdempotencyStore:
    def __init__(self, conn: AsyncConnection, table: Table, scope: str, ttl: timedelta) -> None:
        self._conn = conn
        self._table = table
        self._scope = scope  # the schema: keeps advisory-lock keys of two tenants apart
        self._ttl = ttl

    async def claim(self, *, owner: str, key: str, fingerprint: str, now: datetime) -> StoredResponse | None:
        t = self._table
        # A transaction-scoped advisory lock answers "in flight" at once instead of blocking on the
        # unique index until the first request finishes.
        locked = (await self._conn.execute(
            select(func.pg_try_advisory_xact_lock(func.hashtext(self._scope + "/" + owner),
                                                  func.hashtext(key))))).scalar()
        if not locked:
            raise Conflict("a request with this Idempotency-Key is still in flight; retry later",
                           extra={"code": "idempotency_in_flight"})
        await self._conn.execute(t.delete().where(t.c.owner == owner, t.c.key == key,
                                                  t.c.expires_at <= now))
        inserted = (await self._conn.execute(
            insert(t).values(owner=owner, key=key, fingerprint=fingerprint, created_at=now,
                             expires_at=now + self._ttl)
            .on_conflict_do_nothing().returning(t.c.key))).first()
        if inserted is not None:
            return None
        row = (await self._conn.execute(select(t.c.status, t.c.body, t.c.fingerprint).where(
            t.c.owner == owner, t.c.key == key))).one()
        if row.status is None:  # claimed by a transaction that never stored its response
            raise Conflict("a request with this Idempotency-Key is still in flight; retry later",
                           extra={"code": "idempotency_in_flight"})
        return StoredResponse(status=row.status, body=row.body, fingerprint=row.fingerprint)

    async def complete(self, *, owner: str, key: str, status: int, body: bytes, now: datetime) -> None:
        t = self._table
        await self._conn.execute(t.update().where(t.c.owner == owner, t.c.key == key).values(
            status=status, body=body))

    async def purge_expired(self, now: datetime) -> int:
        t = self._table
        result = await self._conn.execute(t.delete().where(t.c.expires_at <= now))
        return int(result.rowcount or 0)


