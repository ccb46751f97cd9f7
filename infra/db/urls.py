"""Database URL helpers: one libpq-style URL in settings, driver-specific forms derived from it."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url


def _base(url: str) -> URL:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql")


def asyncpg_url(url: str) -> URL:
    return _base(url).set(drivername="postgresql+asyncpg")


def libpq_url(url: str) -> str:
    """For psycopg (procrastinate) and psql."""
    return _base(url).render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    return _base(url).set(database=database).render_as_string(hide_password=False)


def database_name(url: str) -> str | None:
    return _base(url).database
