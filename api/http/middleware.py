"""ASGI middleware: request ids, access logs, Prometheus metrics, body limits and media types."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("kizuna_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("kizuna_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = structlog.get_logger("kizuna.access")
_access_level = logging.getLogger("kizuna.access")  # the level the access log is filtered at


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """One request id per request (honouring a sane X-Request-ID), echoed, logged, measured."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.fullmatch(incoming) else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            REQUESTS.labels(method, template, str(status_holder["status"])).inc()
            LATENCY.labels(method, template).observe(elapsed)
            if _access_level.isEnabledFor(logging.INFO):
                # structlog runs its processors (context, time stamp) before the standard
                # library drops a line below the level: asked first, a server at `warning`
                # saves that work on every request (a few % of a small request's CPU).
                state: dict[str, Any] = scope.get("state", {})
                access_log.info("request", method=method, path=scope.get("path"), route=template,
                                status=status_holder["status"], duration_ms=round(elapsed * 1000, 2),
                                tenant=state.get("tenant_slug"), client_id=state.get("client_id"))
            structlog.contextvars.unbind_contextvars("request_id")


_JSON_TYPES = re.compile(r"^application/([\w.+-]+\+)?json$")
_FORM_PATHS = ("/oauth/",)


async def _problem(send: Send, scope: Scope, status: int, kind: str, title: str, detail: str) -> None:
    import json

    body = json.dumps({
        "type": "https://kizuna.dev/problems/" + kind, "title": title, "status": status,
        "detail": detail, "instance": scope.get("path", ""), "code": kind.replace("-", "_"),
        "request_id": scope.get("state", {}).get("request_id")}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyGuardMiddleware:
    """413 beyond `max_bytes` (declared or streamed) and 415 for JSON operations sent anything but
    JSON. Runs before routing, so nothing is parsed or written for a refused body."""

    # Operations that take other media (CSV or multipart uploads) list their prefix here.
    non_json_prefixes: tuple[str, ...] = ("/v1/imports",)

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and b"%00" in scope.get("query_string", b""):
            # No query parameter of this API may hold NUL, and PostgreSQL text cannot: refuse it
            # here once rather than in every filter. (Paths with NUL match no route, or fail the
            # path parameter's own validation.)
            await _problem(send, scope, 422, "invalid-input", "Invalid input",
                           "query parameters must not contain NUL characters")
            return
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        too_large = f"the request body exceeds {self.max_bytes} bytes"
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _problem(send, scope, 413, "payload-too-large", "Payload too large", too_large)
            return
        has_body = (length is not None and length != "0") or _header(scope, b"transfer-encoding")
        path = scope.get("path", "")
        if has_body and path.startswith("/v1/"):
            media = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
            if not _JSON_TYPES.match(media) and not path.startswith(self.non_json_prefixes):
                await _problem(send, scope, 415, "unsupported-media-type", "Unsupported media type",
                               "send the body as application/json")
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException passes FastAPI's body parsing untouched and reaches the
                    # error table as a 413 problem.
                    raise HTTPException(413, too_large)
            return message

        await self.app(scope, limited_receive, send)
