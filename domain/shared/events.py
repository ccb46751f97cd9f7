"""Domain events: facts in the past tense, published by use cases through their unit of work and
delivered only after the transaction commits (to in-process subscribers, and as jobs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, ClassVar


@dataclass(frozen=True)
class DomainEvent:
    name: ClassVar[str] = "domain_event"

    def payload(self) -> dict[str, Any]:
        """JSON-ready: instants as RFC 3339, ids and other values as strings."""
        return {k: _plain(v) for k, v in asdict(self).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, int | float | bool | str | type(None)):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
