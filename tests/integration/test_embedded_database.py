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


def test_a_user_killed_without_cleanup_does_not_keep_the_server_running(tmp_path):
    import json
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with database(Settings(database_url=None, data_dir=tmp_path)):
        users = tmp_path / "pgdata" / ".handle_pids.json"
        # a process that started the server and died by SIGKILL left its pid behind
        users.write_text(json.dumps([*json.loads(users.read_text()), dead.pid]))
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()


def test_serve_stops_the_embedded_server_on_sigterm(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    from tests.e2e.support import free_port

    kizuna = str(Path(sys.executable).parent / "kizuna")
    env = {k: v for k, v in os.environ.items() if k != "KIZUNA_DATABASE_URL"} | {
        "KIZUNA_DATA_DIR": str(tmp_path), "KIZUNA_LOG_LEVEL": "warning"}
    subprocess.run([kizuna, "migrate"], env=env, check=True, capture_output=True, timeout=120)
    port = free_port()
    proc = subprocess.Popen([kizuna, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        pid = int((tmp_path / "pgdata" / "postmaster.pid").read_text().split()[0])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
