"""What the imports use cases need from storage (filled in by the imports work)."""

from __future__ import annotations

from typing import Protocol


class ImportRepository(Protocol):
    """Storage of the imports area."""
