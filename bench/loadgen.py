"""A small HTTP/1.1 keep-alive load generator, used when `wrk` is not installed.

Runs in its own process (`python -m bench.loadgen URL ...`) and prints one JSON line like the wrk
script does. It is Python: on a 2-core machine it competes with the server for CPU and can be the
bottleneck, so its absolute numbers are lower than wrk's; ratios in one run stay comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


def _request(method: str, url: str, headers: list[str], body: str) -> bytes:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", *headers]
    if body:
        lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


async def _connection(host: str, port: int, raw: bytes, deadline: float, latencies: list[float],
                      counts: dict[str, int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            counts["non_2xx"] += not 200 <= status < 300
    except (OSError, asyncio.IncompleteReadError):
        counts["socket_errors"] += 1
    finally:
        writer.close()


async def run(url: str, *, method: str, headers: list[str], body: str, duration: float,
              connections: int) -> dict[str, float]:
    parts = urlsplit(url)
    raw = _request(method, url, headers, body)
    latencies: list[float] = []
    counts = {"non_2xx": 0, "socket_errors": 0}
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*(_connection(parts.hostname or "127.0.0.1", parts.port or 80, raw, deadline,
                                       latencies, counts) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    pick = (lambda p: latencies[max(0, int(p * n + 0.999999) - 1)] * 1000) if n else (lambda p: 0.0)
    return {"requests": n, "duration_s": elapsed, **counts, "timeouts": 0, "p50_ms": pick(0.5),
            "p99_ms": pick(0.99), "mean_ms": sum(latencies) / n * 1000 if n else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--body", default="")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(run(args.url, method=args.method, headers=args.header, body=args.body,
                             duration=args.duration, connections=args.connections))
    print("BENCH_JSON " + json.dumps(result))


if __name__ == "__main__":
    main()
