"""Fire-and-forget tasks for cache refreshes: started, referenced by their owner, and their
failure logged by the owner instead of surfacing as "Task exception was never retrieved"."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # marks it retrieved; anyone awaiting the task still gets it


def start(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    task = asyncio.create_task(coro)
    task.add_done_callback(_retrieve)
    return task
