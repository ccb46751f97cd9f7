"""Housekeeping: expired idempotency keys (kept 24 h), revoked token ids and retired keys past
their last token's expiry, and personal data left in finished imports (the uploaded file after
IMPORT_CONTENT_DAYS, the row-level error details after IMPORT_ERRORS_DAYS: rejected rows quote
names and emails). Idempotent; safe to run on several workers at once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.migrate import quote_schema
from infra.db.tables.control import platform_idempotency_keys, revoked_tokens, signing_keys
from infra.db.tables.tenant import idempotency_keys, imports

IMPORT_CONTENT_DAYS = 7
IMPORT_ERRORS_DAYS = 30


async def purge_expired(engine: AsyncEngine, now: datetime) -> dict[str, int]:
    counts = {"idempotency_keys": 0, "revoked_tokens": 0, "signing_keys": 0, "import_files": 0,
              "import_error_details": 0}
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
            i = imports.c
            done = i.status.in_(("succeeded", "failed"))
            result = await bound.execute(imports.update().where(
                done, i.content.is_not(None), i.created_at <= now - timedelta(days=IMPORT_CONTENT_DAYS))
                .values(content=None))
            counts["import_files"] += int(result.rowcount or 0)
            result = await bound.execute(imports.update().where(
                done, i.errors != [], i.created_at <= now - timedelta(days=IMPORT_ERRORS_DAYS))
                .values(errors=[]))
            counts["import_error_details"] += int(result.rowcount or 0)
    return counts
