"""Running imports: a file for `kizuna import`, a stored upload for the worker's job.

Both read the CSV as a stream, check its header, skip the rows an earlier run committed, and
hand the rest to the domain's chunk loop (domain.imports.services.run_import).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.auth.model import TenantRef
from domain.imports.columns import ColumnMap, resolve_header
from domain.imports.model import (
    DEFAULT_CHUNK_ROWS,
    ImportJob,
    ImportKind,
    ImportStatus,
    ImportStopped,
    Rejection,
    SourceRecord,
    without_values,
)
from domain.imports.orders import order_key
from domain.imports.services import (
    RunOptions,
    Tenancy,
    fail_import,
    finish_import,
    note_encoding,
    open_import,
    run_import,
    start_stored_import,
)
from domain.shared.clock import Clock
from domain.shared.errors import DomainError, InvalidInput
from domain.shared.ids import new_id
from domain.shared.ports import UnitOfWork
from infra.imports.source import CsvSource, RejectsFile, SourceError, SourceInfo, inspect, trim_rejects

log = logging.getLogger(__name__)
FIRST_REJECTS = 10
UowFactory = Callable[[TenantRef | None], UnitOfWork]


@dataclass(frozen=True)
class FileImport:
    kind: ImportKind
    path: Path
    encoding: str = "auto"
    dry_run: bool = False
    resume: bool = False
    rejects: Path | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    stop_after_chunks: int | None = None
    created_by: str = "cli"


@dataclass(frozen=True)
class FileImportResult:
    job: ImportJob
    info: SourceInfo
    resumed: bool
    skipped: int
    seconds: float
    rejects_written: int
    # without a rejects file: this run's first rejected rows as they were, for the operator's
    # console (the import resource keeps them without values)
    first_rejects: tuple[Rejection, ...] = ()


class FirstRejects:
    """A reject sink that keeps the first `limit` rejected rows in memory."""

    def __init__(self, limit: int = FIRST_REJECTS) -> None:
        self.limit = limit
        self.kept: list[Rejection] = []
        self.count = 0

    def write(self, rejections: Sequence[Rejection]) -> None:
        self.kept += rejections[:max(self.limit - len(self.kept), 0)]
        self.count += len(rejections)


def _continues(columns: ColumnMap, last: SourceRecord | None) -> str | None:
    """The order a resumed run may be in the middle of (only when an order was cut for size)."""
    if last is None or columns.kind is not ImportKind.ORDERS:
        return None
    return order_key({"order_number": columns.cell(last, "order_number")}) or None


def _tenancy(tenant: TenantRef) -> Tenancy:
    return Tenancy(timezone=tenant.timezone, currency=tenant.currency)


async def import_file(uow_factory: UowFactory, clock: Clock, tenant: TenantRef, spec: FileImport, *,
                      on_start: Callable[[SourceInfo, ImportJob], None] | None = None,
                      on_chunk: Callable[[ImportJob, int], None] | None = None) -> FileImportResult:
    """Raises SourceError (unreadable file), InvalidInput (bad header), Conflict (an unfinished
    import of this file exists and `resume` is off) and ImportInterrupted."""
    started = time.perf_counter()
    with ExitStack() as stack:
        stream = stack.enter_context(open(spec.path, "rb"))  # noqa: ASYNC230 - a local file, streamed
        info = inspect(stream, spec.encoding)
        source = CsvSource(stream, info.encoding)
        columns = resolve_header(spec.kind, source.header)
        if spec.dry_run:
            now = clock.now()
            job = ImportJob(id=new_id(), kind=spec.kind, status=ImportStatus.RUNNING,
                            created_by=spec.created_by, created_at=now, filename=spec.path.name,
                            source_sha256=info.sha256, encoding=info.encoding, started_at=now)
            resumed = False
        else:
            opened = await open_import(uow=uow_factory(tenant), clock=clock, kind=spec.kind,
                                       filename=spec.path.name, source_sha256=info.sha256,
                                       encoding=info.encoding, created_by=spec.created_by, resume=spec.resume)
            job, resumed = opened.job, opened.resumed
        skipped = job.processed_rows
        first = FirstRejects()
        sink: RejectsFile | FirstRejects = first
        options = RunOptions(chunk_rows=spec.chunk_rows, dry_run=spec.dry_run,
                             stop_after_chunks=spec.stop_after_chunks)
        try:
            continues = _continues(columns, source.skip(skipped)) if skipped else None
            if spec.rejects is not None:
                if resumed:
                    trim_rejects(spec.rejects, info.encoding, source.next_line)
                sink = RejectsFile(spec.rejects, source.header, info.encoding, append=resumed)
                stack.callback(sink.close)
            if on_start is not None:
                on_start(info, job)
            job = await run_import(
                uow=uow_factory(tenant), clock=clock, job=job, columns=columns, records=source.records(),
                tenancy=_tenancy(tenant), options=options, sink=sink,
                on_chunk=(lambda j: on_chunk(j, source.position)) if on_chunk else None, continues=continues)
        except BaseException as exc:
            if not spec.dry_run:
                await _record_failure(uow_factory(tenant), clock, job.id, exc)
            raise
        if not spec.dry_run:
            job = await finish_import(uow=uow_factory(tenant), clock=clock, import_id=job.id)
        return FileImportResult(job=job, info=info, resumed=resumed, skipped=skipped,
                                seconds=time.perf_counter() - started,
                                rejects_written=sink.count if isinstance(sink, RejectsFile) else 0,
                                first_rejects=tuple(first.kept))


def _failure_detail(exc: BaseException) -> str:
    """What the import shows about why a run stopped. Only our own errors are quoted (without
    values): a database error's text can carry a row's parameters, which the import resource
    would then show to every reader and keep after the person's erasure."""
    if isinstance(exc, KeyboardInterrupt | GeneratorExit) or type(exc).__name__ == "CancelledError":
        return "interrupted"
    if isinstance(exc, DomainError | SourceError) and str(exc):
        return without_values(str(exc))
    log.error("import run failed", exc_info=exc)
    return f"{type(exc).__name__} (details in the log)"


async def _record_failure(uow: UnitOfWork, clock: Clock, import_id: UUID, exc: BaseException) -> None:
    if isinstance(exc, ImportStopped):
        return  # whoever stopped it recorded why
    detail = _failure_detail(exc)
    try:
        await fail_import(uow=uow, clock=clock, import_id=import_id,
                          detail=f"stopped: {detail}; what committed stays, resume to continue")
    except Exception:  # the failure itself is what matters; the database may be what failed
        log.exception("could not record the failure of import %s", import_id)


async def run_stored_import(uow_factory: UowFactory, clock: Clock, tenant: TenantRef,
                            import_id: UUID, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> dict[str, Any]:
    """The worker's job: run (or continue) an HTTP import from its stored upload. Idempotent: a
    succeeded import is left alone, a failed or interrupted one continues from its progress. A
    file that cannot be read fails the import (retrying cannot help); any other error fails it
    and is raised, so the queue records it."""
    started = await start_stored_import(uow=uow_factory(tenant), clock=clock, import_id=import_id)
    if started is None:
        return {"import_id": str(import_id), "status": "nothing to do"}
    job, content = started
    stream = io.BytesIO(content)
    try:
        info = inspect(stream, job.encoding or "auto")
        source = CsvSource(stream, info.encoding)
        columns = resolve_header(job.kind, source.header)
    except SourceError as exc:
        await fail_import(uow=uow_factory(tenant), clock=clock, import_id=import_id, detail=str(exc))
        return {"import_id": str(import_id), "status": ImportStatus.FAILED.value}
    except InvalidInput as exc:
        await fail_import(uow=uow_factory(tenant), clock=clock, import_id=import_id, detail=exc.detail,
                          problems=exc.problems, line=1)
        return {"import_id": str(import_id), "status": ImportStatus.FAILED.value}
    if info.encoding != job.encoding:
        await note_encoding(uow=uow_factory(tenant), import_id=import_id, encoding=info.encoding)
        job = replace(job, encoding=info.encoding)
    del content
    try:
        continues = _continues(columns, source.skip(job.processed_rows)) if job.processed_rows else None
        job = await run_import(uow=uow_factory(tenant), clock=clock, job=job, columns=columns,
                               records=source.records(), tenancy=_tenancy(tenant),
                               options=RunOptions(chunk_rows=chunk_rows), continues=continues)
    except ImportStopped:
        return {"import_id": str(import_id), "status": "stopped"}
    except BaseException as exc:
        await _record_failure(uow_factory(tenant), clock, import_id, exc)
        raise
    job = await finish_import(uow=uow_factory(tenant), clock=clock, import_id=import_id)
    return {"import_id": str(import_id), "status": job.status.value, "accepted_rows": job.accepted_rows,
            "rejected_rows": job.rejected_rows}
