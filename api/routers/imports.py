"""Bulk CSV imports over HTTP: upload the file, a job imports it, poll the import for progress.

The body limit is the API's (KIZUNA_MAX_BODY_BYTES, 1 MiB by default, a few thousand rows):
larger files go through `kizuna import`, which streams any size (docs/imports.md).
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response, Security

from api.deps import Caller, tenant_caller
from api.errors import InsufficientScope, UnsupportedMediaType
from api.http.idempotency import idempotent
from api.http.pagination import Page, encode_cursor, page_request
from api.http.problems import problem_responses
from api.schemas.imports import ImportKindName, ImportRead, ImportStatusName
from domain.imports.model import ImportKind, ImportStatus
from domain.imports.ports import ImportFilter
from domain.imports.services import get_import, list_imports, submit_import
from domain.shared.pagination import PageRequest

router = APIRouter(prefix="/v1/imports", tags=["imports"])
# The scope depends on the kind of import (customers:write for a customer import, ...), so the
# routes take any tenant token and check the kind's scope themselves.
TenantCaller = Annotated[Caller, Security(tenant_caller)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
CSV_MEDIA_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")
_BODY = {"required": True, "description": "The CSV file, UTF-8 (a byte-order mark is fine) or Shift_JIS"
                                          " (cp932); header row first (docs/imports.md lists the columns)",
         "content": {"text/csv": {"schema": {"type": "string"}, "example":
                                  "external_id,email,family_name,given_name\nC001,hanako@example.jp,山田,花子\n"},
                     "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


def _require(caller: Caller, scope: str) -> None:
    if not caller.principal.has(scope):
        raise InsufficientScope(f"this operation needs scope {scope}", extra={"required_scopes": [scope]})


@router.post("", status_code=202, operation_id="imports_create", response_model=ImportRead,
             summary="Upload a CSV file to import (needs the kind's write scope, e.g. customers:write)",
             description="Returns 202 with the import, `queued`; a job imports the rows. Poll "
                         "`GET /v1/imports/{id}` for progress and the first rejected rows. Rows are "
                         "validated as the API validates them; valid rows are written even when others "
                         "are rejected. Files larger than the body limit go through `kizuna import`.",
             responses=problem_responses(), openapi_extra={"requestBody": _BODY})
async def create(request: Request, caller: TenantCaller,
                 kind: Annotated[ImportKindName, Query(description="What the rows are")],
                 encoding: Annotated[Literal["auto", "utf-8", "cp932"], Query(
                     description="auto: UTF-8 if the whole file decodes as UTF-8, else cp932")] = "auto",
                 filename: Annotated[str | None, Query(max_length=200,
                                                       description="For your reference")] = None,
                 idempotency_key: IdempotencyKey = None) -> Response:
    wanted = ImportKind(kind)
    _require(caller, wanted.write_scope)
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media not in CSV_MEDIA_TYPES:
        raise UnsupportedMediaType("send the CSV file as the body, as text/csv or application/octet-stream")
    content = await request.body()
    assert caller.tenant is not None
    tenant_id = caller.tenant.id

    async def action() -> ImportRead:
        job = await submit_import(uow=caller.uow, clock=caller.clock, tenant_id=tenant_id,
                                  kind=wanted, content=content, encoding=encoding, filename=filename,
                                  created_by=caller.principal.client_id)
        return ImportRead.from_domain(job)

    return await idempotent(request, caller, status_code=202, action=action,
                            headers=lambda r: {"Location": f"/v1/imports/{r.id}"})


@router.get("/{import_id}", operation_id="imports_get", response_model=ImportRead,
            summary="An import: status, counts, first rejected rows (needs the kind's read scope)",
            responses=problem_responses(404))
async def get(import_id: UUID, caller: TenantCaller) -> ImportRead:
    job = await get_import(uow=caller.uow, import_id=import_id)
    _require(caller, job.kind.read_scope)
    return ImportRead.from_domain(job)


@router.get("", operation_id="imports_list", response_model=Page[ImportRead],
            summary="Imports, newest first (those of kinds the token may read)",
            responses=problem_responses())
async def list_(caller: TenantCaller, page: Annotated[PageRequest, Depends(page_request)],
                kind: ImportKindName | None = None,
                status: ImportStatusName | None = None) -> Page[ImportRead]:
    if kind is not None:
        _require(caller, ImportKind(kind).read_scope)
        kinds: tuple[ImportKind, ...] = (ImportKind(kind),)
    else:
        kinds = tuple(k for k in ImportKind if caller.principal.has(k.read_scope))
        if not kinds:
            _require(caller, ImportKind.CUSTOMERS.read_scope)
    result = await list_imports(uow=caller.uow, page=page, filters=ImportFilter(
        kinds=kinds, status=ImportStatus(status) if status else None))
    return Page[ImportRead](data=[ImportRead.from_domain(j) for j in result.items],
                            next_cursor=encode_cursor(result.next_after))
