"""OAuth clients, scopes and the principal a verified token stands for."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from domain.shared.errors import InvalidInput
from domain.shared.ids import new_id
from domain.shared.text import clean_text

AREAS = ("customers", "events", "orders", "products", "loyalty", "campaigns", "segments", "voc",
         "leads", "analytics", "clients")
TENANT_SCOPES: tuple[str, ...] = tuple(f"{area}:{verb}" for area in AREAS for verb in ("read", "write"))
PLATFORM_ADMIN = "platform:admin"
PLATFORM_SCOPES: tuple[str, ...] = (PLATFORM_ADMIN,)

SECRET_PREFIX = "ksec_"
CLIENT_ID_PREFIX = "kc_"


def hash_secret(secret: str) -> str:
    """Secrets are 256 random bits, so one SHA-256 is enough (no password stretching needed)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def parse_scope(scope: str | None) -> tuple[str, ...]:
    """RFC 6749 section 3.3: space-delimited, order irrelevant, duplicates collapse."""
    if not scope:
        return ()
    return tuple(dict.fromkeys(part for part in scope.split(" ") if part))


@dataclass(frozen=True)
class Client:
    id: UUID
    client_id: str
    tenant_id: UUID | None  # None: a platform client
    name: str
    scopes: tuple[str, ...]
    secret_hash: str
    created_at: datetime
    previous_secret_hash: str | None = None
    previous_secret_expires_at: datetime | None = None
    secret_rotated_at: datetime | None = None

    @property
    def is_platform(self) -> bool:
        return self.tenant_id is None

    def verify_secret(self, secret: str, now: datetime) -> bool:
        digest = hash_secret(secret)
        ok = hmac.compare_digest(digest, self.secret_hash)
        if self.previous_secret_hash is not None and self.previous_secret_expires_at is not None:
            # Compare both every time, so the timing does not tell which secret matched.
            old_ok = hmac.compare_digest(digest, self.previous_secret_hash)
            ok = ok or (old_ok and now < self.previous_secret_expires_at)
        return ok

    def with_new_secret(self, *, now: datetime, overlap: timedelta) -> tuple[Client, str]:
        secret = new_secret()
        keep_old = overlap > timedelta(0)
        rotated = replace(
            self, secret_hash=hash_secret(secret),
            previous_secret_hash=self.secret_hash if keep_old else None,
            previous_secret_expires_at=now + overlap if keep_old else None,
            secret_rotated_at=now)
        return rotated, secret


@dataclass(frozen=True)
class IssuedClient:
    """A client together with its secret in clear: exists only in the response that creates it."""

    client: Client
    client_secret: str


def validate_scopes(scopes: tuple[str, ...] | list[str], *, allowed: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [s for s in scopes if s not in allowed]
    if unknown:
        raise InvalidInput(f"unknown scopes: {', '.join(sorted(unknown))}", field="scopes")
    if not scopes:
        raise InvalidInput("at least one scope is required", field="scopes")
    return tuple(dict.fromkeys(scopes))


def new_client(*, tenant_id: UUID | None, name: str, scopes: tuple[str, ...], now: datetime,
               client_id: str | None = None, secret: str | None = None) -> IssuedClient:
    allowed = PLATFORM_SCOPES if tenant_id is None else TENANT_SCOPES
    secret = secret or new_secret()
    client = Client(
        id=new_id(), client_id=client_id or CLIENT_ID_PREFIX + secrets.token_hex(12),
        tenant_id=tenant_id, name=clean_text(name, field="name", max_length=200),
        scopes=validate_scopes(scopes, allowed=allowed), secret_hash=hash_secret(secret),
        created_at=now)
    return IssuedClient(client=client, client_secret=secret)


@dataclass(frozen=True)
class TokenClaims:
    """The claims of an access token (DESIGN.md section 4)."""

    iss: str
    aud: str
    sub: str
    tid: UUID | None
    scope: tuple[str, ...]
    iat: int
    exp: int
    jti: str


@dataclass(frozen=True)
class Principal:
    """Who is calling: the verified token's subject, tenant and scopes."""

    client_id: str
    tenant_id: UUID | None
    scopes: frozenset[str]
    jti: str
    expires_at: int

    def has(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: tuple[str, ...]


@dataclass(frozen=True)
class TenantRef:
    """The tenant a request acts for, as the registry knows it."""

    id: UUID
    slug: str
    schema: str
    timezone: str
    currency: str
