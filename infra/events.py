"""Delivering domain events after commit.

Two routes: in-process subscribers (called after the transaction commits; their failures are
logged, never undo the commit) and jobs (rows inserted into procrastinate's queue inside the same
transaction, so a job exists exactly when its cause committed: a transactional outbox).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from uuid import UUID

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.shared.events import DomainEvent

log = logging.getLogger(__name__)
Subscriber = Callable[[UUID | None, DomainEvent], Awaitable[None] | None]


@dataclass
class EventBus:
    subscribers: dict[str, list[Subscriber]] = field(default_factory=lambda: defaultdict(list))
    # event name -> (queue, task name) of jobs to enqueue for it
    job_routes: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))

    def subscribe(self, event_name: str, handler: Subscriber) -> None:
        self.subscribers[event_name].append(handler)

    def route_to_job(self, event_name: str, *, task_name: str, queue: str = "events") -> None:
        self.job_routes[event_name].append((queue, task_name))

    async def enqueue(self, conn: AsyncConnection, tenant_id: UUID | None, events: list[DomainEvent]) -> None:
        # orjson: an ingest batch's payload lists up to a thousand customer ids
        rows = [{"q": queue, "t": task, "a": orjson.dumps({
                    "tenant_id": str(tenant_id) if tenant_id else None, "event": e.name,
                    "payload": e.payload()}, option=orjson.OPT_NON_STR_KEYS).decode()}
                for e in events for queue, task in self.job_routes.get(e.name, ())]
        if rows:
            # One statement for the whole list (a 1,000-order batch is one insert, not 1,000).
            await conn.execute(text(
                "INSERT INTO control.procrastinate_jobs (queue_name, task_name, priority, args)"
                " SELECT q, t, 0, CAST(a AS jsonb) FROM unnest(CAST(:q AS text[]), CAST(:t AS text[]),"
                " CAST(:a AS text[])) AS j(q, t, a)"),
                {"q": [r["q"] for r in rows], "t": [r["t"] for r in rows], "a": [r["a"] for r in rows]})

    async def deliver(self, tenant_id: UUID | None, events: list[DomainEvent]) -> None:
        for event in events:
            for handler in self.subscribers.get(event.name, ()):
                try:
                    result = handler(tenant_id, event)
                    if result is not None:
                        await result
                except Exception:
                    log.exception("subscriber of %s failed", event.name)


