"""Import use cases: submit (HTTP), open or resume (command line), run chunk by chunk, finish.

A run reads records one chunk at a time (constant memory), validates every row with the owning
area's rules, and writes each chunk in one transaction together with the import's progress, so
after any interruption exactly the committed chunks are done and `processed_rows` says how many
rows to skip.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.imports import customers as customer_rows
from domain.imports import orders as order_rows
from domain.imports import products as product_rows
from domain.imports.columns import ColumnMap
from domain.imports.events import ImportFinished
from domain.imports.model import (
    DEFAULT_CHUNK_ROWS,
    STOPPED_BY_ERASURE,
    ChunkOutcome,
    ChunkRace,
    ImportContext,
    ImportInterrupted,
    ImportJob,
    ImportKind,
    ImportStatus,
    ImportStopped,
    Parsed,
    Rejection,
    SourceRecord,
    describe,
)
from domain.imports.ports import ImportFilter, RejectSink
from domain.orders.model import MAX_LINES
from domain.shared.clock import Clock
from domain.shared.errors import Conflict, FieldProblem, InvalidInput, NotFound
from domain.shared.ids import new_id
from domain.shared.pagination import Page, PageRequest, page_from
from domain.shared.ports import UnitOfWork
from domain.shared.text import clean_text

ENCODINGS = ("auto", "utf-8", "cp932")
CHUNK_ATTEMPTS = 3  # a chunk that meets a concurrent change is retried from fresh look-ups


# -- the import resource ------------------------------------------------------------------------

async def submit_import(*, uow: UnitOfWork, clock: Clock, tenant_id: UUID, kind: ImportKind,
                        content: bytes, encoding: str, filename: str | None, created_by: str) -> ImportJob:
    """An HTTP import: the file is stored with the import and a job is queued in the same
    transaction; the worker reads the file from there."""
    if not content.strip():
        raise InvalidInput("the body is empty: send the CSV file as the request body", field="body")
    if encoding not in ENCODINGS:
        raise InvalidInput(f"encoding is one of {', '.join(ENCODINGS)}", field="encoding")
    name = clean_text(filename, field="filename", max_length=200) if filename else None
    now = clock.now()
    job = ImportJob(id=new_id(), kind=kind, status=ImportStatus.QUEUED, created_by=created_by,
                    created_at=now, filename=name, source_sha256=hashlib.sha256(content).hexdigest(),
                    encoding=encoding)
    async with uow:
        await uow.imports.add(job, content)
        await uow.imports.enqueue_run(import_id=job.id, tenant_id=tenant_id)
        await uow.commit()
    return job


async def get_import(*, uow: UnitOfWork, import_id: UUID) -> ImportJob:
    async with uow:
        job = await uow.imports.get(import_id)
    if job is None:
        raise NotFound("import", import_id)
    return job


async def list_imports(*, uow: UnitOfWork, filters: ImportFilter, page: PageRequest) -> Page[ImportJob]:
    async with uow:
        rows = await uow.imports.search(filters, page)
    return page_from(rows, page)


@dataclass(frozen=True)
class Opened:
    job: ImportJob
    resumed: bool


async def open_import(*, uow: UnitOfWork, clock: Clock, kind: ImportKind, filename: str,
                      source_sha256: str, encoding: str, created_by: str, resume: bool) -> Opened:
    """A command-line import of a file. An unfinished import of the same content (same digest)
    is continued with `resume`, and refused without it, so a file is never half-imported twice
    by accident."""
    now = clock.now()
    async with uow:
        existing = await uow.imports.find_unfinished(kind, source_sha256)
        if existing is not None:
            if not resume:
                raise Conflict(f"an unfinished import of this file exists (import {existing.id}, "
                               f"{existing.processed_rows} rows committed): pass --resume to continue it",
                               extra={"code": "import_unfinished", "import_id": str(existing.id)})
            job = replace(existing, status=ImportStatus.RUNNING, finished_at=None, encoding=encoding,
                          errors=existing.row_errors)
            await uow.imports.save(job)
            await uow.commit()
            return Opened(job=job, resumed=True)
        job = ImportJob(id=new_id(), kind=kind, status=ImportStatus.RUNNING, created_by=created_by[:64],
                        created_at=now, filename=filename[:200], source_sha256=source_sha256,
                        encoding=encoding, started_at=now)
        await uow.imports.add(job)
        await uow.commit()
    return Opened(job=job, resumed=False)


async def start_stored_import(*, uow: UnitOfWork, clock: Clock,
                              import_id: UUID) -> tuple[ImportJob, bytes] | None:
    """The worker's start: None when there is nothing to do (unknown, already succeeded: a job
    may run twice, or failed with its file gone: the import says why). A failed or interrupted
    import starts again from its recorded progress, from the very file it was uploaded with."""
    async with uow:
        job = await uow.imports.lock(import_id)
        if job is None or job.status is ImportStatus.SUCCEEDED:
            return None
        content = await uow.imports.content(import_id)
        problem = _stored_file_problem(job, content)
        if problem is not None:
            if job.status is not ImportStatus.FAILED or content is not None:
                await uow.imports.save(job.failed(clock.now(), problem))
                await uow.commit()
            return None
        assert content is not None
        job = replace(job, status=ImportStatus.RUNNING, started_at=job.started_at or clock.now(),
                      finished_at=None, errors=job.row_errors)
        await uow.imports.save(job)
        await uow.commit()
    return job, content


def _stored_file_problem(job: ImportJob, content: bytes | None) -> str | None:
    """A resume skips `processed_rows` rows: right only for the file those rows came from."""
    if content is None:
        return "the uploaded file is no longer stored"
    if job.source_sha256 is not None and hashlib.sha256(content).hexdigest() != job.source_sha256:
        return "the stored file is not the file this import was created with (its SHA-256 differs)"
    return None


async def stop_imports_for_erasure(*, uow: UnitOfWork, clock: Clock) -> int:
    """Inside an erasure's unit of work: every unfinished import of a kind that names people
    stops, and its stored upload is deleted. Matching the person in the raw file is unreliable
    (full-width, case, domestic phone forms, cp932, a mistyped email), and an import that runs
    after the erasure would bring the person back, so none of them goes on. Locks the imports
    before the erasure locks the customer: a running chunk locks in that order too."""
    now = clock.now()
    stopped = await uow.imports.lock_holding_personal_data()
    for job in stopped:
        await uow.imports.save(job.failed(now, STOPPED_BY_ERASURE), drop_content=True)
    return len(stopped)


async def note_encoding(*, uow: UnitOfWork, import_id: UUID, encoding: str) -> None:
    async with uow:
        job = await uow.imports.lock(import_id)
        if job is not None:
            await uow.imports.save(replace(job, encoding=encoding))
            await uow.commit()


async def finish_import(*, uow: UnitOfWork, clock: Clock, import_id: UUID) -> ImportJob:
    """Succeeded: every row was processed. An uploaded file is forgotten (it holds personal data)."""
    async with uow:
        job = await uow.imports.lock(import_id)
        if job is None:
            raise NotFound("import", import_id)
        done = replace(job, status=ImportStatus.SUCCEEDED, finished_at=clock.now(),
                       total_rows=job.processed_rows)
        await uow.imports.save(done, drop_content=True)
        uow.publish(ImportFinished(import_id=done.id, kind=done.kind.value,
                                   accepted_rows=done.accepted_rows, rejected_rows=done.rejected_rows))
        await uow.commit()
    return done


async def fail_import(*, uow: UnitOfWork, clock: Clock, import_id: UUID, detail: str,
                      problems: Iterable[FieldProblem] = (), line: int | None = None) -> ImportJob | None:
    """Failed: what committed stays; the import can be resumed (command line) or retried (job)."""
    async with uow:
        job = await uow.imports.lock(import_id)
        if job is None:
            return None
        failed = job.failed(clock.now(), describe(list(problems), detail), line=line)
        await uow.imports.save(failed)
        await uow.commit()
    return failed


# -- running --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunOptions:
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    dry_run: bool = False
    stop_after_chunks: int | None = None  # a test hook: stop as an interruption would


@dataclass(frozen=True)
class Tenancy:
    timezone: str
    currency: str


class _DryRun(Exception):
    """Raised inside a dry run's unit of work so that it rolls back whatever the chunk wrote."""

    def __init__(self, job: ImportJob, rejections: list[Rejection]) -> None:
        super().__init__("dry run")
        self.job = job
        self.rejections = rejections


Prepared = tuple[str, Parsed | Rejection]
_PARSERS: dict[ImportKind, Callable[[dict[str, str], ImportContext], Any]] = {
    ImportKind.CUSTOMERS: customer_rows.parse_customer,
    ImportKind.PRODUCTS: product_rows.parse_product,
    ImportKind.ORDERS: order_rows.parse_order_row,
}


def group_key(columns: ColumnMap) -> Callable[[SourceRecord], str] | None:
    """Orders are chunked whole: their rows share an order_number."""
    if columns.kind is not ImportKind.ORDERS:
        return None
    return lambda record: order_rows.order_key({"order_number": columns.cell(record, "order_number")})


def chunked(records: Iterable[SourceRecord], size: int, key: Callable[[SourceRecord], str] | None = None,
            *, continues: str | None = None, max_group: int = MAX_LINES,
            ) -> Iterator[tuple[list[SourceRecord], str | None]]:
    """Chunks of `size` records; with `key`, a chunk ends only between groups (orders), unless a
    group outgrows `max_group`, which bounds memory. Yields (records, continues): the key of a
    group the chunk continues from the previous chunk, if it was cut."""
    chunk: list[SourceRecord] = []
    last: str | None = None
    for record in records:
        k = key(record) if key is not None else None
        if len(chunk) >= size:
            same = key is not None and bool(k) and k == last
            if not same or len(chunk) >= size + max_group:
                yield chunk, continues
                chunk, continues = [], k if same else None
        chunk.append(record)
        last = k
    if chunk:
        yield chunk, continues


def _prepare(columns: ColumnMap, record: SourceRecord, ctx: ImportContext) -> Prepared:
    key = (order_rows.order_key({"order_number": columns.cell(record, "order_number")})
           if columns.kind is ImportKind.ORDERS else "")
    cells = columns.values(record)
    if isinstance(cells, Rejection):
        return key, cells
    try:
        return key, Parsed(record=record, value=_PARSERS[columns.kind](cells, ctx))
    except InvalidInput as exc:
        problems = tuple(exc.problems)
        return key, Rejection(line=record.line, reason=describe(problems, exc.detail), problems=problems,
                              fields=tuple(record.fields))


def prepare_chunk(columns: ColumnMap, records: list[SourceRecord], ctx: ImportContext) -> list[Prepared]:
    """Row validation of one chunk (pure: no database)."""
    return [_prepare(columns, record, ctx) for record in records]


def _context(clock: Clock, tenancy: Tenancy, definitions: dict[str, Any]) -> ImportContext:
    now = clock.now()
    return ImportContext(today=now.astimezone(ZoneInfo(tenancy.timezone)).date(), now=now,
                         timezone=tenancy.timezone, currency=tenancy.currency, definitions=definitions)


async def _write(uow: UnitOfWork, clock: Clock, kind: ImportKind, prepared: list[Prepared],
                 ctx: ImportContext, continues: str | None) -> ChunkOutcome:
    if kind is ImportKind.ORDERS:
        return await order_rows.write_orders(uow, clock, prepared, ctx, continues)
    parsed = [entry for _, entry in prepared if isinstance(entry, Parsed)]
    refused = [entry for _, entry in prepared if isinstance(entry, Rejection)]
    if kind is ImportKind.CUSTOMERS:
        outcome = await customer_rows.write_customers(uow, parsed, ctx)
    else:
        outcome = await product_rows.write_products(uow, clock, parsed, ctx)
    rejections = sorted(refused + outcome.rejections, key=lambda r: r.line or 0)
    return ChunkOutcome(accepted=outcome.accepted, rejections=rejections)


def _retryable(exc: Conflict) -> bool:
    return isinstance(exc, ChunkRace) or exc.extra.get("code") == "retry"


async def _run_chunk(uow: UnitOfWork, clock: Clock, job: ImportJob, kind: ImportKind,
                     prepared: list[Prepared], ctx: ImportContext, continues: str | None,
                     options: RunOptions, sink: RejectSink | None) -> ImportJob:
    # Rejects are written just before the commit: a resumed run drops the lines it redoes from
    # the rejects file, so nothing is listed twice or lost whichever side a crash falls on.
    try:
        async with uow:
            if not options.dry_run:
                stored = await uow.imports.lock(job.id)
                if stored is not None and stored.status is ImportStatus.FAILED:
                    raise ImportStopped(f"import {job.id} was stopped while it ran (its errors say why)")
                if stored is None or stored.processed_rows != job.processed_rows:
                    raise Conflict(f"import {job.id} is being run by another process (it has "
                                   f"{stored.processed_rows if stored else 0} rows committed, this run "
                                   f"expected {job.processed_rows})", extra={"code": "import_busy"})
            outcome = await _write(uow, clock, kind, prepared, ctx, continues)
            advanced = job.advanced(accepted=outcome.accepted, rejections=outcome.rejections)
            if options.dry_run:
                raise _DryRun(advanced, outcome.rejections)
            await uow.imports.save(advanced)
            if sink is not None:
                sink.write(outcome.rejections)
            await uow.commit()
    except _DryRun as done:
        if sink is not None:
            sink.write(done.rejections)
        return done.job
    return advanced


async def run_import(*, uow: UnitOfWork, clock: Clock, job: ImportJob, columns: ColumnMap,
                     records: Iterable[SourceRecord], tenancy: Tenancy, options: RunOptions = RunOptions(),
                     sink: RejectSink | None = None, on_chunk: Callable[[ImportJob], None] | None = None,
                     continues: str | None = None) -> ImportJob:
    """Import `records` (the rows after those `job` already committed) chunk by chunk. Each chunk
    commits its rows with the import's new progress in one transaction; a dry run rolls every
    chunk back (so rows in later chunks do not see earlier chunks' customers). Returns the
    import's counts; the caller finishes or fails it. One chunk is in memory at a time."""
    definitions: dict[str, Any] = {}
    if columns.kind is ImportKind.CUSTOMERS:
        async with uow:
            definitions = dict(await uow.attribute_definitions.all())
    done = 0
    for chunk, cut in chunked(records, options.chunk_rows, group_key(columns), continues=continues):
        ctx = _context(clock, tenancy, definitions)
        prepared = prepare_chunk(columns, chunk, ctx)
        for attempt in range(CHUNK_ATTEMPTS):
            try:
                job = await _run_chunk(uow, clock, job, columns.kind, prepared, ctx, cut, options, sink)
                break
            except Conflict as exc:
                if not _retryable(exc) or attempt == CHUNK_ATTEMPTS - 1:
                    raise
        if on_chunk is not None:
            on_chunk(job)
        done += 1
        if options.stop_after_chunks is not None and done >= options.stop_after_chunks:
            raise ImportInterrupted(f"stopped after {done} chunks ({job.processed_rows} rows committed)")
    return job
