"""In-memory twins of what the imports use cases need (the shared tests/fakes.py has no imports
area yet): a unit of work that keeps changes only on commit, and the repositories it binds."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from uuid import UUID

from domain.customers.attributes import AttributeDefinition
from domain.customers.model import Customer
from domain.imports.model import ChunkRace, ImportJob, ImportKind, ImportStatus
from domain.imports.ports import ImportFilter
from domain.shared.pagination import PageRequest


@dataclass
class Store:
    jobs: dict[UUID, ImportJob] = field(default_factory=dict)
    contents: dict[UUID, bytes | None] = field(default_factory=dict)
    customers: dict[UUID, Customer] = field(default_factory=dict)
    identities: dict[tuple[str, str], UUID] = field(default_factory=dict)
    queued: list[tuple[UUID, UUID]] = field(default_factory=list)
    definitions: dict[str, AttributeDefinition] = field(default_factory=dict)


class FakeImports:
    def __init__(self, data: Store, uow: FakeUow) -> None:
        self.data = data
        self.uow = uow

    async def add(self, job: ImportJob, content: bytes | None = None) -> None:
        self.data.jobs[job.id] = job
        self.data.contents[job.id] = content

    async def get(self, import_id: UUID) -> ImportJob | None:
        return self.data.jobs.get(import_id)

    lock = get

    async def save(self, job: ImportJob, *, drop_content: bool = False) -> None:
        self.data.jobs[job.id] = job
        if drop_content:
            self.data.contents[job.id] = None

    async def content(self, import_id: UUID) -> bytes | None:
        return self.data.contents.get(import_id)

    async def search(self, filters: ImportFilter, page: PageRequest) -> list[ImportJob]:
        rows = sorted((j for j in self.data.jobs.values() if j.kind in filters.kinds
                       and (filters.status is None or j.status is filters.status)),
                      key=lambda j: j.id, reverse=True)
        if page.after:
            rows = [j for j in rows if j.id < page.after]
        return rows[: page.limit + 1]

    async def find_unfinished(self, kind: ImportKind, source_sha256: str) -> ImportJob | None:
        found = [j for j in self.data.jobs.values() if j.kind is kind and j.source_sha256 == source_sha256
                 and j.status in (ImportStatus.RUNNING, ImportStatus.FAILED)]
        return max(found, key=lambda j: j.id) if found else None

    async def enqueue_run(self, *, import_id: UUID, tenant_id: UUID) -> None:
        self.data.queued.append((import_id, tenant_id))

    async def identity_owners(self, pairs: Any) -> dict[tuple[str, str], UUID]:
        return {p: self.data.identities[p] for p in pairs if p in self.data.identities}

    async def write_customers(self, *, created: Any, updated: Any, claims: Any, releases: Any) -> None:
        if self.uow.races:
            self.uow.races -= 1
            raise ChunkRace("taken meanwhile")
        for kind, value, owner in releases:
            if self.data.identities.get((kind, value)) == owner:
                del self.data.identities[(kind, value)]
        for kind, value, owner in claims:
            if (kind, value) in self.data.identities:
                raise ChunkRace("taken meanwhile")
            self.data.identities[(kind, value)] = owner
        for customer in [*created, *updated]:
            self.data.customers[customer.id] = customer
        self.uow.writes += 1


class FakeCustomers:
    def __init__(self, data: Store) -> None:
        self.data = data

    async def lock(self, ids: Any) -> dict[UUID, Customer]:
        return {i: self.data.customers[i] for i in ids if i in self.data.customers}


class FakeDefinitions:
    def __init__(self, data: Store) -> None:
        self.data = data

    async def all(self) -> dict[str, AttributeDefinition]:
        return dict(self.data.definitions)


class FakeUow:
    """Copies the store on entry, writes it back on commit; nested blocks commit with the outer."""

    def __init__(self, store: Store | None = None) -> None:
        self.store = store or Store()
        self.committed = 0
        self.rolled_back = 0
        self.published: list[Any] = []
        self.races = 0  # how many chunk writes meet a concurrent change
        self.writes = 0
        self._depth = 0
        self._commit = False
        self._events: list[Any] = []

    async def __aenter__(self) -> FakeUow:
        self._depth += 1
        if self._depth == 1:
            self._work = copy.deepcopy(self.store)
            self._commit = False
            self._events = []
            self.imports = FakeImports(self._work, self)
            self.customers = FakeCustomers(self._work)
            self.attribute_definitions = FakeDefinitions(self._work)
        return self

    def publish(self, event: Any) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        self._commit = True

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._depth -= 1
        if self._depth:
            return
        if self._commit and exc is None:
            self.store.__dict__.update(self._work.__dict__)
            self.committed += 1
            self.published += self._events
        else:
            self.rolled_back += 1
