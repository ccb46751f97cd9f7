"""The imports area in a tenant schema: import resources, and bulk writes of customer rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.customers.model import Customer
from domain.imports.model import PERSONAL_KINDS, ImportJob, ImportKind, ImportStatus, RowError
from domain.imports.ports import ImportFilter
from domain.shared.errors import FieldProblem
from domain.shared.pagination import PageRequest
from infra.db.tables.tenant import imports
from infra.imports import writers
from infra.imports.queue import IMPORT_TASK, IMPORTS_QUEUE

i = imports.c
# The imports table has no column for the file's digest (see docs/imports.md, "Schema"): until
# it does, the digest rides at the end of `filename` and only this adapter knows it.
_DIGEST = "#sha256="
_SUMMARY = [column for column in imports.columns if column.name != "content"]


def _filename(job: ImportJob) -> str | None:
    if job.source_sha256 is None:
        return job.filename
    return f"{job.filename or ''}{_DIGEST}{job.source_sha256}"


def _errors_json(errors: Sequence[RowError]) -> list[dict[str, Any]]:
    return [{"line": e.line, "detail": e.detail,
             "errors": [{"field": p.field, "message": p.message} for p in e.problems]} for e in errors]


def _errors(raw: list[dict[str, Any]] | None) -> tuple[RowError, ...]:
    return tuple(RowError(line=e.get("line"), detail=str(e.get("detail", "")),
                          problems=tuple(FieldProblem(p["field"], p["message"]) for p in e.get("errors", ())))
                 for e in raw or ())


def to_domain(r: Any) -> ImportJob:
    name, digest = r.filename, None
    if name is not None and _DIGEST in name:
        name, _, digest = name.rpartition(_DIGEST)
    return ImportJob(id=r.id, kind=ImportKind(r.kind), status=ImportStatus(r.status), created_by=r.created_by,
                     created_at=r.created_at, filename=name or None, source_sha256=digest,
                     encoding=r.encoding, total_rows=r.total_rows, processed_rows=r.processed_rows,
                     accepted_rows=r.accepted_rows, rejected_rows=r.rejected_rows, errors=_errors(r.errors),
                     started_at=r.started_at, finished_at=r.finished_at)


def _values(job: ImportJob) -> dict[str, Any]:
    return {"kind": job.kind.value, "status": job.status.value, "filename": _filename(job),
            "encoding": job.encoding, "total_rows": job.total_rows, "processed_rows": job.processed_rows,
            "accepted_rows": job.accepted_rows, "rejected_rows": job.rejected_rows,
            "errors": _errors_json(job.errors), "created_by": job.created_by, "created_at": job.created_at,
            "started_at": job.started_at, "finished_at": job.finished_at}


class SqlImportRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, job: ImportJob, content: bytes | None = None) -> None:
        await self._conn.execute(imports.insert().values(id=job.id, content=content, **_values(job)))

    async def get(self, import_id: UUID) -> ImportJob | None:
        row = (await self._conn.execute(select(*_SUMMARY).where(i.id == import_id))).first()
        return to_domain(row) if row else None

    async def lock(self, import_id: UUID) -> ImportJob | None:
        row = (await self._conn.execute(
            select(*_SUMMARY).where(i.id == import_id).with_for_update())).first()
        return to_domain(row) if row else None

    async def save(self, job: ImportJob, *, drop_content: bool = False) -> None:
        values = _values(job)
        if drop_content:
            values["content"] = None
        await self._conn.execute(update(imports).where(i.id == job.id).values(**values))

    async def content(self, import_id: UUID) -> bytes | None:
        value = (await self._conn.execute(select(i.content).where(i.id == import_id))).scalar()
        return bytes(value) if value is not None else None

    async def lock_holding_personal_data(self) -> list[ImportJob]:
        unfinished = i.status.in_([ImportStatus.QUEUED.value, ImportStatus.RUNNING.value])
        rows = await self._conn.execute(select(*_SUMMARY).where(
            i.kind.in_([k.value for k in PERSONAL_KINDS]), or_(unfinished, i.content.is_not(None)))
            .order_by(i.id).with_for_update())
        return [to_domain(r) for r in rows]

    async def search(self, filters: ImportFilter, page: PageRequest) -> list[ImportJob]:
        query = select(*_SUMMARY).where(i.kind.in_([k.value for k in filters.kinds]))
        if filters.status is not None:
            query = query.where(i.status == filters.status.value)
        if page.after is not None:
            query = query.where(i.id < page.after)
        rows = await self._conn.execute(query.order_by(i.id.desc()).limit(page.limit + 1))
        return [to_domain(r) for r in rows]

    async def find_unfinished(self, kind: ImportKind, source_sha256: str) -> ImportJob | None:
        row = (await self._conn.execute(select(*_SUMMARY).where(
            i.kind == kind.value,
            i.status.in_([ImportStatus.RUNNING.value, ImportStatus.FAILED.value]),
            func.right(i.filename, len(_DIGEST) + len(source_sha256)) == _DIGEST + source_sha256)
            .order_by(i.id.desc()).limit(1))).first()
        return to_domain(row) if row else None

    async def enqueue_run(self, *, import_id: UUID, tenant_id: UUID) -> None:
        # The same row procrastinate's defer writes (infra/events.py enqueues jobs the same way);
        # `lock` keeps two runs of one import from overlapping.
        args = json.dumps({"tenant_id": str(tenant_id), "import_id": str(import_id)})
        await self._conn.execute(text(
            "INSERT INTO control.procrastinate_jobs (queue_name, task_name, priority, lock, args)"
            " VALUES (:queue, :task, 0, :lock, CAST(:args AS jsonb))"),
            {"queue": IMPORTS_QUEUE, "task": IMPORT_TASK, "lock": f"import:{import_id}", "args": args})

    async def identity_owners(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], UUID]:
        return await writers.identity_owners(self._conn, pairs)

    async def write_customers(self, *, created: Sequence[Customer], updated: Sequence[Customer],
                              claims: Sequence[tuple[str, str, UUID]],
                              releases: Sequence[tuple[str, str, UUID]]) -> None:
        await writers.write_customers(self._conn, created, updated, claims, releases)
