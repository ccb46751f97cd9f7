"""Tenant provisioning and management (platform operators, scope platform:admin)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, Response, Security

from api.deps import Caller, platform_caller
from api.http.etag import etag, expected_version
from api.http.idempotency import idempotent
from api.http.pagination import Page, encode_cursor, page_request
from api.http.problems import problem_responses
from api.schemas.clients import ClientWithSecret
from api.schemas.tenants import TenantCreate, TenantCreated, TenantRead, TenantUpdate
from domain.auth.model import PLATFORM_ADMIN
from domain.shared.pagination import PageRequest
from domain.tenants.model import TenantStatus
from domain.tenants.services import create_tenant, get_tenant, list_tenants, update_tenant

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])
Platform = Annotated[Caller, Security(platform_caller, scopes=[PLATFORM_ADMIN])]


@router.post("", status_code=201, operation_id="tenants_create", response_model=TenantCreated,
             summary="Provision a tenant: its schema, and an initial client",
             responses=problem_responses(409))
async def create(request: Request, body: TenantCreate, caller: Platform,
                 idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None) -> Response:
    async def action() -> TenantCreated:
        provisioned = await create_tenant(uow=caller.uow, clock=caller.clock, slug=body.slug,
                                          name=body.name, timezone=body.timezone, currency=body.currency)
        return TenantCreated(**TenantRead.from_domain(provisioned.tenant).model_dump(),
                             initial_client=ClientWithSecret.from_issued(provisioned.initial_client))

    return await idempotent(request, caller, status_code=201, action=action,
                            headers=lambda t: {"Location": f"/v1/tenants/{t.id}", "ETag": etag(1)})


@router.get("", operation_id="tenants_list", response_model=Page[TenantRead], summary="List tenants",
            responses=problem_responses())
async def list_(caller: Platform, page: Annotated[PageRequest, Depends(page_request)]) -> Page[TenantRead]:
    result = await list_tenants(uow=caller.uow, page=page)
    return Page[TenantRead](data=[TenantRead.from_domain(t) for t in result.items],
                            next_cursor=encode_cursor(result.next_after))


@router.get("/{tenant_id}", operation_id="tenants_get", response_model=TenantRead, summary="Get a tenant",
            responses=problem_responses(404))
async def get(tenant_id: UUID, caller: Platform, response: Response) -> TenantRead:
    tenant = await get_tenant(uow=caller.uow, tenant_id=tenant_id)
    response.headers["ETag"] = etag(tenant.version)
    return TenantRead.from_domain(tenant)


@router.patch("/{tenant_id}", operation_id="tenants_update", response_model=TenantRead,
              summary="Rename, change timezone, suspend or reactivate a tenant",
              responses=problem_responses(404, 412))
async def update(tenant_id: UUID, body: TenantUpdate, caller: Platform, response: Response,
                 if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> TenantRead:
    tenant = await update_tenant(
        uow=caller.uow, clock=caller.clock, tenant_id=tenant_id, name=body.name,
        timezone=body.timezone, status=TenantStatus(body.status) if body.status else None,
        expected_version=expected_version(if_match))
    response.headers["ETag"] = etag(tenant.version)
    return TenantRead.from_domain(tenant)
