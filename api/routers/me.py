"""Who the token is: the cheapest authenticated call (a smoke test for integrators)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Security
from pydantic import BaseModel

from api.deps import Caller, tenant_caller
from api.http.problems import problem_responses

router = APIRouter(prefix="/v1/me", tags=["clients"])


class TenantSummary(BaseModel):
    id: UUID
    slug: str
    timezone: str
    currency: str


class Me(BaseModel):
    client_id: str
    tenant: TenantSummary
    scopes: list[str]
    token_expires_at: datetime


@router.get("", operation_id="clients_me", response_model=Me, responses=problem_responses(),
            summary="The calling client, its tenant and the token's scopes (no scope needed)")
async def me(caller: Annotated[Caller, Security(tenant_caller, scopes=[])]) -> Me:
    tenant = caller.tenant
    assert tenant is not None
    return Me(client_id=caller.principal.client_id,
              tenant=TenantSummary(id=tenant.id, slug=tenant.slug, timezone=tenant.timezone,
                                   currency=tenant.currency),
              scopes=sorted(caller.principal.scopes),
              token_expires_at=datetime.fromtimestamp(caller.principal.expires_at, UTC))
