"""What customer use cases need from storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.customers.attributes import AttributeDefinition
from domain.customers.model import Consent, ConsentDecision, Customer, Identity
from domain.shared.pagination import PageRequest


@dataclass(frozen=True)
class CustomerFilter:
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None
    tag: str | None = None
    created_after: datetime | None = None
    q: str | None = None  # free text over names and kana


class CustomerRepository(Protocol):
    async def add(self, customer: Customer) -> None: ...

    async def get(self, customer_id: UUID) -> Customer | None: ...

    async def lock(self, customer_ids: Sequence[UUID]) -> dict[UUID, Customer]:
        """SELECT ... FOR UPDATE in id order (no deadlock between two merges)."""
        ...

    async def update(self, customer: Customer) -> None: ...

    async def search(self, filters: CustomerFilter, page: PageRequest) -> list[Customer]: ...

    # identities
    async def find_by_identity(self, kind: str, value: str) -> UUID | None: ...

    async def claim_identities(self, customer_id: UUID, pairs: Sequence[tuple[str, str]],
                               now: datetime) -> list[tuple[str, str, UUID]]:
        """Attach identities; returns those already held by another customer (nothing changed for
        them). Race-free: unique (type, value) with ON CONFLICT DO NOTHING."""
        ...

    async def release_identities(self, customer_id: UUID, pairs: Sequence[tuple[str, str]]) -> None: ...

    async def identities(self, customer_id: UUID) -> list[Identity]: ...

    async def move_identities(self, source: UUID, target: UUID) -> int: ...

    # consents
    async def consents(self, customer_id: UUID) -> list[Consent]: ...

    async def consent_history(self, customer_id: UUID, page: PageRequest) -> list[ConsentDecision]: ...

    async def record_consent(self, decision: ConsentDecision, current: Consent | None) -> None:
        """Append the decision; replace the current state with `current` when given."""
        ...

    async def move_consent_history(self, source: UUID, target: UUID) -> None: ...

    async def delete_consents(self, customer_id: UUID) -> None: ...

    # merges
    async def record_merge(self, *, id: UUID, source: UUID, target: UUID, actor: str,
                           report: dict[str, Any], now: datetime) -> None: ...

    async def move_activity(self, source: UUID, target: UUID) -> dict[str, int]:
        """Re-point orders and events (and later areas' rows) from source to target."""
        ...

    # personal data rights
    async def merged_sources(self, customer_id: UUID) -> list[UUID]:
        """Ids merged into this customer, directly or through other merges."""
        ...

    async def activity(self, customer_ids: Sequence[UUID]) -> dict[str, list[dict[str, Any]]]:
        """Everything recorded about these customers outside the profile: orders with lines and
        refunds, events, consent history, merges, erasures, as JSON-ready dicts."""
        ...

    async def erase(self, customer: Customer, *, actor: str, reason: str | None,
                    now: datetime) -> dict[str, int]:
        """Delete identities, consents and free text; de-identify events; keep orders (revenue
        stays right); record the erasure. Returns counts of what was removed."""
        ...


class AttributeDefinitionRepository(Protocol):
    async def all(self) -> dict[str, AttributeDefinition]: ...

    async def put(self, definition: AttributeDefinition, now: datetime) -> None: ...

    async def delete(self, name: str) -> bool: ...


