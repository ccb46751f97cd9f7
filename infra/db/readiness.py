"""What /readyz reports: the database answers and every schema is at its migration head."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.migrate import control_revision, head, script_directory


def _older_than_head(tree: str) -> list[str]:
    """Revisions this code knows below its head. A revision it does not know is newer: a deploy
    migrated ahead of this process, which stays ready (migrations are additive, DESIGN.md 7)."""
    top = head(tree)
    return [r.revision for r in script_directory(tree).walk_revisions() if r.revision != top]


async def readiness(engine: AsyncEngine) -> dict[str, Any]:
    control_head, tenant_head = head("control"), head("tenant")
    try:
        async with engine.connect() as conn:
            current = await control_revision(conn)
            control_behind = current is None or current in _older_than_head("control")
            behind = None
            if not control_behind:
                behind = (await conn.execute(text(
                    "SELECT count(*) FROM control.tenants WHERE schema_revision IS NULL"
                    " OR schema_revision = ANY(:older)"), {"older": _older_than_head("tenant")})).scalar()
    except Exception:  # unreachable database: report, don't raise
        return {"status": "unavailable", "database": False}
    ready = not control_behind and behind == 0
    return {"status": "ready" if ready else "migrations_pending", "database": True,
            "control_revision": current, "control_head": control_head,
            "tenants_behind": behind, "tenant_head": tenant_head}
