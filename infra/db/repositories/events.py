"""The events area in a tenant schema.

Ingest is the hot path (DESIGN.md section 7): rows go with COPY straight into `events` on the unit
of work's own connection and transaction, behind a savepoint; when the unique index on `event_id`
refuses the COPY (a re-sent event), they go into a temporary table instead and one INSERT ...
SELECT ... ON CONFLICT DO NOTHING moves them into `events`, skipping the `event_id`s already
stored. The customer look-ups of a batch are one query each, on arrays. This raw SQL runs on the
asyncpg connection under SQLAlchemy's, where schema_translate_map does not reach: it names the
tenant schema itself, quoted, taken from the connection's own translate map (which the unit of work
set from the tenant registry).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import repeat
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import select, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.customers.model import Customer, CustomerStatus
from domain.events.keyset import KeysetPage
from domain.events.model import Event, NewEvent, Stage, Touchpoint
from domain.events.ports import CustomerState, EventFilter
from domain.events.timeline import TimelineEntry, TimelineFilter
from infra.caches import IdentityOwners
from infra.db.raw import RawSql
from infra.db.repositories.event_rows import COLUMNS, binary_copy
from infra.db.repositories.timeline import SqlTimelineReader, merged_sources
from infra.db.tables.tenant import events

e = events.c
STAGING = "kizuna_events_in"  # temporary: one per transaction, dropped at commit
_IDENTITY_COLUMNS = ("external_id", "email", "phone", "line_user_id")
_COLS = ", ".join(COLUMNS)
DIRECT_COPY = True

# Raw SQL of the bulk paths. Every value is a bind parameter; `{s}` is only ever the tenant schema,
# from the registry, validated and quoted by quote_schema.
_SQL = {
    "existing_event_ids": "SELECT event_id FROM {s}.events WHERE event_id = ANY($1::varchar[])",
    "customer_states": "SELECT id, status, merged_into FROM {s}.customers WHERE id = ANY($1::uuid[])",
    # -1 (never a generation) if the row is missing: nothing is then taken from the cache
    "identity_generation": "SELECT coalesce(max(n), -1) FROM {s}.identity_generation",
    # One identity type at a time: `value = ANY` walks the primary key (type, value) once per
    # value, where a join on unnested pairs tends to a hash join over the whole table. The owners
    # come back as one row of two arrays: this is usually the batch's first statement, which goes
    # through SQLAlchemy to open the transaction, and a Row per identity (hundreds) cost more
    # there than the query.
    "identity_owners":
        "SELECT coalesce(array_agg(value), '{{}}'), coalesce(array_agg(customer_id), '{{}}')"
        " FROM {s}.customer_identities WHERE type = $1 AND value = ANY($2::text[])",
    "claim_identities":
        "INSERT INTO {s}.customer_identities (type, value, customer_id, created_at)"
        " SELECT w.type, w.value, w.customer_id, $4 FROM unnest($1::text[], $2::text[], $3::uuid[])"
        " AS w(type, value, customer_id) ON CONFLICT DO NOTHING RETURNING type, value, customer_id",
    "add_customers":
        "INSERT INTO {s}.customers (id, external_id, email, phone, line_user_id, created_at, updated_at)"
        " SELECT w.id, w.external_id, w.email, w.phone, w.line_user_id, $6, $6"
        " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])"
        " AS w(id, external_id, email, phone, line_user_id)",
    "savepoint": "SAVEPOINT kizuna_events_copy",
    "rollback_to_savepoint": "ROLLBACK TO SAVEPOINT kizuna_events_copy",
    # A fresh staging table per transaction (simple protocol: both statements in one round trip).
    "staging": f"DROP TABLE IF EXISTS pg_temp.{STAGING};"
               f" CREATE TEMP TABLE {STAGING} (LIKE {{s}}.events) ON COMMIT DROP",
    # event_id order: two batches re-sending the same events take the unique index's entries in
    # the same order, so they queue instead of deadlocking.
    "insert_staged": f"INSERT INTO {{s}}.events ({_COLS}) SELECT {_COLS}"  # noqa: S608 - constants
                     f" FROM pg_temp.{STAGING} ORDER BY event_id ON CONFLICT DO NOTHING RETURNING id",
}


def to_domain(r: Any) -> Event:
    return Event(id=r.id, event_id=r.event_id, type=r.type, customer_id=r.customer_id,
                 occurred_at=r.occurred_at, received_at=r.received_at, properties=dict(r.properties or {}),
                 touchpoint=Touchpoint(channel=r.touchpoint_channel,
                                       stage=Stage(r.touchpoint_stage) if r.touchpoint_stage else None,
                                       campaign_id=r.campaign_id))


class SqlEventRepository:
    def __init__(self, conn: AsyncConnection, identities: IdentityOwners | None = None,
                 on_commit: list[Callable[[], None]] | None = None, tenant_id: UUID | None = None) -> None:
        """`identities`, `on_commit` (the unit of work's) and `tenant_id`: identity owners are then
        taken from the process's cache when the tenant's identity generation says they still hold,
        and the ones looked up are remembered once this transaction commits. Kept by tenant id,
        not schema: a purged tenant's slug may name a new tenant, whose generation starts again."""
        self._conn = conn
        self._raw = RawSql(conn)
        self._identities = identities if on_commit is not None and tenant_id is not None else None
        self._on_commit = on_commit
        self._tenant_key = str(tenant_id)
        self._generation: int | None = None

    # -- raw access for the bulk paths ---------------------------------------------------------
    def _schema_name(self) -> str:
        return self._raw.schema_name()

    def _schema(self) -> str:
        return self._raw.schema()

    async def _driver(self) -> asyncpg.Connection:
        """The asyncpg connection under the unit of work's, inside its transaction."""
        return await self._raw.driver()

    # -- ingest --------------------------------------------------------------------------------
    async def _fetch(self, name: str, *args: Any) -> Sequence[Any]:
        """Rows of one of the bulk statements (each indexable by position and by name)."""
        return [tuple(row.values()) if isinstance(row, RowMapping) else row
                for row in await self._raw.fetch(_SQL[name], *args)]

    async def existing_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        if not event_ids:
            return set()
        return {r[0] for r in await self._fetch("existing_event_ids", list(event_ids))}

    async def customer_states(self, customer_ids: Sequence[UUID]) -> dict[UUID, CustomerState]:
        if not customer_ids:
            return {}
        rows = await self._fetch("customer_states", list(customer_ids))
        return {r[0]: CustomerState(id=r[0], status=CustomerStatus(r[1]), merged_into=r[2]) for r in rows}

    async def identity_owners(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], UUID]:
        held: dict[tuple[str, str], UUID] = {}
        generation = -1
        if self._identities is not None:
            if self._generation is None:  # read once per transaction, like a look-up would be
                ((self._generation,),) = await self._fetch("identity_generation")
            generation = self._generation
            if generation >= 0:
                held = self._identities.under(self._tenant_key, generation)
        owners: dict[tuple[str, str], UUID] = {}
        by_type: dict[str, list[str]] = {}
        for pair in pairs:
            owner = held.get(pair)
            if owner is None:
                by_type.setdefault(pair[0], []).append(pair[1])
            else:
                owners[pair] = owner
        found: dict[tuple[str, str], UUID] = {}
        for kind, values in by_type.items():
            ((values_found, customer_ids),) = await self._fetch("identity_owners", kind, values)
            found.update(zip(zip(repeat(kind), values_found), customer_ids, strict=True))
        if found and generation >= 0:  # only when kept: _identities and _on_commit are set
            cache, tenant, on_commit = self._identities, self._tenant_key, self._on_commit
            assert cache is not None and on_commit is not None
            on_commit.append(lambda: cache.remember(tenant, generation, found))
        owners.update(found)
        return owners

    async def add_customers(self, customers: Sequence[tuple[Customer, tuple[str, str]]],
                            now: datetime) -> dict[tuple[str, str], UUID]:
        if not customers:
            return {}
        # Identities first: the unique (type, value) decides who creates a customer, so two
        # transactions creating the same person race on the index, never both succeed. Sorted, so
        # two such transactions take their index entries in the same order (no deadlock).
        ordered = sorted(customers, key=lambda c: c[1])
        claimed = await self._fetch("claim_identities", [p[0] for _, p in ordered],
                                    [p[1] for _, p in ordered], [c.id for c, _ in ordered], now)
        owners = {(r[0], r[1]): r[2] for r in claimed}
        created = [c for c, pair in ordered if owners.get(pair) == c.id]
        if created:
            columns = [[getattr(c, name) for c in created] for name in _IDENTITY_COLUMNS]
            await self._fetch("add_customers", [c.id for c in created], *columns, now)
        lost = [pair for _, pair in ordered if pair not in owners]
        if lost:  # created by a concurrent transaction, which has committed by now
            owners.update(await self.identity_owners(lost))
        return owners

    async def add(self, batch: Sequence[NewEvent]) -> set[UUID]:
        if not batch:
            return set()
        driver = await self._driver()
        data = memoryview(binary_copy(batch))  # bytes would be taken for a file name
        if DIRECT_COPY:
            # COPY straight into `events` writes each row once, where staging writes it twice. The
            # unique index is the judge of re-sent event ids: the use case looks them up first
            # only when a batch would create customers (ingest of known customers skips that
            # query), so a re-sent event of a known customer, or one a concurrent request stored
            # in between, makes the COPY fail whole; it is undone to the savepoint and the rows
            # take the staging path, which skips the duplicates.
            await driver.execute(_SQL["savepoint"])
            try:
                await driver.copy_to_table("events", schema_name=self._schema_name(), source=data,
                                           columns=COLUMNS, format="binary")
                return set()
            except asyncpg.UniqueViolationError:
                await driver.execute(_SQL["rollback_to_savepoint"])
        await driver.execute(_SQL["staging"].format(s=self._schema()))
        await driver.copy_to_table(STAGING, source=data, columns=COLUMNS, format="binary")
        inserted = {r[0] for r in await self._fetch("insert_staged")}
        return {x.id for x in batch if x.id not in inserted}

    # -- reads ---------------------------------------------------------------------------------
    async def get(self, event_id: UUID) -> Event | None:
        row = (await self._conn.execute(select(events).where(e.id == event_id))).first()
        return to_domain(row) if row else None

    async def get_by_event_id(self, event_id: str) -> Event | None:
        row = (await self._conn.execute(select(events).where(e.event_id == event_id))).first()
        return to_domain(row) if row else None

    async def search(self, filters: EventFilter, customer_ids: Sequence[UUID] | None,
                     page: KeysetPage) -> list[Event]:
        query = select(events)
        if customer_ids is not None:
            query = query.where(e.customer_id.in_(list(customer_ids)))
        if filters.type:
            query = query.where(e.type == filters.type)
        if filters.occurred_after:
            query = query.where(e.occurred_at > filters.occurred_after)
        if filters.occurred_before:
            query = query.where(e.occurred_at < filters.occurred_before)
        if page.before is not None:
            query = query.where(tuple_(e.occurred_at, e.id) < tuple_(*page.before))
        query = query.order_by(e.occurred_at.desc(), e.id.desc()).limit(page.limit + 1)
        return [to_domain(r) for r in await self._conn.execute(query)]

    # -- timeline (its SQL lives in repositories/timeline.py) ----------------------------------
    async def merged_sources(self, customer_id: UUID) -> list[UUID]:
        return await merged_sources(self._conn, customer_id)

    async def timeline(self, customer_ids: Sequence[UUID], filters: TimelineFilter,
                       page: KeysetPage) -> list[TimelineEntry]:
        return await SqlTimelineReader(self._conn).read(customer_ids, filters, page)
