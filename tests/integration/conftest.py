from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.engine import make_engine
from infra.settings import Settings


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, Settings(), pool_size=4)
    yield engine
    await engine.dispose()
