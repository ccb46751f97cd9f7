"""What the events use cases need from storage (filled in by the events work)."""

from __future__ import annotations

from typing import Protocol


class EventRepository(Protocol):
    """Storage of the events area."""
