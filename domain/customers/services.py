"""Customer use cases: profiles, identities, consents, merging, and resolving a reference."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.customers.attributes import AttributeDefinition, validate_definition
from domain.customers.events import ConsentChanged, CustomerCreated, CustomersMerged
from domain.customers.model import (
    Channel,
    Consent,
    ConsentDecision,
    ConsentStatus,
    Customer,
    CustomerRef,
    CustomerStatus,
    Identity,
    identity_type,
    normalise_identity,
)
from domain.customers.ports import CustomerFilter
from domain.customers.profile import normalise_profile
from domain.shared.clock import Clock
from domain.shared.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from domain.shared.ids import new_id
from domain.shared.pagination import Page, PageRequest, page_from
from domain.shared.ports import UnitOfWork

MAX_MERGE_HOPS = 32


def _today(clock: Clock, timezone: str) -> Any:
    return clock.now().astimezone(ZoneInfo(timezone)).date()


async def _claim(uow: UnitOfWork, customer: Customer, pairs: list[tuple[str, str]], now: datetime) -> None:
    taken = await uow.customers.claim_identities(customer.id, pairs, now)
    if taken:
        kind, value, owner = taken[0]
        raise Conflict(f"{kind} {value!r} already belongs to customer {owner}",
                       extra={"code": "identity_taken", "customer_id": str(owner), "identity_type": kind})


async def create_customer(*, uow: UnitOfWork, clock: Clock, timezone: str,
                          fields: dict[str, Any]) -> Customer:
    """A new customer; its email, phone, LINE user id and external id become identities, which
    must be free (409 names the customer holding one)."""
    now = clock.now()
    async with uow:
        values = normalise_profile(fields, today=_today(clock, timezone),
                                   definitions=await uow.attribute_definitions.all(), creating=True)
        customer = Customer(id=new_id(), created_at=now, updated_at=now, **values)
        await uow.customers.add(customer)
        await _claim(uow, customer, customer.identities(), now)
        uow.publish(CustomerCreated(customer_id=customer.id))
        await uow.commit()
    return customer


async def _follow(uow: UnitOfWork, customer_id: UUID) -> Customer | None:
    customer = await uow.customers.get(customer_id)
    hops = 0
    while customer is not None and customer.status is CustomerStatus.MERGED and customer.merged_into:
        hops += 1
        if hops > MAX_MERGE_HOPS:  # pragma: no cover - merges never form cycles
            raise Conflict("merge chain too long")
        customer = await uow.customers.get(customer.merged_into)
    return customer


@dataclass(frozen=True)
class Resolved:
    customer: Customer
    requested_id: UUID

    @property
    def redirected(self) -> bool:
        return self.customer.id != self.requested_id


async def get_customer(*, uow: UnitOfWork, customer_id: UUID) -> Resolved:
    """A merged customer's id resolves to the customer it was merged into."""
    async with uow:
        customer = await _follow(uow, customer_id)
    if customer is None or customer.status is CustomerStatus.ERASED:
        raise NotFound("customer", customer_id)
    return Resolved(customer=customer, requested_id=customer_id)


async def list_customers(*, uow: UnitOfWork, filters: CustomerFilter, page: PageRequest) -> Page[Customer]:
    async with uow:
        rows = await uow.customers.search(filters, page)
    return page_from(rows, page)


async def _update(uow: UnitOfWork, clock: Clock, timezone: str, current: Customer,
                  fields: dict[str, Any]) -> Customer:
    now = clock.now()
    values = normalise_profile(fields, today=_today(clock, timezone),
                               definitions=await uow.attribute_definitions.all(), creating=False)
    if values.get("attributes"):
        merged = {**current.attributes, **values["attributes"]}
        values["attributes"] = {k: v for k, v in merged.items() if v is not None}
    updated = current.bump(now, **values)
    before, after = set(current.identities()), set(updated.identities())
    await uow.customers.release_identities(current.id, sorted(before - after))
    await _claim(uow, updated, sorted(after - before), now)
    await uow.customers.update(updated)
    return updated


async def update_customer(*, uow: UnitOfWork, clock: Clock, timezone: str, customer_id: UUID,
                          fields: dict[str, Any], expected_version: int | None = None) -> Customer:
    """PATCH: only the given fields change; `attributes` merges key by key (null removes one)."""
    async with uow:
        current = (await uow.customers.lock([customer_id])).get(customer_id)
        if current is None or current.status is not CustomerStatus.ACTIVE:
            raise NotFound("customer", customer_id)
        # Invalid input is reported as such (422) before a stale If-Match (412).
        normalise_profile(fields, today=_today(clock, timezone),
                          definitions=await uow.attribute_definitions.all(), creating=False)
        if expected_version is not None and expected_version != current.version:
            raise PreconditionFailed("the customer changed since it was read (If-Match does not match)")
        updated = await _update(uow, clock, timezone, current, fields)
        await uow.commit()
    return updated


async def upsert_by_external_id(*, uow: UnitOfWork, clock: Clock, timezone: str, external_id: str,
                                fields: dict[str, Any]) -> tuple[Customer, bool]:
    """PUT by the caller's own id: creates, or updates the given fields. Returns (customer, created)."""
    key = normalise_identity("external_id", external_id, field="external_id")
    fields = {**fields, "external_id": key}
    async with uow:
        owner = await uow.customers.find_by_identity("external_id", key)
        if owner is None:
            customer = await create_customer(uow=uow, clock=clock, timezone=timezone, fields=fields)
            await uow.commit()
            return customer, True
        current = (await uow.customers.lock([owner])).get(owner)
        assert current is not None
        updated = await _update(uow, clock, timezone, current, fields)
        await uow.commit()
    return updated, False


async def resolve_customer(*, uow: UnitOfWork, clock: Clock, ref: CustomerRef,
                           create_unknown: bool = True) -> UUID:
    """The customer a reference names, inside the caller's unit of work. Documented rule: an id
    must exist (else 404, merged ids follow their merge); an unknown identity creates a customer
    holding just that identity, so events and orders from new people are never lost."""
    if ref.id is not None:
        customer = await _follow(uow, ref.id)
        if customer is None or customer.status is CustomerStatus.ERASED:
            raise NotFound("customer", ref.id)
        return customer.id
    assert ref.identity_type is not None and ref.identity_value is not None
    found = await uow.customers.find_by_identity(ref.identity_type, ref.identity_value)
    if found is not None:
        return found
    if not create_unknown:
        raise NotFound("customer", f"{ref.identity_type}={ref.identity_value}")
    now = clock.now()
    profile: dict[str, Any] = {ref.identity_type: ref.identity_value}
    customer = Customer(id=new_id(), created_at=now, updated_at=now, **profile)
    await uow.customers.add(customer)
    taken = await uow.customers.claim_identities(customer.id, customer.identities(), now)
    if taken:  # another transaction created it a moment ago: use that one
        raise Conflict("the customer was created concurrently; retry", extra={"code": "retry"})
    uow.publish(CustomerCreated(customer_id=customer.id))
    return customer.id


async def list_identities(*, uow: UnitOfWork, customer_id: UUID) -> list[Identity]:
    async with uow:
        customer = await _follow(uow, customer_id)
        if customer is None or customer.status is CustomerStatus.ERASED:
            raise NotFound("customer", customer_id)
        return await uow.customers.identities(customer.id)


async def add_identity(*, uow: UnitOfWork, clock: Clock, customer_id: UUID, kind: str,
                       value: str) -> Identity:
    kind = identity_type(kind)
    normalised = normalise_identity(kind, value)
    async with uow:
        customer = (await uow.customers.lock([customer_id])).get(customer_id)
        if customer is None or customer.status is not CustomerStatus.ACTIVE:
            raise NotFound("customer", customer_id)
        await _claim(uow, customer, [(kind, normalised)], clock.now())
        await uow.commit()
    return Identity(type=kind, value=normalised, customer_id=customer_id, created_at=clock.now())


async def remove_identity(*, uow: UnitOfWork, customer_id: UUID, kind: str, value: str) -> None:
    kind = identity_type(kind)
    normalised = normalise_identity(kind, value)
    async with uow:
        customer = (await uow.customers.lock([customer_id])).get(customer_id)
        if customer is None or customer.status is not CustomerStatus.ACTIVE:
            raise NotFound("customer", customer_id)
        held = {(i.type, i.value) for i in await uow.customers.identities(customer_id)}
        if (kind, normalised) not in held:
            raise NotFound("identity", f"{kind}={normalised}")
        if (kind, normalised) in set(customer.identities()):
            raise Conflict(f"{kind} is a profile field of this customer; change the profile instead")
        await uow.customers.release_identities(customer_id, [(kind, normalised)])
        await uow.commit()


async def set_consent(*, uow: UnitOfWork, clock: Clock, actor: str, customer_id: UUID, channel: str,
                      status: str, source: str | None, occurred_at: datetime | None) -> Consent:
    """Record a decision. The history keeps every decision; the current state is the most recent
    by `occurred_at` (a late-arriving older decision is kept in history but changes nothing)."""
    try:
        wanted_channel, wanted_status = Channel(channel), ConsentStatus(status)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="channel" if "Channel" in str(exc) else "status") from exc
    now = clock.now()
    occurred = occurred_at or now
    if occurred.tzinfo is None:
        raise InvalidInput("occurred_at needs a UTC offset", field="occurred_at")
    if occurred > now:
        raise InvalidInput("occurred_at is in the future", field="occurred_at")
    async with uow:
        customer = (await uow.customers.lock([customer_id])).get(customer_id)
        if customer is None or customer.status is not CustomerStatus.ACTIVE:
            raise NotFound("customer", customer_id)
        current = {c.channel: c for c in await uow.customers.consents(customer_id)}.get(wanted_channel)
        decision = ConsentDecision(id=new_id(), customer_id=customer_id, channel=wanted_channel,
                                   status=wanted_status, source=source, actor=actor,
                                   occurred_at=occurred, recorded_at=now)
        newer = current is None or occurred >= current.occurred_at
        state = Consent(customer_id=customer_id, channel=wanted_channel, status=wanted_status,
                        source=source, occurred_at=occurred, recorded_at=now) if newer else current
        await uow.customers.record_consent(decision, state if newer else None)
        if newer and (current is None or current.status != wanted_status):
            uow.publish(ConsentChanged(customer_id=customer_id, channel=wanted_channel.value,
                                       status=wanted_status.value))
        await uow.commit()
    assert state is not None
    return state


async def list_consents(*, uow: UnitOfWork, customer_id: UUID) -> list[Consent]:
    async with uow:
        customer = await _follow(uow, customer_id)
        if customer is None or customer.status is CustomerStatus.ERASED:
            raise NotFound("customer", customer_id)
        return await uow.customers.consents(customer.id)


@dataclass(frozen=True)
class MergeReport:
    target: Customer
    source_id: UUID
    identities_moved: int
    consents: dict[str, str]  # channel -> which side's decision won
    attribute_conflicts: dict[str, dict[str, Any]]  # name -> {"kept": ..., "dropped": ...}
    moved: dict[str, int]
    already_merged: bool = False


async def merge_customers(*, uow: UnitOfWork, clock: Clock, actor: str, target_id: UUID,
                          source_id: UUID) -> MergeReport:
    """Fold `source` into `target`: identities, consents (most recent decision per channel wins),
    tags (union), attributes (target wins; conflicts reported), orders and events. The source id
    then resolves to the target. Idempotent: merging again reports the earlier merge. Both rows are
    locked in id order, so concurrent writes and merges serialise instead of interleaving."""
    if target_id == source_id:
        raise InvalidInput("a customer cannot be merged into itself", field="source_customer_id")
    now = clock.now()
    async with uow:
        locked = await uow.customers.lock([target_id, source_id])
        target, source = locked.get(target_id), locked.get(source_id)
        if target is None or target.status is CustomerStatus.MERGED:
            raise NotFound("customer", target_id)
        if target.status is CustomerStatus.ERASED:
            raise Conflict("cannot merge into an erased customer", extra={"code": "customer_erased"})
        if source is None:
            raise NotFound("customer", source_id)
        if source.status is CustomerStatus.MERGED:
            if source.merged_into == target_id:
                return MergeReport(target=target, source_id=source_id, identities_moved=0, consents={},
                                   attribute_conflicts={}, moved={}, already_merged=True)
            raise Conflict("the source was already merged into another customer")
        if source.status is CustomerStatus.ERASED:
            raise Conflict("cannot merge an erased customer", extra={"code": "customer_erased"})

        # consents: most recent decision per channel wins
        theirs = {c.channel: c for c in await uow.customers.consents(source_id)}
        ours = {c.channel: c for c in await uow.customers.consents(target_id)}
        consent_report: dict[str, str] = {}
        for channel, decision in theirs.items():
            mine = ours.get(channel)
            if mine is None or decision.occurred_at > mine.occurred_at:
                consent_report[channel.value] = "source"
                state = replace(decision, customer_id=target_id, recorded_at=now)
                await uow.customers.record_consent(ConsentDecision(
                    id=new_id(), customer_id=target_id, channel=channel, status=decision.status,
                    source=f"merge:{source_id}", actor=actor, occurred_at=decision.occurred_at,
                    recorded_at=now), state)
            else:
                consent_report[channel.value] = "target"
        await uow.customers.move_consent_history(source_id, target_id)
        await uow.customers.delete_consents(source_id)

        conflicts = {k: {"kept": target.attributes[k], "dropped": v}
                     for k, v in source.attributes.items()
                     if k in target.attributes and target.attributes[k] != v}
        profile_gaps = {f: getattr(source, f) for f in (
            "family_name", "given_name", "family_name_kana", "given_name_kana", "birth_date", "gender")
            if getattr(target, f) is None and getattr(source, f) is not None}
        moved_identities = await uow.customers.move_identities(source_id, target_id)
        merged_target = target.bump(
            now, tags=tuple(sorted(set(target.tags) | set(source.tags))),
            attributes={**source.attributes, **target.attributes},
            acquisition=target.acquisition or source.acquisition,
            # profile fields that are identities move with them when the target has none
            external_id=target.external_id or source.external_id, email=target.email or source.email,
            phone=target.phone or source.phone, line_user_id=target.line_user_id or source.line_user_id,
            **profile_gaps)
        await uow.customers.update(merged_target)
        await uow.customers.update(source.bump(now, status=CustomerStatus.MERGED, merged_into=target_id,
                                               external_id=None, email=None, phone=None,
                                               line_user_id=None))
        moved = await uow.customers.move_activity(source_id, target_id)
        moved.update(await uow.loyalty.move_memberships(source_id, target_id))
        report = MergeReport(target=merged_target, source_id=source_id, identities_moved=moved_identities,
                             consents=consent_report, attribute_conflicts=conflicts, moved=moved)
        await uow.customers.record_merge(
            id=new_id(), source=source_id, target=target_id, actor=actor, now=now,
            report={"identities_moved": moved_identities, "consents": consent_report,
                    "attribute_conflicts": conflicts, "moved": moved})
        uow.publish(CustomersMerged(source_id=source_id, target_id=target_id))
        await uow.commit()
    return report


async def list_attribute_definitions(*, uow: UnitOfWork) -> list[AttributeDefinition]:
    async with uow:
        return list((await uow.attribute_definitions.all()).values())


async def put_attribute_definition(*, uow: UnitOfWork, clock: Clock,
                                   definition: AttributeDefinition) -> AttributeDefinition:
    """Declare (or change) a custom attribute's type. Existing values are not rewritten; they are
    checked the next time a customer's attributes change."""
    validate_definition(definition)
    async with uow:
        await uow.attribute_definitions.put(definition, clock.now())
        await uow.commit()
    return definition


async def delete_attribute_definition(*, uow: UnitOfWork, name: str) -> None:
    async with uow:
        if not await uow.attribute_definitions.delete(name):
            raise NotFound("attribute definition", name)
        await uow.commit()
