"""Housekeeping: expired idempotency keys (kept 24 h), revoked token ids and retired keys past
their last token's expiry. Idempotent; safe to run on several workers at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.migrate import quote_schema
from infra.db.tables.control import platform_idempotency_keys, revoked_tokens, signing_keys
from infra.db.tables.tenant import idempotency_keys


async def purge_expired(engine: AsyncEngine, now: datetime) -> dict[str, int]:
    counts = {"idempotency_keys": 0, "revoked_tokens": 0, "signing_keys": 0}
    async with engine.begin() as conn:
        for table, column, name in (
            (platform_idempotency_keys, platform_idempotency_keys.c.expires_at, "idempotency_keys"),
            (revoked_tokens, revoked_tokens.c.expires_at, "revoked_tokens"),
            (signing_keys, signing_keys.c.expires_at, "signing_keys"),
        ):
            result = await conn.execute(table.delete().where(column <= now))
            counts[name] += int(result.rowcount or 0)
        schemas = (await conn.execute(text("SELECT schema_name FROM control.tenants"))).scalars().all()
    for schema in schemas:
        quote_schema(schema)  # registry names only
        async with engine.begin() as conn:
            bound = await conn.execution_options(schema_translate_map={None: schema})
            result = await bound.execute(idempotency_keys.delete().where(
                idempotency_keys.c.expires_at <= now))
            counts["idempotency_keys"] += int(result.rowcount or 0)
    return counts
