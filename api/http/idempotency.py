"""`Idempotency-Key` on POSTs that create or move value (DESIGN.md sections 5 and 7).

The key is claimed, the use case runs, and its response is stored, all in one transaction: the
effect and the key commit together or not at all. The same key and body replays the stored
response (with `Idempotent-Replayed: true`); the same key with another body is 422; a key whose
first request is still running is 409.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from api.deps import Caller
from domain.shared.errors import InvalidInput

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def _fingerprint(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), request.url.query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _json(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


async def idempotent(request: Request, caller: Caller, *, status_code: int,
                     action: Callable[[], Awaitable[BaseModel]],
                     headers: Callable[[Any], dict[str, str]] | None = None) -> Response:
    """Run `action` under the request's Idempotency-Key (none: just run it); answer `status_code`."""
    async def with_status() -> tuple[int, BaseModel]:
        return status_code, await action()

    return await idempotent_with_status(request, caller, action=with_status, headers=headers)


async def idempotent_with_status(request: Request, caller: Caller, *,
                                 action: Callable[[], Awaitable[tuple[int, BaseModel]]],
                                 headers: Callable[[Any], dict[str, str]] | None = None) -> Response:
    """As `idempotent`, for an operation whose status depends on the outcome (e.g. 201 stored, 200
    already there): a replay answers the first request's status and body."""
    key = request.headers.get(HEADER)
    if key is None:
        status, result = await action()
        return Response(_json(result), status, headers=headers(result) if headers else None,
                        media_type="application/json")
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise InvalidInput(f"{HEADER} must be 1-{MAX_KEY_LENGTH} printable ASCII characters",
                           field=HEADER)
    fingerprint = _fingerprint(request, await request.body())
    uow = caller.uow
    async with uow:
        now = caller.clock.now()
        stored = await uow.idempotency.claim(owner=caller.owner, key=key, fingerprint=fingerprint,
                                             now=now)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise InvalidInput(f"this {HEADER} was used with a different request",
                                   field=HEADER)
            # Only successes are stored; an erasure turns those naming the person into a 410
            # problem (infra: the idempotency store), which is served as one.
            media_type = "application/problem+json" if stored.status >= 400 else "application/json"
            return Response(stored.body, stored.status, media_type=media_type,
                            headers={"Idempotent-Replayed": "true"})
        status, result = await action()
        body = _json(result)
        await uow.idempotency.complete(owner=caller.owner, key=key, status=status, body=body, now=now)
        await uow.commit()
    return Response(body, status, headers=headers(result) if headers else None,
                    media_type="application/json")
