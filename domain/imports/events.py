"""Facts the imports area announces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

from domain.shared.events import DomainEvent


@dataclass(frozen=True)
class ImportFinished(DomainEvent):
    """An import ran to its end (segments or scores may want to refresh after a large one)."""

    name: ClassVar[str] = "import.finished"
    import_id: UUID
    kind: str
    accepted_rows: int
    rejected_rows: int
