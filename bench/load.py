"""Drive an endpoint for a fixed time from a separate process: wrk when installed, else bench.loadgen."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent / "wrk" / "report.lua"
CONNECTIONS = 16


@dataclass
class Load:
    tool: str
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def tool() -> str:
    wanted = os.environ.get("BENCH_LOADGEN", "auto")
    if wanted == "wrk" or (wanted == "auto" and shutil.which("wrk")):
        return "wrk"
    return "python"


def drive(url: str, *, seconds: float, method: str = "GET", headers: tuple[str, ...] = (),
          body: str = "", connections: int = CONNECTIONS) -> Load:
    which = tool()
    if which == "wrk":
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{round(seconds)}s", "--latency", "-s", str(LUA)]
        cmd += [arg for header in headers for arg in ("-H", header)] + [url]
    else:
        cmd = [sys.executable, "-m", "bench.loadgen", url, "--method", method, "--body", body,
               "--duration", str(seconds), "--connections", str(connections)]
        cmd += [arg for header in headers for arg in ("--header", header)]
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False,
                          cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"{which} failed ({done.returncode}): {done.stdout}{done.stderr}")
    line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return Load(tool=which, requests=data["requests"], seconds=data["duration_s"],
                non_2xx=data["non_2xx"], socket_errors=data["socket_errors"] + data["timeouts"],
                p50_ms=data["p50_ms"], p99_ms=data["p99_ms"])
