"""Helpers of the end-to-end tests: paths, the server process, the generated SDK's handle."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KIZUNA = BIN / "kizuna"
GENERATOR = BIN / "openapi-python-client"
SDK_PACKAGE = "kizuna_e2e_sdk"
OPERATOR_ID = "e2e-operator"
OPERATOR_SECRET = "e2e-operator-secret-" + "s" * 40
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class Sdk:
    """The generated package and its sub-modules, named as a user of the SDK would import them."""

    package: ModuleType
    models: ModuleType
    types: ModuleType
    oauth: ModuleType
    tenants: ModuleType
    clients: ModuleType
    health: ModuleType


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a child `kizuna` process: ours without any KIZUNA_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env.update(KIZUNA_DATABASE_URL=database_url, KIZUNA_LOG_FORMAT="json", KIZUNA_LOG_LEVEL="info",
               **extra)
    return env


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process we started, wait, then SIGKILL its process group on timeout. The group
    is the one `start_new_session=True` made for it (its id is the pid), so this never touches
    processes we did not start."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)
    # Workers outliving their parent (they should not) go with the group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int
    log: Path
    database_url: str

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")
