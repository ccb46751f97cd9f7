"""Customers, identities, consents and merges in a tenant schema (Core SQL, no ORM loading)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import delete, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.customers.attributes import AttributeDefinition, AttributeType
from domain.customers.model import (
    Acquisition,
    Address,
    Channel,
    Consent,
    ConsentDecision,
    ConsentStatus,
    Customer,
    CustomerStatus,
    Gender,
    Identity,
)
from domain.customers.ports import CustomerFilter
from domain.shared.ids import new_id
from domain.shared.pagination import PageRequest
from infra.db.raw import RawSql
from infra.db.tables.tenant import (
    attribute_definitions,
    consent_events,
    consents,
    customer_identities,
    customer_merges,
    customers,
    erasures,
    events,
    idempotency_keys,
    order_lines,
    orders,
    refunds,
)

c = customers.c
_ERASED_RESPONSE = orjson.dumps({
    "type": "https://kizuna.dev/problems/gone", "title": "Gone", "status": 410, "code": "gone",
    "detail": "this response named a customer who has since been erased; it is no longer kept"})
# The hot read (GET /v1/customers/{id}) is raw SQL on the driver: through SQLAlchemy, rendering
# the tenant's schema into the cached statement (a regex pass over its text) and processing the
# result cost a quarter to a third of the request's CPU (docs/performance.md). The columns are
# the table's, as select(customers) reads them.
_COLUMNS = ", ".join(col.name for col in customers.columns)
_BY_ID_SQL = f"SELECT {_COLUMNS} FROM {{s}}.customers WHERE id = $1"  # noqa: S608 - the table's own names


class _Columns:
    """Attribute access over a driver row (a mapping), so `to_domain` reads it like a Core row."""

    __slots__ = ("_row",)

    def __init__(self, row: Mapping[str, Any]) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        return self._row[name]


def _acquisition_json(a: Acquisition | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {"channel": a.channel, "stage": a.stage, "campaign": a.campaign,
            "occurred_at": a.occurred_at.isoformat() if a.occurred_at else None}


def _acquisition(raw: dict[str, Any] | None) -> Acquisition | None:
    if not raw:
        return None
    occurred = raw.get("occurred_at")
    return Acquisition(channel=raw.get("channel"), stage=raw.get("stage"), campaign=raw.get("campaign"),
                       occurred_at=datetime.fromisoformat(occurred) if occurred else None)


def to_row(x: Customer) -> dict[str, Any]:
    return {
        "id": x.id, "external_id": x.external_id, "email": x.email, "phone": x.phone,
        "line_user_id": x.line_user_id, "family_name": x.family_name, "given_name": x.given_name,
        "family_name_kana": x.family_name_kana, "given_name_kana": x.given_name_kana,
        "birth_date": x.birth_date, "gender": x.gender.value if x.gender else None,
        "postal_code": x.address.postal_code, "prefecture": x.address.prefecture,
        "city": x.address.city, "line1": x.address.line1, "line2": x.address.line2,
        "tags": list(x.tags), "attributes": x.attributes, "acquisition": _acquisition_json(x.acquisition),
        "status": x.status.value, "merged_into": x.merged_into, "version": x.version,
        "created_at": x.created_at, "updated_at": x.updated_at, "erased_at": x.erased_at,
    }


def to_domain(r: Any) -> Customer:
    return Customer(
        id=r.id, created_at=r.created_at, updated_at=r.updated_at, external_id=r.external_id,
        email=r.email, phone=r.phone, line_user_id=r.line_user_id, family_name=r.family_name,
        given_name=r.given_name, family_name_kana=r.family_name_kana, given_name_kana=r.given_name_kana,
        birth_date=r.birth_date, gender=Gender(r.gender) if r.gender else None,
        address=Address(postal_code=r.postal_code, prefecture=r.prefecture, city=r.city, line1=r.line1,
                        line2=r.line2),
        tags=tuple(r.tags or ()), attributes=dict(r.attributes or {}),
        acquisition=_acquisition(r.acquisition), status=CustomerStatus(r.status),
        merged_into=r.merged_into, erased_at=r.erased_at, version=r.version)


def _consent(r: Any) -> Consent:
    return Consent(customer_id=r.customer_id, channel=Channel(r.channel), status=ConsentStatus(r.status),
                   source=r.source, occurred_at=r.occurred_at, recorded_at=r.recorded_at)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _jsonable(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row._mapping.items():
        if isinstance(value, datetime | date):
            out[key] = value.isoformat()
        elif isinstance(value, UUID):
            out[key] = str(value)
        elif isinstance(value, bytes):
            continue
        else:
            out[key] = value
    return out


class _PrivacyMixin:
    _conn: AsyncConnection

    async def merged_sources(self, customer_id: UUID) -> list[UUID]:
        m = customer_merges.c
        found: list[UUID] = []
        frontier = [customer_id]
        while frontier:  # merges form a tree; walk it breadth first
            query = select(m.source_id).where(m.target_id.in_(frontier))
            rows = (await self._conn.execute(query)).scalars().all()
            frontier = [r for r in rows if r not in found]
            found.extend(frontier)
        return found

    async def activity(self, customer_ids: Sequence[UUID]) -> dict[str, list[dict[str, Any]]]:
        ids = list(customer_ids)
        o, e, h, m = orders.c, events.c, consent_events.c, customer_merges.c
        order_rows = [_jsonable(r) for r in await self._conn.execute(
            select(orders).where(o.customer_id.in_(ids)).order_by(o.ordered_at))]
        order_ids = [r["id"] for r in order_rows]
        lines: dict[str, list[dict[str, Any]]] = {}
        refunds_by: dict[str, list[dict[str, Any]]] = {}
        if order_ids:
            for r in await self._conn.execute(select(order_lines).where(
                    order_lines.c.order_id.in_(order_ids)).order_by(order_lines.c.line_no)):
                lines.setdefault(str(r.order_id), []).append(_jsonable(r))
            for r in await self._conn.execute(select(refunds).where(refunds.c.order_id.in_(order_ids))):
                refunds_by.setdefault(str(r.order_id), []).append(_jsonable(r))
        for row in order_rows:
            row["lines"] = lines.get(row["id"], [])
            row["refunds"] = refunds_by.get(row["id"], [])
        return {
            "orders": order_rows,
            "events": [_jsonable(r) for r in await self._conn.execute(
                select(events).where(e.customer_id.in_(ids)).order_by(e.occurred_at))],
            "consent_history": [_jsonable(r) for r in await self._conn.execute(
                select(consent_events).where(h.customer_id.in_(ids)).order_by(h.recorded_at))],
            "merges": [_jsonable(r) for r in await self._conn.execute(
                select(customer_merges).where(or_(m.target_id.in_(ids), m.source_id.in_(ids))))],
        }

    async def _forget_stored_responses(self, ids: Sequence[UUID]) -> Any:
        """Responses kept for Idempotency-Key replays (24 h) can quote the person (a customer
        created with their email and name): a replay must not bring them back. Those naming one
        of the customer ids or a distinctive identity (email, phone, LINE user id) answer a 410
        problem from now on; the key stays claimed, so a retry does not run the request again
        (a new customer). Shorter or free-text values (names, external ids like "C1") are not
        searched: they would match other customers' responses and erase nothing of this one's
        that its id does not already name."""
        values = (await self._conn.execute(select(customer_identities.c.value).where(
            customer_identities.c.customer_id.in_(ids),
            customer_identities.c.type.in_(["email", "phone", "line_user_id"])))).scalars().all()
        needles = [str(i) for i in ids] + [v for v in values if len(v) >= 6]
        text_body = func.convert_from(idempotency_keys.c.body, "UTF8")
        return (update(idempotency_keys)
                .where(idempotency_keys.c.body.is_not(None),
                       or_(*[func.strpos(text_body, needle) > 0 for needle in needles]))
                .values(status=410, body=_ERASED_RESPONSE))

    async def erase(self, customer: Customer, *, actor: str, reason: str | None,
                    now: datetime) -> dict[str, int]:
        ids = [customer.id, *await self.merged_sources(customer.id)]
        removed: dict[str, int] = {}

        async def run(name: str, statement: Any) -> None:
            removed[name] = removed.get(name, 0) + int((await self._conn.execute(statement)).rowcount or 0)

        await run("idempotent_responses", await self._forget_stored_responses(ids))

        await run("identities", delete(customer_identities).where(customer_identities.c.customer_id.in_(ids)))
        await run("consents", delete(consents).where(consents.c.customer_id.in_(ids)))
        await run("consent_history", delete(consent_events).where(consent_events.c.customer_id.in_(ids)))
        # events stay as de-identified facts (type, time, touchpoint) for aggregate figures
        await run("event_properties", update(events).where(events.c.customer_id.in_(ids))
                  .values(properties={}))
        blank = {k: None for k in ("external_id", "email", "phone", "line_user_id", "family_name",
                                   "given_name", "family_name_kana", "given_name_kana", "birth_date",
                                   "gender", "postal_code", "prefecture", "city", "line1", "line2",
                                   "acquisition")}
        await run("profiles", update(customers).where(c.id.in_(ids)).values(
            **blank, tags=[], attributes={}, status=CustomerStatus.ERASED.value, erased_at=now,
            updated_at=now, version=c.version + 1))
        await self._conn.execute(erasures.insert().values(
            id=new_id(), customer_id=customer.id, actor=actor, reason=reason, erased_at=now))
        return removed


class SqlCustomerRepository(_PrivacyMixin):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._raw = RawSql(conn)

    async def add(self, customer: Customer) -> None:
        await self._conn.execute(customers.insert().values(**to_row(customer)))

    async def get(self, customer_id: UUID) -> Customer | None:
        row = await self._raw.fetchrow(_BY_ID_SQL, customer_id)
        return to_domain(_Columns(row)) if row else None

    async def lock(self, customer_ids: Sequence[UUID]) -> dict[UUID, Customer]:
        rows = await self._conn.execute(
            select(customers).where(c.id.in_(sorted(set(customer_ids)))).order_by(c.id).with_for_update())
        return {row.id: to_domain(row) for row in rows}

    async def update(self, customer: Customer) -> None:
        row = to_row(customer)
        del row["id"], row["created_at"]
        await self._conn.execute(update(customers).where(c.id == customer.id).values(**row))

    async def search(self, filters: CustomerFilter, page: PageRequest) -> list[Customer]:
        query = select(customers).where(c.status == CustomerStatus.ACTIVE.value)
        if filters.email:
            query = query.where(c.email == filters.email)
        if filters.phone:
            query = query.where(c.phone == filters.phone)
        if filters.external_id:
            query = query.where(c.external_id == filters.external_id)
        if filters.tag:
            query = query.where(c.tags.contains([filters.tag]))
        if filters.created_after:
            query = query.where(c.created_at > filters.created_after)
        if filters.q:
            pattern = _like(filters.q)
            names = func.concat_ws(" ", c.family_name, c.given_name, c.family_name_kana, c.given_name_kana)
            query = query.where(or_(names.ilike(pattern),
                                    func.concat(c.family_name, c.given_name).ilike(pattern),
                                    func.concat(c.family_name_kana, c.given_name_kana).ilike(pattern)))
        if page.after is not None:
            query = query.where(c.id > page.after)
        rows = await self._conn.execute(query.order_by(c.id).limit(page.limit + 1))
        return [to_domain(row) for row in rows]

    # -- identities ----------------------------------------------------------------------------
    async def find_by_identity(self, kind: str, value: str) -> UUID | None:
        i = customer_identities.c
        return (await self._conn.execute(select(i.customer_id).where(
            i.type == kind, i.value == value))).scalar()

    async def claim_identities(self, customer_id: UUID, pairs: Sequence[tuple[str, str]],
                               now: datetime) -> list[tuple[str, str, UUID]]:
        if not pairs:
            return []
        i = customer_identities.c
        await self._conn.execute(insert(customer_identities).values([
            {"type": k, "value": v, "customer_id": customer_id, "created_at": now} for k, v in pairs
        ]).on_conflict_do_nothing())
        rows = await self._conn.execute(select(i.type, i.value, i.customer_id).where(
            tuple_(i.type, i.value).in_(list(pairs)), i.customer_id != customer_id))
        return [(r.type, r.value, r.customer_id) for r in rows]

    async def release_identities(self, customer_id: UUID, pairs: Sequence[tuple[str, str]]) -> None:
        if not pairs:
            return
        i = customer_identities.c
        await self._conn.execute(delete(customer_identities).where(
            i.customer_id == customer_id, tuple_(i.type, i.value).in_(list(pairs))))

    async def identities(self, customer_id: UUID) -> list[Identity]:
        i = customer_identities.c
        rows = await self._conn.execute(select(customer_identities).where(
            i.customer_id == customer_id).order_by(i.type, i.value))
        return [Identity(type=r.type, value=r.value, customer_id=r.customer_id, created_at=r.created_at)
                for r in rows]

    async def move_identities(self, source: UUID, target: UUID) -> int:
        i = customer_identities.c
        result = await self._conn.execute(update(customer_identities).where(
            i.customer_id == source).values(customer_id=target))
        return int(result.rowcount or 0)

    # -- consents ------------------------------------------------------------------------------
    async def consents(self, customer_id: UUID) -> list[Consent]:
        rows = await self._conn.execute(select(consents).where(
            consents.c.customer_id == customer_id).order_by(consents.c.channel))
        return [_consent(r) for r in rows]

    async def consent_history(self, customer_id: UUID, page: PageRequest) -> list[ConsentDecision]:
        e = consent_events.c
        query = select(consent_events).where(e.customer_id == customer_id)
        if page.after is not None:
            query = query.where(e.id < page.after)
        rows = await self._conn.execute(query.order_by(e.id.desc()).limit(page.limit + 1))
        return [ConsentDecision(id=r.id, customer_id=r.customer_id, channel=Channel(r.channel),
                                status=ConsentStatus(r.status), source=r.source, actor=r.actor,
                                occurred_at=r.occurred_at, recorded_at=r.recorded_at) for r in rows]

    async def record_consent(self, decision: ConsentDecision, current: Consent | None) -> None:
        await self._conn.execute(consent_events.insert().values(
            id=decision.id, customer_id=decision.customer_id, channel=decision.channel.value,
            status=decision.status.value, source=decision.source, actor=decision.actor,
            occurred_at=decision.occurred_at, recorded_at=decision.recorded_at))
        if current is not None:
            values = {"status": current.status.value, "source": current.source,
                      "occurred_at": current.occurred_at, "recorded_at": current.recorded_at}
            await self._conn.execute(insert(consents).values(
                customer_id=current.customer_id, channel=current.channel.value, **values)
                .on_conflict_do_update(index_elements=["customer_id", "channel"], set_=values))

    async def move_consent_history(self, source: UUID, target: UUID) -> None:
        await self._conn.execute(update(consent_events).where(
            consent_events.c.customer_id == source).values(customer_id=target))

    async def delete_consents(self, customer_id: UUID) -> None:
        await self._conn.execute(delete(consents).where(consents.c.customer_id == customer_id))

    # -- merges --------------------------------------------------------------------------------
    async def record_merge(self, *, id: UUID, source: UUID, target: UUID, actor: str,
                           report: dict[str, Any], now: datetime) -> None:
        await self._conn.execute(customer_merges.insert().values(
            id=id, source_id=source, target_id=target, actor=actor, report=report, merged_at=now))

    async def move_activity(self, source: UUID, target: UUID) -> dict[str, int]:
        moved = {}
        for name, table in (("orders", orders), ("events", events)):
            result = await self._conn.execute(update(table).where(
                table.c.customer_id == source).values(customer_id=target))
            moved[name] = int(result.rowcount or 0)
        return moved


class SqlAttributeDefinitionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def all(self) -> dict[str, AttributeDefinition]:
        rows = await self._conn.execute(select(attribute_definitions).order_by(attribute_definitions.c.name))
        return {r.name: AttributeDefinition(
            name=r.name, type=AttributeType(r.type),
            enum_values=tuple(r.enum_values) if r.enum_values else None, required=r.required,
            description=r.description) for r in rows}

    async def put(self, definition: AttributeDefinition, now: datetime) -> None:
        values = {"type": definition.type.value, "enum_values": list(definition.enum_values or []) or None,
                  "required": definition.required, "description": definition.description}
        await self._conn.execute(insert(attribute_definitions).values(
            name=definition.name, created_at=now, **values)
            .on_conflict_do_update(index_elements=["name"], set_=values))

    async def delete(self, name: str) -> bool:
        result = await self._conn.execute(delete(attribute_definitions).where(
            attribute_definitions.c.name == name))
        return bool(result.rowcount)



