"""Personal data rights (APPI / GDPR): access (export) and erasure."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from domain.customers.events import CustomerErased
from domain.customers.model import Customer, CustomerStatus
from domain.imports.services import stop_imports_for_erasure
from domain.shared.clock import Clock
from domain.shared.errors import NotFound
from domain.shared.ports import UnitOfWork
from domain.shared.text import clean_text

EXPORT_FORMAT = "kizuna.customer_export.v1"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


async def _active(uow: UnitOfWork, customer_id: UUID) -> Customer:
    customer = (await uow.customers.lock([customer_id])).get(customer_id)
    if customer is None or customer.status is not CustomerStatus.ACTIVE:
        # merged ids are not followed: a request about a person names the surviving profile
        raise NotFound("customer", customer_id)
    return customer


async def export_customer(*, uow: UnitOfWork, clock: Clock, customer_id: UUID) -> dict[str, Any]:
    """Everything held about the customer, including what came from customers merged into it."""
    async with uow:
        customer = await _active(uow, customer_id)
        sources = await uow.customers.merged_sources(customer_id)
        identities = await uow.customers.identities(customer_id)
        consents = await uow.customers.consents(customer_id)
        activity = await uow.customers.activity([customer_id, *sources])
    document: dict[str, Any] = _plain({
        "format": EXPORT_FORMAT,
        "generated_at": clock.now(),
        "customer": asdict(customer),
        "merged_customer_ids": sources,
        "identities": [asdict(i) for i in identities],
        "consents": [asdict(c) for c in consents],
        **activity,
    })
    return document


async def erase_customer(*, uow: UnitOfWork, clock: Clock, actor: str, customer_id: UUID,
                         reason: str | None) -> dict[str, Any]:
    """Anonymise the profile and everything that identifies the person, keep de-identified orders
    so revenue, LTV and cohort figures stay right, and record that it happened. Afterwards the id
    is 404 everywhere and none of the person's identities resolve to it: an event sent later with
    the same email creates a new, unrelated customer."""
    note = clean_text(reason, field="reason", max_length=500) if reason else None
    now = clock.now()
    async with uow:
        # first, in the lock order a running import chunk uses (import row, then customers)
        stopped = await stop_imports_for_erasure(uow=uow, clock=clock)
        customer = await _active(uow, customer_id)
        removed = await uow.customers.erase(customer, actor=actor, reason=note, now=now)
        uow.publish(CustomerErased(customer_id=customer_id))
        await uow.commit()
    return {"customer_id": str(customer_id), "erased_at": now.isoformat(),
            "removed": {**removed, "unfinished_imports": stopped}}
