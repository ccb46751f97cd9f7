"""What every benchmark needs: a throw-away database, a real `kizuna serve`, statistics, results.

The PostgreSQL server is KIZUNA_DATABASE_URL when set (any database on it: a fresh one is created
beside it and dropped at the end), else the embedded server under .kizuna/, as the tests do.
"""

from __future__ import annotations

import base64
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from infra.db.urls import libpq_url, with_database

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
KIZUNA = str(Path(sys.executable).parent / "kizuna")
PLATFORM_ID = "bench-platform"
PLATFORM_SECRET = "bench-" + secrets.token_urlsafe(32)


@dataclass
class Figure:
    """One measured figure, its baseline from the same run, and the target it is held against."""

    what: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    def line(self) -> str:
        text = f"{self.what}: {self.value:,.2f} {self.unit}"
        if self.baseline is not None:
            text += f"  | baseline {self.baseline_label} {self.baseline:,.2f}, ratio {self.ratio:.3f}"
        if self.target:
            verdict = {True: "met", False: "MISSED", None: "not judged at this size"}[self.met]
            text += f"  | target {self.target}: {verdict}"
        return text


# -- the database server and throw-away databases ---------------------------------------------

@contextmanager
def postgres_server() -> Iterator[str]:
    configured = os.environ.get("KIZUNA_DATABASE_URL")
    if configured:
        yield configured
        return
    from infra.db.embedded import start_embedded

    url, handle = start_embedded(ROOT / ".kizuna")
    try:
        yield url
    finally:
        handle.cleanup()


def admin_sql(server: str, sql: str) -> Any:
    with psycopg.connect(libpq_url(server), autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchone() if cur.description else None


@contextmanager
def throwaway_database(server: str) -> Iterator[str]:
    name = f"kizuna_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin_sql(server, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server, name)
    finally:
        admin_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the kizuna command and server ------------------------------------------------------------

def kizuna_env(url: str) -> dict[str, str]:
    return {**os.environ, "KIZUNA_DATABASE_URL": url, "KIZUNA_BOOTSTRAP_CLIENT_ID": PLATFORM_ID,
            "KIZUNA_BOOTSTRAP_CLIENT_SECRET": PLATFORM_SECRET, "KIZUNA_LOG_LEVEL": "warning"}


def kizuna(url: str, *args: str) -> tuple[float, str]:
    """Run `kizuna ARGS` to completion; returns wall seconds and its stderr's last line."""
    started = time.perf_counter()
    done = subprocess.run([KIZUNA, *args], env=kizuna_env(url), capture_output=True, text=True,
                          check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"kizuna {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return elapsed, lines[-1] if lines else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU each of these processes has used so far (Linux /proc); gone ones are left
    out. Subtract two readings with `cpu_delta`."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two readings by the processes alive at both."""
    return sum(after[pid] - before[pid] for pid in after if pid in before)


def process_tree(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(parents.get(found[-1], []))
    return found


class Server(str):
    """A running server's base URL (usable as the str it is) that also knows the server's pid."""

    pid: int


def wait_until_up(proc: subprocess.Popen[Any], url: str, what: str, log: str) -> None:
    """Until `url` answers (any HTTP status); raises if the process exits or 60 s pass."""
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}; see {log}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start in 60 s")
        time.sleep(0.2)


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM to a server started with start_new_session=True; its own group killed if it hangs."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this process leads, nothing else
        proc.wait()


@contextmanager
def kizuna_server(url: str, *, workers: int) -> Iterator[Server]:
    """`kizuna serve` in its own process group; yields its base URL (with `.pid`); stops it by
    its pid."""
    port = free_port()
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = (RESULTS / f"server-{port}.log").open("w")
    proc = subprocess.Popen([KIZUNA, "serve", "--port", str(port), "--workers", str(workers)],
                            env=kizuna_env(url), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, f"{base}/healthz", "kizuna serve", log.name)
        time.sleep(1.5 if workers > 1 else 0)  # let the other workers finish their start-up
        server = Server(base)
        server.pid = proc.pid
        yield server
    finally:
        stop(proc)
        log.close()
        if Path(log.name).stat().st_size == 0:
            Path(log.name).unlink()  # keep only logs that say something


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def get_token(http: httpx.Client, client_id: str, secret: str) -> str:
    response = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": basic(client_id, secret)})
    response.raise_for_status()
    return str(response.json()["access_token"])


# -- statistics and results -------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _first_line(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine(server: str) -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in _first_line(["lscpu"]).splitlines()
                  if line.startswith("Model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    wrk = shutil.which("wrk")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(), "cpu": model, "ram_gib": round(mem_kb / 2**20, 1),
        "postgresql": admin_sql(server, "SHOW server_version")[0],
        "python": platform.python_version(), "os": platform.platform(),
        "wrk": subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
        .stdout.splitlines()[0] if wrk else None,
    }


def save(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    figures = payload.get("figures", [])
    payload = {**payload, "figures": [{**asdict(f), "ratio": f.ratio} for f in figures]}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


# -- what the load-driving benchmarks share (events, customer_read) ----------------------------

# The end of every wrk script: one JSON line the benchmark reads back (as bench/wrk/report.lua).
WRK_DONE_LUA = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_s": %.6f, "non_2xx": %d, "socket_errors": %d, ' ..
    '"timeouts": %d, "p50_ms": %.3f, "p99_ms": %.3f, "mean_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000))
end
"""


def bench_json(done: subprocess.CompletedProcess[str], what: str) -> dict[str, Any]:
    """The BENCH_JSON line a load generator printed. Raises if it failed, or if any response was
    not 2xx or any socket failed: a benchmark of errors measures nothing."""
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stdout}{done.stderr}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON "))
    load = dict(json.loads(line.removeprefix("BENCH_JSON ")))
    if load["non_2xx"] or load["socket_errors"] or load["timeouts"]:
        raise RuntimeError(f"{what}: {load}")
    return load


def run_wrk(lua: str, url: str, *, connections: int, seconds: int, timeout: str,
            env: dict[str, str], args: tuple[str, ...] = ()) -> dict[str, Any]:
    """wrk with one thread and the script `lua` (which should end with WRK_DONE_LUA)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.lua"
        script.write_text(lua)
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", timeout,
               "-s", str(script), *args, url]
        done = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    return bench_json(done, "wrk")


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables (for the servers a benchmark starts) and restore them after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, command name, command line) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
            found[int(entry.name)] = (int(fields.get("PPid", "0")), fields.get("Name", ""), cmdline)
    return found


def cpu_snapshot(port: int, database: str) -> dict[str, dict[int, float]]:
    """CPU seconds so far, per process, of the `kizuna serve` on `port` (with its workers) and of
    the PostgreSQL backends connected to `database`. Backends of other databases are left out:
    on a shared machine they are someone else's work. Subtract two snapshots with `cpu_spent`."""
    procs = _processes()
    tree = {pid for pid, (_, _, cmd) in procs.items() if "serve" in cmd and f"--port {port}" in cmd}
    while True:
        more = {pid for pid, (ppid, _, _) in procs.items() if ppid in tree} - tree
        if not more:
            break
        tree |= more
    backend = f" {database} "  # a backend's title: "postgres: USER DATABASE HOST STATE"
    postgres = [p for p, (_, name, cmd) in procs.items() if name == "postgres" and backend in cmd]
    return {"server": cpu_seconds(sorted(tree)), "postgres": cpu_seconds(postgres)}


def cpu_spent(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds between two cpu_snapshot readings: of the processes alive at the second, less
    what each had used at the first (all of it for one started in between). A backend that left
    in between is not counted, so PostgreSQL's figure is a lower bound."""
    return {key: sum(cpu - before[key].get(pid, 0.0) for pid, cpu in after[key].items()) for key in after}


def run_alone(name: str, run: Callable[..., tuple[list[Figure], dict[str, Any]]]) -> None:
    """`python -m bench.MODULE [--quick]`: one benchmark with its own database, as `python -m
    bench NAME` runs it."""
    quick = "--quick" in sys.argv
    with postgres_server() as server:
        info = machine(server)
        print(f"machine: {info}", flush=True)
        figures, raw = run(server, quick=quick)
        for figure in figures:
            print("  " + figure.line(), flush=True)
        path = save(name, {"benchmark": name, "quick": quick, "machine": info, "figures": figures,
                           "raw": raw})
        print(f"  raw results: {path}")
