"""ES256 signing keys: created on first start, kept in `control.signing_keys`, rotatable.

A rotation retires the current key (it signs nothing new) and keeps publishing and accepting it
until every token it signed has expired.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from infra import background
from infra.db.notify import notify
from infra.db.tables.control import signing_keys

log = logging.getLogger(__name__)

ALGORITHM = "ES256"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _public_jwk(public: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big"))}


def _thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 JWK thumbprint: a kid that names the key's content."""
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return _b64(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: ec.EllipticCurvePrivateKey | None  # None once retired
    public: ec.EllipticCurvePublicKey
    jwk: dict[str, str]
    created_at: datetime
    retired_at: datetime | None
    expires_at: datetime | None


async def create_key(conn: AsyncConnection, now: datetime) -> str:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = _public_jwk(private.public_key())
    kid = _thumbprint(jwk)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    await conn.execute(signing_keys.insert().values(
        kid=kid, algorithm=ALGORITHM, private_pem=pem,
        public_jwk={**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}, created_at=now))
    return kid


async def ensure_signing_key(engine: AsyncEngine) -> None:
    """Create the first key unless one is active; an advisory lock keeps two starting workers
    from creating two."""
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('kizuna.signing_keys'))"))
        active = (await conn.execute(select(func.count()).select_from(signing_keys).where(
            signing_keys.c.retired_at.is_(None)))).scalar()
        if not active:
            await create_key(conn, datetime.now(UTC))


async def rotate_keys(engine: AsyncEngine, *, token_ttl_seconds: int) -> str:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('kizuna.signing_keys'))"))
        await conn.execute(signing_keys.update().where(signing_keys.c.retired_at.is_(None)).values(
            retired_at=now, expires_at=now + timedelta(seconds=token_ttl_seconds + 60)))
        kid = await create_key(conn, now)
        await notify(conn, "keys")
    return kid


class KeyStore:
    """The keys in memory: the newest active one signs; any unexpired one verifies."""

    def __init__(self, engine: AsyncEngine, ttl: float) -> None:
        self._engine = engine
        self._ttl = ttl
        self._keys: dict[str, SigningKey] = {}
        self._signing: SigningKey | None = None
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()
        self._reloading: asyncio.Task[None] | None = None

    def mark_stale(self) -> None:
        self._loaded_at = float("-inf")

    @property
    def fresh(self) -> bool:
        return time.monotonic() - self._loaded_at < self._ttl

    async def load(self) -> None:
        async with self._lock:
            await self._load_locked()

    async def reload_unless_recent(self, seconds: float) -> None:
        """Reload unless the keys were loaded less than `seconds` ago: a stream of tokens naming
        unknown kids costs at most one query per period, not one each (a NOTIFY about a new key
        marks the store stale, so a real new key is still seen at once)."""
        async with self._lock:
            if time.monotonic() - self._loaded_at >= seconds:
                await self._load_locked()

    async def _load_locked(self) -> None:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(signing_keys).order_by(
                signing_keys.c.created_at))).all()
        now = datetime.now(UTC)
        keys: dict[str, SigningKey] = {}
        signing = None
        for row in rows:
            if row.expires_at is not None and row.expires_at <= now:
                continue
            private: Any = serialization.load_pem_private_key(row.private_pem.encode(), None)
            key = SigningKey(kid=row.kid, private=private if row.retired_at is None else None,
                             public=private.public_key(), jwk=dict(row.public_jwk),
                             created_at=row.created_at, retired_at=row.retired_at,
                             expires_at=row.expires_at)
            keys[row.kid] = key
            if row.retired_at is None:
                signing = key
        self._keys, self._signing = keys, signing
        self._loaded_at = time.monotonic()

    async def refresh_if_stale(self) -> None:
        """Every request asks. Past the TTL (or after a NOTIFY marked the store stale), one
        background reload runs while requests verify with the keys held; only a store that
        holds no key yet waits. A token naming a kid not held still waits for a reload
        (TokenService._verify). Before, every request past the TTL queued on the lock to reload
        the keys again itself, parsing every PEM: a burst of hundreds of milliseconds every 30 s
        at 1,600 requests/s (docs/performance.md)."""
        if self.fresh:
            return
        if not self._keys:
            await self._load_unless_fresh()
            return
        if self._reloading is None:
            self._reloading = background.start(self._reload_in_background())

    async def _load_unless_fresh(self) -> None:
        async with self._lock:  # whoever waited on the lock finds the keys another just loaded
            if not self.fresh:
                await self._load_locked()

    async def _reload_in_background(self) -> None:
        try:
            await self._load_unless_fresh()
        except Exception:
            log.warning("signing keys: reload failed; verifying with the keys held", exc_info=True)
        finally:
            self._reloading = None

    def signing_key(self) -> SigningKey:
        if self._signing is None:
            raise RuntimeError("no active signing key: run `kizuna migrate` / start `kizuna serve`")
        return self._signing

    def verification_key(self, kid: str) -> SigningKey | None:
        key = self._keys.get(kid)
        if key is not None and key.expires_at is not None and key.expires_at <= datetime.now(UTC):
            return None
        return key

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [k.jwk for k in self._keys.values()]}
