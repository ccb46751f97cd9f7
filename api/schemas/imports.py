"""Import resources as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import ResponseBody
from domain.imports.model import ImportJob, RowError

ImportKindName = Literal["customers", "orders", "products"]
ImportStatusName = Literal["queued", "running", "succeeded", "failed"]


class FieldProblemRead(BaseModel):
    field: str = Field(examples=["email"])
    message: str = Field(examples=["not a valid email address"])


class ImportErrorRead(BaseModel):
    line: int | None = Field(description="Line of the file the row starts on (the header is line 1);"
                                         " null for an error about the whole import", examples=[42])
    detail: str = Field(examples=["email: not a valid email address"])
    errors: list[FieldProblemRead] = Field(description="The row's invalid fields, when known")

    @classmethod
    def from_domain(cls, e: RowError) -> ImportErrorRead:
        return cls(line=e.line, detail=e.detail,
                   errors=[FieldProblemRead(field=p.field, message=p.message) for p in e.problems])


class ImportRead(ResponseBody):
    id: UUID
    kind: ImportKindName
    status: ImportStatusName = Field(description="queued, running, succeeded or failed (a failed import"
                                                 " keeps what it committed; its job retries from there)")
    filename: str | None
    encoding: str | None = Field(description="auto until read; then utf-8, utf-8-sig (with a byte-order"
                                             " mark) or cp932 (Shift_JIS)", examples=["cp932"])
    content_sha256: str | None = Field(description="SHA-256 of the uploaded file")
    total_rows: int | None = Field(description="Data rows in the file, known when the import finished")
    processed_rows: int = Field(description="Rows committed so far (accepted + rejected)")
    accepted_rows: int
    rejected_rows: int
    errors: list[ImportErrorRead] = Field(description="The first 100 rejected rows with their reasons, in"
                                                      " file order; then why the import failed, if it did")
    errors_truncated: bool = Field(description="More rows were rejected than `errors` lists")
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_domain(cls, job: ImportJob) -> ImportRead:
        row_errors = sum(1 for e in job.errors if e.line is not None)
        return cls(id=job.id, kind=job.kind.value, status=job.status.value, filename=job.filename,
                   encoding=job.encoding, content_sha256=job.source_sha256, total_rows=job.total_rows,
                   processed_rows=job.processed_rows, accepted_rows=job.accepted_rows,
                   rejected_rows=job.rejected_rows,
                   errors=[ImportErrorRead.from_domain(e) for e in job.errors],
                   errors_truncated=job.rejected_rows > row_errors, created_by=job.created_by,
                   created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at)
