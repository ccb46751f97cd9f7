"""Bulk imports: the import resource, its progress, and the rows a file is made of."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.customers.attributes import AttributeDefinition
from domain.shared.errors import Conflict, DomainError, FieldProblem

DEFAULT_CHUNK_ROWS = 5_000
MAX_STORED_ERRORS = 100  # the import resource keeps the first N; the CLI's rejects file keeps all
REDACTED = "…"
# What a reason may quote from a row: repr()-quoted literals ('a@b.jp', '東京x'), and identities
# written out without quotes (an email, an E.164 phone). A quote inside a word (can't) is not one.
_QUOTED = re.compile(r"(?<!\w)'[^']*'(?!\w)|(?<!\w)\"[^\"]*\"(?!\w)")
_IDENTITY_SHAPED = re.compile(r"[^\s'\"(),;]+@[^\s'\"(),;]+|\+\d{7,15}")


class ChunkRace(Conflict):
    """Another transaction took an identity or key this chunk meant to claim; the chunk rolls back
    and runs again from fresh look-ups."""


class ImportInterrupted(DomainError):
    """The run stopped before the end of the file; what committed stays, `--resume` continues."""


class ImportStopped(DomainError):
    """The import was stopped from outside while it ran (a customer's erasure): the run ends
    without writing more; the import already says why."""


class ImportKind(StrEnum):
    CUSTOMERS = "customers"
    ORDERS = "orders"
    PRODUCTS = "products"

    @property
    def write_scope(self) -> str:
        return f"{self.value}:write"

    @property
    def read_scope(self) -> str:
        return f"{self.value}:read"


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


UNFINISHED = (ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.FAILED)
# Files of these kinds name people (customer rows; an order's customer email, phone, LINE id).
PERSONAL_KINDS = (ImportKind.CUSTOMERS, ImportKind.ORDERS)
STOPPED_BY_ERASURE = ("stopped: a customer's personal data was erased while this import was unfinished,"
                      " so the uploaded file was deleted (running it later would bring the person back);"
                      " upload the file again without that person to import the rest")


@dataclass(frozen=True)
class SourceRecord:
    """One CSV record as read: `line` is the physical line it starts on (the header is line 1)."""

    line: int
    fields: list[str]


@dataclass(frozen=True)
class Rejection:
    """A row that was not imported, and why."""

    line: int | None
    reason: str
    problems: tuple[FieldProblem, ...] = ()
    fields: tuple[str, ...] = ()

    def as_error(self) -> RowError:
        """What the import resource keeps: the line, the fields and why, without the row's values
        (it outlives the customer's erasure and is shown to every reader of the import)."""
        scrub = _scrubber(self.fields)
        return RowError(line=self.line, detail=scrub(self.reason),
                        problems=tuple(FieldProblem(p.field, scrub(p.message)) for p in self.problems))


@dataclass(frozen=True)
class RowError:
    line: int | None
    detail: str
    problems: tuple[FieldProblem, ...] = ()


def _variants(cell: str) -> set[str]:
    text = cell.strip()
    folded = unicodedata.normalize("NFKC", text).strip()
    return {v for v in (text, folded, folded.casefold()) if len(v) >= 2}


def _scrubber(cells: tuple[str, ...]) -> Callable[[str], str]:
    """Removes quoted literals, identity-shaped text and the row's own cells (as written and
    NFKC-normalised) from a reason. ASCII cells only as whole words, so that a cell `ec` does not
    eat into `second`."""
    words = sorted({v for c in cells for v in _variants(c)}, key=len, reverse=True)
    patterns = [re.escape(w) if not w.isascii() else rf"(?<![A-Za-z0-9]){re.escape(w)}(?![A-Za-z0-9])"
                for w in words]
    cells_re = re.compile("|".join(patterns), re.IGNORECASE) if patterns else None

    def scrub(text: str) -> str:
        text = _IDENTITY_SHAPED.sub(REDACTED, _QUOTED.sub(REDACTED, text))
        return cells_re.sub(REDACTED, text) if cells_re is not None else text

    return scrub


def without_values(text: str) -> str:
    """A reason with quoted literals and identity-shaped text removed (no row at hand)."""
    return _scrubber(())(text)


def describe(problems: tuple[FieldProblem, ...] | list[FieldProblem], fallback: str) -> str:
    """One line for a rejects file: `field: message; field: message`."""
    if not problems:
        return fallback
    return "; ".join(f"{p.field}: {p.message}" for p in problems)


@dataclass(frozen=True)
class ImportContext:
    """What row validation needs to know about the tenant."""

    today: date
    now: datetime
    timezone: str
    currency: str
    definitions: dict[str, AttributeDefinition] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportJob:
    """One import of one file into one tenant. `processed_rows` counts the data rows whose chunk
    committed (accepted + rejected): a resumed import skips exactly that many rows."""

    id: UUID
    kind: ImportKind
    status: ImportStatus
    created_by: str
    created_at: datetime
    filename: str | None = None
    source_sha256: str | None = None
    encoding: str | None = None
    total_rows: int | None = None
    processed_rows: int = 0
    accepted_rows: int = 0
    rejected_rows: int = 0
    errors: tuple[RowError, ...] = ()
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status is ImportStatus.SUCCEEDED

    @property
    def row_errors(self) -> tuple[RowError, ...]:
        """The rejected rows, without why an earlier run stopped (a new run starts clean)."""
        return tuple(e for e in self.errors if e.line is not None)

    def advanced(self, *, accepted: int, rejections: list[Rejection]) -> ImportJob:
        room = MAX_STORED_ERRORS - len(self.errors)
        kept = self.errors + tuple(r.as_error() for r in rejections[:max(room, 0)])
        return replace(self, processed_rows=self.processed_rows + accepted + len(rejections),
                       accepted_rows=self.accepted_rows + accepted,
                       rejected_rows=self.rejected_rows + len(rejections), errors=kept)

    def failed(self, now: datetime, detail: str, line: int | None = None) -> ImportJob:
        errors = self.errors
        if len(errors) < MAX_STORED_ERRORS + 1:  # one slot beyond the row errors for the cause
            errors = (*errors, RowError(line=line, detail=detail))
        return replace(self, status=ImportStatus.FAILED, finished_at=now, errors=errors)


@dataclass(frozen=True)
class ChunkOutcome:
    accepted: int
    rejections: list[Rejection]


@dataclass(frozen=True)
class Parsed:
    """A record that passed row validation, with its typed value."""

    record: SourceRecord
    value: Any
