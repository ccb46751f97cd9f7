"""Settings, read from `KIZUNA_*` environment variables once and passed through the factories."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KIZUNA_", extra="ignore")

    # Database. Unset: an embedded PostgreSQL under `data_dir/pgdata` is started and used.
    database_url: str | None = None
    data_dir: Path = Path(".kizuna")
    # Per worker process. Overflow connections are closed when returned, so a steady load above
    # the pool size reconnects constantly: size the pool for the concurrency a worker sees.
    db_pool_size: int = 20
    db_max_overflow: int = 5
    # asyncpg caches prepared statements per connection by SQL text, and every tenant schema gives
    # different text: keep the cache bounded so thousands of tenants cannot grow it without limit.
    db_statement_cache_size: int = 256

    # HTTP serving
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body_bytes: int = 1024 * 1024
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_format: str = "json"  # json | console
    log_level: str = "info"

    # Tokens
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "kizuna-api"
    token_ttl_seconds: int = 3600
    bootstrap_client_id: str | None = None
    bootstrap_client_secret: str | None = None

    # Caches shared across workers are invalidated by LISTEN/NOTIFY; this is the fallback period.
    cache_ttl_seconds: float = 30.0
    # LISTEN needs a session: behind PgBouncer in transaction mode, point this at the server
    # directly (or at a session-mode pool). Unset: the database URL.
    listen_database_url: str | None = None

    # Migrations
    migrate_concurrency: int = 8

    # Idempotency keys are kept this long (Stripe keeps 24 h).
    idempotency_ttl_hours: int = 24

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
