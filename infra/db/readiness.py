"""What /readyz reports: the database answers and every schema is at its migration head."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.migrate import control_revision, head


async def readiness(engine: AsyncEngine) -> dict[str, Any]:
    control_head, tenant_head = head("control"), head("tenant")
    try:
        async with engine.connect() as conn:
            current = await control_revision(conn)
            behind = None
            if current == control_head:
                behind = (await conn.execute(text(
                    "SELECT count(*) FROM control.tenants WHERE schema_revision IS DISTINCT FROM :h"),
                    {"h": tenant_head})).scalar()
    except Exception:  # unreachable database: report, don't raise
        return {"status": "unavailable", "database": False}
    ready = current == control_head and behind == 0
    return {"status": "ready" if ready else "migrations_pending", "database": True,
            "control_revision": current, "control_head": control_head,
            "tenants_behind": behind, "tenant_head": tenant_head}
