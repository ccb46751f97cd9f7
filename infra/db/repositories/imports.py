"""The imports area in a tenant schema."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection


class SqlImportRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
