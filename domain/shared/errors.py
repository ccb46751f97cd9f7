"""Typed business errors. `api/errors.py` maps each class to one HTTP status and problem type."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    """One invalid input field: `field` is a dotted path, `message` says what is wrong."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, detail: str, *, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, Any] = dict(extra or {})


class NotFound(DomainError):
    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"{kind} {ident} was not found")
        self.kind = kind


class Conflict(DomainError):
    """The request clashes with the current state (duplicate key, wrong status)."""


class InvalidInput(DomainError):
    def __init__(self, detail: str, *, field: str | None = None,
                 problems: Sequence[FieldProblem] = ()) -> None:
        super().__init__(detail)
        found = list(problems)
        if field is not None:
            found.append(FieldProblem(field=field, message=detail))
        self.problems: list[FieldProblem] = found


class PreconditionFailed(DomainError):
    """An If-Match (or similar) precondition did not hold."""


class Forbidden(DomainError):
    """The caller is known but may not do this."""


class TenantSuspended(Forbidden):
    def __init__(self, tenant_id: object) -> None:
        super().__init__(f"tenant {tenant_id} is suspended; its tokens may not call the API")


class Unauthenticated(DomainError):
    """No valid credentials: missing, malformed, expired, revoked or unknown token."""


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error: returned as plain OAuth JSON, not problem+json."""

    def __init__(self, error: str, description: str, *, status: int = 400,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.headers: dict[str, str] = dict(headers or {})
