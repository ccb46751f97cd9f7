"""Domain events: facts in the past tense, published by use cases through their unit of work and
delivered only after the transaction commits (to in-process subscribers, and as jobs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class DomainEvent:
    name: ClassVar[str] = "domain_event"

    def payload(self) -> dict[str, Any]:
        return {k: (str(v) if not isinstance(v, int | float | bool | str | type(None)) else v)
                for k, v in asdict(self).items()}
