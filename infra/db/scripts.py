"""Run a multi-statement SQL script on a SQLAlchemy connection backed by asyncpg.

asyncpg prepares every statement it is given parameters for, and a prepared statement holds one
command; `Connection.execute(sql)` with no arguments uses the simple query protocol instead, which
takes a whole script in one round trip.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.util import await_only


def execute_script(sync_connection: Any, sql: str) -> None:
    """From sync code running under `AsyncConnection.run_sync` (Alembic migrations)."""
    driver = sync_connection.connection.driver_connection
    await_only(driver.execute(sql))


async def execute_script_async(async_connection: Any, sql: str) -> None:
    raw = await async_connection.get_raw_connection()
    await raw.driver_connection.execute(sql)
