"""What every batch endpoint shares: its size limit and how one refused item is reported."""

from __future__ import annotations

from dataclasses import dataclass

from domain.shared.errors import DomainError

MAX_BATCH = 1000  # items per batch request (orders, products, events)


@dataclass(frozen=True)
class ItemError:
    """Why item `index` of a batch was refused; the other items are unaffected."""

    index: int
    error: DomainError
