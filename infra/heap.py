"""Garbage-collector settings for long-running processes (API workers, job workers, imports).

Start-up objects (modules, the app, SQLAlchemy's metadata and caches) never die, yet every full
collection walks all of them: in a job worker that was a 100 ms pause every few seconds, which is
most of the incremental metrics refresh's p99 (docs/performance.md). Requests, jobs and CSV rows
allocate many short-lived, acyclic objects; collecting the young generation less often costs
little memory and saves CPU (measured: about 30% of events-ingest CPU).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def settle_after_startup() -> None:
    """Collect once, move every object alive now out of the collector's view, and collect the
    young generation every YOUNG_THRESHOLD allocations instead of 700."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 100)
