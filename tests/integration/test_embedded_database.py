"""Both database paths: a configured server starts nothing; no URL starts the embedded one."""

from __future__ import annotations

import asyncio

import psutil

from infra.db.engine import database, make_engine
from infra.settings import Settings


def test_configured_url_is_used_as_is_and_nothing_is_started(tmp_path):
    url = "postgresql://someone@db.example:5432/kizuna"
    with database(Settings(database_url=url, data_dir=tmp_path)) as used:
        assert used == url
    assert not (tmp_path / "pgdata").exists()


def test_no_url_starts_an_embedded_server_on_a_unix_socket_and_stops_it(tmp_path):
    async def version(url: str) -> str:
        engine = make_engine(url, Settings(), pool_size=1)
        try:
            async with engine.connect() as conn:
                return str((await conn.exec_driver_sql("SHOW server_version")).scalar())
        finally:
            await engine.dispose()

    with database(Settings(database_url=None, data_dir=tmp_path)) as url:
        assert "host=" in url and str(tmp_path) in url  # a socket inside the data folder
        assert asyncio.run(version(url))
        pid = int((tmp_path / "pgdata" / "postmaster.pid").read_text().split()[0])
        assert psutil.pid_exists(pid)
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()
    assert (tmp_path / "pgdata" / "PG_VERSION").exists()  # data kept between runs
