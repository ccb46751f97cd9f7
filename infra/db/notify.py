"""Cache invalidation across processes through PostgreSQL LISTEN/NOTIFY.

Writers call `notify()` inside their transaction; PostgreSQL delivers the message only if the
transaction commits. Every serving process keeps one listening connection (`CacheListener`) and
evicts what the message names. A periodic reload (settings.cache_ttl_seconds) is the fallback for
messages lost while a listener was reconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

CHANNEL = "kizuna_cache"
log = logging.getLogger(__name__)


async def notify(conn: AsyncConnection, payload: str) -> None:
    await conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                       {"channel": CHANNEL, "payload": payload})


class CacheListener:
    def __init__(self, dsn: str, handle: Callable[[str], None]) -> None:
        self._dsn = dsn
        self._handle = handle
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kizuna-cache-listener")

    async def _run(self) -> None:
        while True:
            try:
                self._conn = await asyncpg.connect(self._dsn)
                await self._conn.add_listener(CHANNEL, self._on_message)
                closed = asyncio.Event()
                self._conn.add_termination_listener(lambda _c, ev=closed: ev.set())
                await closed.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the TTL reload covers the gap; keep trying
                log.warning("cache listener lost its connection: %s", exc)
            await asyncio.sleep(1.0)

    def _on_message(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            self._handle(payload)
        except Exception:  # a bad message must not kill the listener
            log.exception("cache invalidation failed for %r", payload)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
