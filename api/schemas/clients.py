"""OAuth client bodies."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from api.schemas.common import RequestBody, ResponseBody
from domain.auth.model import Client, IssuedClient


class ClientCreate(RequestBody):
    name: str = Field(max_length=200, examples=["shopify-sync"])
    scopes: list[str] = Field(min_length=1, max_length=64, examples=[["customers:read", "orders:write"]])


class SecretRotation(RequestBody):
    overlap_seconds: int = Field(
        default=3600, ge=0, le=7 * 24 * 3600,
        description="How long the previous secret keeps working (0: at once revoked)")


class ClientRead(ResponseBody):
    id: UUID
    client_id: str
    name: str
    scopes: list[str]
    created_at: datetime
    secret_rotated_at: datetime | None = None
    previous_secret_expires_at: datetime | None = None

    @classmethod
    def from_domain(cls, client: Client) -> ClientRead:
        return cls(id=client.id, client_id=client.client_id, name=client.name,
                   scopes=list(client.scopes), created_at=client.created_at,
                   secret_rotated_at=client.secret_rotated_at,
                   previous_secret_expires_at=client.previous_secret_expires_at)


class ClientWithSecret(ClientRead):
    client_secret: str = Field(description="Shown once; store it now. Kizuna keeps only a digest.")

    @classmethod
    def from_issued(cls, issued: IssuedClient) -> ClientWithSecret:
        return cls(**ClientRead.from_domain(issued.client).model_dump(),
                   client_secret=issued.client_secret)
