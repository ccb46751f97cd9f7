"""What the imports use cases need from storage and from whoever reads the file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.customers.model import Customer
from domain.imports.model import ImportJob, ImportKind, ImportStatus, Rejection
from domain.shared.pagination import PageRequest


@dataclass(frozen=True)
class ImportFilter:
    kinds: tuple[ImportKind, ...] = tuple(ImportKind)
    status: ImportStatus | None = None


class ImportRepository(Protocol):
    """Import resources, and the bulk writes of customer rows (products and orders are written
    through their own areas' repositories)."""

    async def add(self, job: ImportJob, content: bytes | None = None) -> None:
        """Store a new import; `content` is the uploaded file of an HTTP import."""
        ...

    async def get(self, import_id: UUID) -> ImportJob | None: ...

    async def lock(self, import_id: UUID) -> ImportJob | None:
        """SELECT ... FOR UPDATE: one chunk at a time commits progress, whoever runs it."""
        ...

    async def save(self, job: ImportJob, *, drop_content: bool = False) -> None:
        """Store status, counters, errors and times (and forget the uploaded file when asked)."""
        ...

    async def content(self, import_id: UUID) -> bytes | None: ...

    async def lock_holding_personal_data(self) -> list[ImportJob]:
        """SELECT ... FOR UPDATE, in id order, of the imports of kinds that name people
        (PERSONAL_KINDS) that are queued or running, or still store their uploaded file."""
        ...

    async def search(self, filters: ImportFilter, page: PageRequest) -> list[ImportJob]:
        """Newest first (`page.after` is the last id of the previous page)."""
        ...

    async def find_unfinished(self, kind: ImportKind, source_sha256: str) -> ImportJob | None:
        """The latest running or failed import of a file with this digest (for --resume)."""
        ...

    async def enqueue_run(self, *, import_id: UUID, tenant_id: UUID) -> None:
        """Queue the job that runs the import, in the same transaction as the import itself, so a
        job exists exactly when its import committed."""
        ...

    async def identity_owners(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], UUID]:
        """Who holds each of these (type, value) identities, in one look-up."""
        ...

    async def write_customers(self, *, created: Sequence[Customer], updated: Sequence[Customer],
                              claims: Sequence[tuple[str, str, UUID]],
                              releases: Sequence[tuple[str, str, UUID]]) -> None:
        """Insert `created` and rewrite `updated` (whole rows, by id), drop `releases` and insert
        `claims` (type, value, customer id), in a constant number of statements. Raises
        ChunkRace when a claimed identity was taken by another transaction since it was looked
        up (the chunk is then retried)."""
        ...


class RejectSink(Protocol):
    """Where rejected rows go (a rejects file for the command line)."""

    def write(self, rejections: Sequence[Rejection]) -> None: ...
