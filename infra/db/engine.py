"""Engine creation and the database a process uses (configured server or embedded)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from infra.db.embedded import start_embedded, stop_embedded
from infra.db.urls import asyncpg_url
from infra.settings import Settings


def make_engine(url: str, settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    return create_async_engine(
        asyncpg_url(url),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=False,
        connect_args={
            "prepared_statement_cache_size": settings.db_statement_cache_size,
            "server_settings": {"application_name": "kizuna", "timezone": "UTC"},
        },
    )


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """Yield the URL to use: KIZUNA_DATABASE_URL, or an embedded server kept alive meanwhile."""
    if settings.database_url:
        yield settings.database_url
        return
    url, handle = start_embedded(settings.data_dir)
    try:
        yield url
    finally:
        # Stops the server unless another process still uses the same data folder.
        stop_embedded(handle)
