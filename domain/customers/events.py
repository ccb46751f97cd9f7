"""Facts the customer area announces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

from domain.shared.events import DomainEvent


@dataclass(frozen=True)
class CustomerCreated(DomainEvent):
    name: ClassVar[str] = "customer.created"
    customer_id: UUID


@dataclass(frozen=True)
class CustomersMerged(DomainEvent):
    name: ClassVar[str] = "customers.merged"
    source_id: UUID
    target_id: UUID


@dataclass(frozen=True)
class ConsentChanged(DomainEvent):
    name: ClassVar[str] = "consent.changed"
    customer_id: UUID
    channel: str
    status: str


@dataclass(frozen=True)
class CustomerErased(DomainEvent):
    name: ClassVar[str] = "customer.erased"
    customer_id: UUID
