"""What the orders use cases need from storage (filled in by the orders work)."""

from __future__ import annotations

from typing import Protocol


class OrderRepository(Protocol):
    """Storage of the orders area."""
