"""The chunk loop with fakes: progress commits with each chunk, dry runs roll back, interruptions
leave exactly the committed chunks, races retry, a second runner is refused."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from domain.imports.columns import resolve_header
from domain.imports.model import ImportInterrupted, ImportJob, ImportKind, ImportStatus, SourceRecord
from domain.imports.services import (
    RunOptions,
    Tenancy,
    chunked,
    fail_import,
    finish_import,
    get_import,
    list_imports,
    open_import,
    run_import,
    start_stored_import,
    submit_import,
)
from domain.shared.errors import Conflict, InvalidInput, NotFound
from domain.shared.pagination import PageRequest
from tests.fakes import FixedClock
from tests.unit.imports.fakes import FakeUow

HEADER = ["external_id", "email", "family_name"]
TENANCY = Tenancy(timezone="Asia/Tokyo", currency="JPY")


def records(n: int, *, bad: set[int] = frozenset()) -> list[SourceRecord]:
    return [SourceRecord(line=i + 2, fields=[f"C{i}", "broken" if i in bad else f"u{i}@example.jp", "山田"])
            for i in range(n)]


class Sink:
    def __init__(self) -> None:
        self.lines: list[int | None] = []

    def write(self, rejections):
        self.lines += [r.line for r in rejections]


async def opened(uow: FakeUow, clock: FixedClock) -> ImportJob:
    result = await open_import(uow=uow, clock=clock, kind=ImportKind.CUSTOMERS, filename="c.csv",
                               source_sha256="ab" * 32, encoding="utf-8", created_by="cli:test", resume=False)
    return result.job


async def test_each_chunk_commits_its_rows_with_the_progress():
    uow, clock = FakeUow(), FixedClock()
    job = await opened(uow, clock)
    sink = Sink()
    job = await run_import(uow=uow, clock=clock, job=job, columns=resolve_header(ImportKind.CUSTOMERS, HEADER),
                           records=records(7, bad={3}), tenancy=TENANCY, options=RunOptions(chunk_rows=3),
                           sink=sink)
    assert (job.processed_rows, job.accepted_rows, job.rejected_rows) == (7, 6, 1)
    assert uow.store.jobs[job.id].processed_rows == 7 and len(uow.store.customers) == 6
    assert sink.lines == [5] and job.errors[0].line == 5 and "email" in job.errors[0].detail
    assert uow.writes == 3
    done = await finish_import(uow=uow, clock=clock, import_id=job.id)
    assert done.status is ImportStatus.SUCCEEDED and done.total_rows == 7
    assert [e.name for e in uow.published].count("customer.created") == 6
    assert uow.published[-1].name == "import.finished"


async def test_a_dry_run_writes_nothing_but_counts_and_lists_rejects():
    uow, clock = FakeUow(), FixedClock()
    job = ImportJob(id=_id(), kind=ImportKind.CUSTOMERS, status=ImportStatus.RUNNING, created_by="t",
                    created_at=clock.now())
    sink = Sink()
    result = await run_import(uow=uow, clock=clock, job=job, columns=resolve_header(ImportKind.CUSTOMERS, HEADER),
                              records=records(5, bad={0}), tenancy=TENANCY,
                              options=RunOptions(chunk_rows=2, dry_run=True), sink=sink)
    assert (result.accepted_rows, result.rejected_rows) == (4, 1) and sink.lines == [2]
    assert uow.store.customers == {} and uow.store.identities == {} and uow.store.jobs == {}
    assert uow.committed == 0 and uow.published == []


async def test_an_interruption_leaves_the_committed_chunks_and_resume_finishes_the_rest():
    uow, clock = FakeUow(), FixedClock()
    job = await opened(uow, clock)
    columns = resolve_header(ImportKind.CUSTOMERS, HEADER)
    with pytest.raises(ImportInterrupted):
        await run_import(uow=uow, clock=clock, job=job, columns=columns, records=records(10), tenancy=TENANCY,
                         options=RunOptions(chunk_rows=3, stop_after_chunks=2))
    assert uow.store.jobs[job.id].processed_rows == 6 and len(uow.store.customers) == 6
    await fail_import(uow=uow, clock=clock, import_id=job.id, detail="interrupted")

    with pytest.raises(Conflict, match="pass --resume"):
        await opened(uow, clock)
    again = await open_import(uow=uow, clock=clock, kind=ImportKind.CUSTOMERS, filename="c.csv",
                              source_sha256="ab" * 32, encoding="utf-8", created_by="cli:test", resume=True)
    assert again.resumed and again.job.id == job.id and again.job.status is ImportStatus.RUNNING
    resumed = await run_import(uow=uow, clock=clock, job=again.job, columns=columns,
                               records=records(10)[again.job.processed_rows:], tenancy=TENANCY,
                               options=RunOptions(chunk_rows=3))
    assert (resumed.processed_rows, resumed.accepted_rows) == (10, 10) and len(uow.store.customers) == 10


async def test_a_chunk_that_meets_a_concurrent_change_is_retried():
    uow, clock = FakeUow(), FixedClock()
    uow.races = 2
    job = await opened(uow, clock)
    job = await run_import(uow=uow, clock=clock, job=job, columns=resolve_header(ImportKind.CUSTOMERS, HEADER),
                           records=records(2), tenancy=TENANCY)
    assert job.accepted_rows == 2 and uow.rolled_back >= 2 and len(uow.store.customers) == 2


async def test_a_second_runner_of_the_same_import_is_refused():
    uow, clock = FakeUow(), FixedClock()
    job = await opened(uow, clock)
    stale = replace(job)
    await run_import(uow=uow, clock=clock, job=job, columns=resolve_header(ImportKind.CUSTOMERS, HEADER),
                     records=records(2), tenancy=TENANCY)
    with pytest.raises(Conflict, match="another process"):
        await run_import(uow=uow, clock=clock, job=stale, columns=resolve_header(ImportKind.CUSTOMERS, HEADER),
                         records=records(2), tenancy=TENANCY)


async def test_submitted_imports_queue_a_job_and_start_once():
    uow, clock = FakeUow(), FixedClock()
    tenant = _id()
    job = await submit_import(uow=uow, clock=clock, tenant_id=tenant, kind=ImportKind.PRODUCTS,
                              content=b"sku,name\nA,x\n", encoding="auto", filename="p.csv", created_by="kc_1")
    assert job.status is ImportStatus.QUEUED and uow.store.queued == [(job.id, tenant)]
    started = await start_stored_import(uow=uow, clock=clock, import_id=job.id)
    assert started is not None and started[1] == b"sku,name\nA,x\n"
    assert started[0].status is ImportStatus.RUNNING
    await finish_import(uow=uow, clock=clock, import_id=job.id)
    assert uow.store.contents[job.id] is None  # the upload (personal data) is not kept
    assert await start_stored_import(uow=uow, clock=clock, import_id=job.id) is None
    with pytest.raises(InvalidInput, match="empty"):
        await submit_import(uow=uow, clock=clock, tenant_id=tenant, kind=ImportKind.CUSTOMERS, content=b" \n",
                            encoding="auto", filename=None, created_by="kc_1")


async def test_get_and_list():
    uow, clock = FakeUow(), FixedClock()
    first = await submit_import(uow=uow, clock=clock, tenant_id=_id(), kind=ImportKind.CUSTOMERS, content=b"a",
                                encoding="auto", filename=None, created_by="kc")
    await asyncio.sleep(0.002)  # ids are time-ordered by the millisecond
    second = await submit_import(uow=uow, clock=clock, tenant_id=_id(), kind=ImportKind.ORDERS, content=b"a",
                                 encoding="auto", filename=None, created_by="kc")
    assert (await get_import(uow=uow, import_id=first.id)).id == first.id
    with pytest.raises(NotFound):
        await get_import(uow=uow, import_id=_id())
    from domain.imports.ports import ImportFilter
    page = await list_imports(uow=uow, filters=ImportFilter(), page=PageRequest(limit=1))
    assert [j.id for j in page.items] == [second.id] and page.next_after == second.id
    only = await list_imports(uow=uow, filters=ImportFilter(kinds=(ImportKind.CUSTOMERS,)), page=PageRequest())
    assert [j.id for j in only.items] == [first.id]


def test_chunks_keep_groups_whole_and_cut_only_oversized_ones():
    recs = [SourceRecord(i + 2, [key]) for i, key in enumerate("AABBBCCDDDDDDE")]
    key = lambda r: r.fields[0]  # noqa: E731
    sizes = [("".join(r.fields[0] for r in chunk), cut) for chunk, cut in chunked(recs, 2, key, max_group=3)]
    assert sizes == [("AA", None), ("BBB", None), ("CC", None), ("DDDDD", None), ("DE", "D")]
    assert [len(c) for c, _ in chunked(recs, 5)] == [5, 5, 4]


def _id():
    from domain.shared.ids import new_id
    return new_id()
