"""The one table that maps errors to HTTP status codes and RFC 9457 problem types."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.loyalty.errors import InsufficientPoints
from domain.shared.errors import (
    Conflict,
    DomainError,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    OAuthError,
    PreconditionFailed,
    TenantSuspended,
    Unauthenticated,
)

PROBLEM_BASE = "https://kizuna.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("kizuna.errors")


class MalformedBody(DomainError):
    """The body is not parseable JSON."""


class PayloadTooLarge(DomainError):
    """The body is larger than settings.max_body_bytes."""


class UnsupportedMediaType(DomainError):
    """The body's Content-Type is not one this operation reads."""


class InsufficientScope(Forbidden):
    """The token lacks a scope the operation needs."""


class RouteNotFound(DomainError):
    pass


class MethodNotAllowed(DomainError):
    pass


class InternalError(DomainError):
    pass


# exception class -> (status, problem type, title). Subclasses come before their bases.
ERROR_TABLE: dict[type[Exception], tuple[int, str, str]] = {
    MalformedBody: (400, "malformed-body", "Malformed request body"),
    Unauthenticated: (401, "unauthenticated", "Authentication required"),
    TenantSuspended: (403, "tenant-suspended", "Tenant suspended"),
    InsufficientScope: (403, "insufficient-scope", "Insufficient scope"),
    Forbidden: (403, "forbidden", "Forbidden"),
    NotFound: (404, "not-found", "Not found"),
    RouteNotFound: (404, "not-found", "Not found"),
    MethodNotAllowed: (405, "method-not-allowed", "Method not allowed"),
    InsufficientPoints: (409, "insufficient-points", "Insufficient points"),
    Conflict: (409, "conflict", "Conflict"),
    PreconditionFailed: (412, "precondition-failed", "Precondition failed"),
    PayloadTooLarge: (413, "payload-too-large", "Payload too large"),
    UnsupportedMediaType: (415, "unsupported-media-type", "Unsupported media type"),
    InvalidInput: (422, "invalid-input", "Invalid input"),
    InternalError: (500, "internal-error", "Internal server error"),
}


def lookup(exc: Exception) -> tuple[int, str, str]:
    for cls in type(exc).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return ERROR_TABLE[InternalError]


def problem(request: Request, exc: DomainError, *, headers: dict[str, str] | None = None) -> JSONResponse:
    status, kind, title = lookup(exc)
    extra = dict(exc.extra)
    code = extra.pop("code", kind.replace("-", "_"))
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + kind,
        "title": title,
        "status": status,
        "detail": exc.detail,
        "instance": request.url.path,
        "code": code,
        "request_id": getattr(request.state, "request_id", None),
    }
    if isinstance(exc, InvalidInput) and exc.problems:
        body["errors"] = [{"field": p.field, "message": p.message} for p in exc.problems]
    body.update(extra)
    response_headers = dict(headers or {})
    if status == 401:
        response_headers.setdefault("WWW-Authenticate", 'Bearer realm="kizuna"')
    return JSONResponse(body, status_code=status, headers=response_headers,
                        media_type=PROBLEM_MEDIA_TYPE)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "body")


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem(request, MalformedBody("the request body is not valid JSON"))
    return problem(request, InvalidInput("the request has invalid fields", problems=[
        FieldProblem(field=_field_path(tuple(e.get("loc", ()))), message=str(e.get("msg", "invalid")))
        for e in errors]))


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem(request, exc)


async def _oauth(request: Request, exc: Exception) -> JSONResponse:
    """RFC 6749 section 5.2 errors keep their own JSON shape: OAuth clients parse `error`."""
    assert isinstance(exc, OAuthError)
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **exc.headers}
    if exc.status == 401:
        # RFC 6749 5.2: a 401 invalid_client names the scheme the client should authenticate with.
        headers.setdefault("WWW-Authenticate", 'Basic realm="kizuna"')
    return JSONResponse({"error": exc.error, "error_description": exc.description},
                        status_code=exc.status, headers=headers)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return problem(request, RouteNotFound(f"no route matches {request.url.path}"))
    if exc.status_code == 400:
        # FastAPI's own refusal of a body it could not decode (invalid UTF-8, nesting too deep for
        # the JSON parser): the same problem as any other malformed body.
        return problem(request, MalformedBody("the request body is not valid JSON"))
    if exc.status_code == 413:
        return problem(request, PayloadTooLarge(str(exc.detail)))
    if exc.status_code == 405:
        return problem(request, MethodNotAllowed(f"{request.method} is not allowed here"),
                       headers={"Allow": ", ".join(_allowed_methods(request))})
    status = exc.status_code
    body = {"type": "about:blank", "title": str(exc.detail), "status": status,
            "detail": str(exc.detail), "instance": request.url.path,
            "request_id": getattr(request.state, "request_id", None)}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def _allowed_methods(request: Request) -> list[str]:
    """Every documented method of the path (RFC 9110 15.5.6). Starlette's own Allow names only
    the first route matching the path, and a path is often served by several (GET and POST)."""
    table = getattr(request.app.state, "allow_table", None)
    if table is None:
        table = []
        for template, item in request.app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            table.append((template, re.compile(f"^{pattern}$"), {m.upper() for m in item}))
        request.app.state.allow_table = table
    path = request.url.path
    # A literal path (/v1/orders/batch) wins over a template that also matches it (/v1/orders/{id}).
    literal = [found for template, _, found in table if template == path]
    candidates = literal or [found for _, pattern, found in table if pattern.match(path)]
    methods: set[str] = set().union(*candidates) if candidates else set()
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    # Starlette answers unhandled errors from its outermost middleware, outside
    # RequestContextMiddleware, so the request id header must be set here.
    request_id = getattr(request.state, "request_id", None)
    return problem(request, InternalError("an internal error occurred; quote the request_id"),
                   headers={"X-Request-ID": request_id} if request_id else None)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(OAuthError, _oauth)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unhandled)
