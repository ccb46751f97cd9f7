"""What the products use cases need from storage (filled in by the products work)."""

from __future__ import annotations

from typing import Protocol


class ProductRepository(Protocol):
    """Storage of the products area."""
