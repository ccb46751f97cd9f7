"""`kizuna import customers|orders|products FILE.csv --tenant SLUG`: bulk CSV import.

Streams the file in chunks (constant memory), validates every row with the owning area's rules,
writes each chunk in bulk in one transaction with the import's progress, and lists rejected rows
with their line numbers and reasons. docs/imports.md describes the columns of each kind.

Exit status: 0 when the file was imported (rejected rows do not change it), 1 on an error or an
interruption (`--resume` continues), 2 when the header is not one the kind reads.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from domain.auth.model import TenantRef
from domain.imports.model import DEFAULT_CHUNK_ROWS, ImportJob, ImportKind
from domain.shared.clock import SystemClock
from domain.shared.errors import Conflict, DomainError, InvalidInput
from infra.db.engine import database
from infra.db.uow import SqlUnitOfWork
from infra.heap import settle_after_startup
from infra.imports.runner import FileImport, FileImportResult, import_file
from infra.imports.source import SourceError, SourceInfo
from infra.settings import Settings

import_app = typer.Typer(help="Bulk CSV import (UTF-8 or Shift_JIS/cp932), resumable.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True, highlight=False)
SHOWN_REJECTS = 10

File = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, metavar="FILE.csv",
                                      help="The CSV file")]
Tenant = Annotated[str, typer.Option("--tenant", help="Tenant slug")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Validate and count; write nothing")]
Encoding = Annotated[str, typer.Option(
    "--encoding", help="auto (UTF-8, else cp932), utf-8 or cp932 (Shift_JIS)")]
Rejects = Annotated[Path | None, typer.Option(
    "--rejects", dir_okay=False, help="Write rejected rows here: line, reason, the row")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue an interrupted import of this file")]
ChunkRows = Annotated[int, typer.Option("--chunk-rows", min=1, max=100_000,
                                        help="Rows per transaction")]
StopAfter = Annotated[int | None, typer.Option("--stop-after-chunks", hidden=True, min=1,
                                               help="Test hook: stop after N chunks as if interrupted")]


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


async def _tenant(uow_factory: Callable[[TenantRef | None], SqlUnitOfWork], slug: str) -> TenantRef | None:
    async with uow_factory(None) as uow:
        tenant = await uow.tenants.get_by_slug(slug)
    if tenant is None:
        return None
    return TenantRef(id=tenant.id, slug=tenant.slug, schema=tenant.schema, timezone=tenant.timezone,
                     currency=tenant.currency)


def _summary(kind: ImportKind, slug: str, spec: FileImport, result: FileImportResult) -> None:
    job = result.job
    rows = job.processed_rows - result.skipped
    rate = rows / result.seconds if result.seconds > 0 else 0.0
    verb = "checked (dry run: nothing written)" if spec.dry_run else "imported"
    out.print(f"{verb} {kind.value} into {slug}: {job.processed_rows:,} rows, {job.accepted_rows:,}"
              f" accepted, {job.rejected_rows:,} rejected; {rows:,} rows in {result.seconds:.1f} s"
              f" ({rate:,.0f} rows/s); encoding {result.info.encoding}")
    if result.resumed:
        out.print(f"resumed import {job.id}: skipped the {result.skipped:,} rows committed before")
    elif spec.resume:
        out.print("no unfinished import of this file to resume: imported it from the start")
    if not spec.dry_run:
        out.print(f"import id: {job.id}")
    if job.rejected_rows and spec.rejects is not None:
        out.print(f"rejected rows: {spec.rejects}")
    elif job.rejected_rows:
        # this run's rows as they were (the operator has the file); else the import's stored
        # reasons, which keep no values (rows rejected by the run a resume continued)
        shown = [(r.line, r.reason) for r in result.first_rejects] or [
            (e.line, e.detail) for e in job.row_errors]
        for line, reason in shown[:SHOWN_REJECTS]:
            out.print(f"  line {line}: {reason}", markup=False)
        more = job.rejected_rows - min(len(shown), SHOWN_REJECTS)
        if more > 0:
            out.print(f"  ... and {more:,} more (pass --rejects FILE to keep them all)")


def _run(kind: ImportKind, file: Path, tenant: str, dry_run: bool, encoding: str, rejects: Path | None,
         resume: bool, chunk_rows: int, stop_after_chunks: int | None) -> None:
    from infra.runtime import runtime

    if dry_run and resume:
        _fail("--dry-run and --resume do not go together", 2)
    if rejects is not None and rejects.resolve() == file.resolve():
        _fail("--rejects must not be the file being imported", 2)
    settings = Settings()
    spec = FileImport(kind=kind, path=file, encoding=encoding.lower(), dry_run=dry_run, resume=resume,
                      rejects=rejects, chunk_rows=chunk_rows, stop_after_chunks=stop_after_chunks,
                      created_by=f"cli:{getpass.getuser()}"[:64])

    async def main(url: str) -> FileImportResult:
        async with runtime(settings, url, pool_size=2) as rt:
            found = await _tenant(rt.uow_factory, tenant)
            if found is None:
                _fail(f"no tenant {tenant!r}")
            assert found is not None
            with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                          DownloadColumn(), TextColumn("{task.fields[rows]}"), TimeElapsedColumn(),
                          TimeRemainingColumn(), console=console, transient=False) as progress:
                task = progress.add_task(f"{kind.value}", total=None, rows="")

                def started(info: SourceInfo, job: ImportJob) -> None:
                    note = f"resuming after {job.processed_rows:,} rows" if job.processed_rows else ""
                    progress.update(task, total=info.size, rows=note)

                def advanced(job: ImportJob, position: int) -> None:
                    progress.update(task, completed=position, rows=(
                        f"{job.processed_rows:,} rows: {job.accepted_rows:,} ok,"
                        f" {job.rejected_rows:,} rejected"))

                result = await import_file(rt.uow_factory, SystemClock(), found, spec,
                                           on_start=started, on_chunk=advanced)
                progress.update(task, completed=result.info.size)
            return result

    settle_after_startup()  # rows make many short-lived, acyclic objects
    with database(settings) as url:
        try:
            result = asyncio.run(main(url))
        except SourceError as exc:
            _fail(f"{file}: {exc}")
        except InvalidInput as exc:
            console.print(f"[red]error:[/red] {file}: {exc.detail}")
            for problem in exc.problems:
                console.print(f"  {problem.field}: {problem.message}")
            raise typer.Exit(2) from None
        except Conflict as exc:
            _fail(exc.detail)
        except DomainError as exc:  # ImportInterrupted, and anything else the domain refused
            _fail(f"{exc.detail}; run the same command with --resume to continue")
        except KeyboardInterrupt:
            _fail("interrupted: what committed stays; run the same command with --resume to continue", 130)
    _summary(kind, tenant, spec, result)


def _command(kind: ImportKind, help_text: str) -> None:
    def command(file: File, tenant: Tenant, dry_run: DryRun = False, encoding: Encoding = "auto",
                rejects: Rejects = None, resume: Resume = False,
                chunk_rows: ChunkRows = DEFAULT_CHUNK_ROWS, stop_after_chunks: StopAfter = None) -> None:
        _run(kind, file, tenant, dry_run, encoding, rejects, resume, chunk_rows, stop_after_chunks)

    command.__doc__ = help_text
    import_app.command(kind.value)(command)


_command(ImportKind.CUSTOMERS, "Import customers (upsert by external_id; else email, phone, line_user_id).")
_command(ImportKind.ORDERS, "Import orders: one row per order line, an order's rows together.")
_command(ImportKind.PRODUCTS, "Import products (upsert by sku).")
