"""Tenant bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from api.schemas.clients import ClientWithSecret
from api.schemas.common import RequestBody, ResponseBody
from domain.tenants.model import Tenant


class TenantCreate(RequestBody):
    slug: str = Field(max_length=64, examples=["acme_cosme"],
                      description="`^[a-z][a-z0-9_]{1,40}$`; the schema will be `t_<slug>`")
    name: str = Field(max_length=400, examples=["アクメ化粧品株式会社"])
    timezone: str = Field(default="Asia/Tokyo", max_length=64, description="IANA timezone")
    currency: str = Field(default="JPY", min_length=3, max_length=3, description="ISO 4217")


class TenantUpdate(RequestBody):
    name: str | None = Field(default=None, max_length=400)
    timezone: str | None = Field(default=None, max_length=64)
    status: Literal["active", "suspended"] | None = None


class TenantRead(ResponseBody):
    id: UUID
    slug: str
    name: str
    timezone: str
    currency: str
    status: Literal["active", "suspended"]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, tenant: Tenant) -> TenantRead:
        return cls(id=tenant.id, slug=tenant.slug, name=tenant.name, timezone=tenant.timezone,
                   currency=tenant.currency, status=tenant.status.value,
                   created_at=tenant.created_at, updated_at=tenant.updated_at)


class TenantCreated(TenantRead):
    initial_client: ClientWithSecret = Field(
        description="A client holding every tenant scope. The secret is shown only here.")
