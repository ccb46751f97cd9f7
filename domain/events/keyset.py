"""Newest-first keyset pagination over (occurred_at, id), for lists ordered by when things happened.

The shared pagination (domain.shared.pagination) orders by id, which is creation order; events and
timelines are read in the order they happened, which an id cannot give (events arrive late).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from domain.shared.pagination import DEFAULT_LIMIT

T = TypeVar("T")
Position = tuple[datetime, UUID]  # (occurred_at, id) of the last item of a page


@dataclass(frozen=True)
class KeysetPage:
    """`before`: the position the previous page ended at; items strictly older come next."""

    limit: int = DEFAULT_LIMIT
    before: Position | None = None


@dataclass(frozen=True)
class KeysetResult(Generic[T]):
    items: Sequence[T]
    next_before: Position | None


def keyset_page_from(rows: Sequence[T], page: KeysetPage,
                     position: Callable[[T], Position]) -> KeysetResult[T]:
    """Rows were fetched with limit + 1: the extra row only says there is a next page."""
    items = list(rows[: page.limit])
    more = len(rows) > page.limit and bool(items)
    return KeysetResult(items=items, next_before=position(items[-1]) if more else None)
