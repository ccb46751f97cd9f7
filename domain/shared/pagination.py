"""Keyset pagination shared by every list: ordered by UUIDv7 id, so creation order and stable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

T = TypeVar("T")

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    after: UUID | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_after: UUID | None


def page_from(rows: Sequence[T], request: PageRequest) -> Page[T]:
    """Rows were fetched with limit + 1: the extra row only says there is a next page."""
    has_more = len(rows) > request.limit
    items = list(rows[: request.limit])
    last = items[-1] if (has_more and items) else None
    return Page(items=items, next_after=getattr(last, "id", None) if last is not None else None)
