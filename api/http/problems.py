"""The problem+json schema as the OpenAPI document shows it, and per-operation error responses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.errors import ERROR_TABLE, PROBLEM_BASE, PROBLEM_MEDIA_TYPE


class FieldError(BaseModel):
    field: str = Field(examples=["slug"])
    message: str = Field(examples=["must start with a lower-case letter"])


class Problem(BaseModel):
    """RFC 9457 problem details. `code` is a stable machine-readable name of `type`."""

    type: str = Field(examples=[PROBLEM_BASE + "not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["tenant 0193... was not found"])
    instance: str = Field(examples=["/v1/tenants/0193..."])
    code: str = Field(examples=["not_found"])
    request_id: str | None = Field(default=None, examples=["b1f7c3a2d9e84c55"])
    errors: list[FieldError] | None = None


_DESCRIPTIONS = {
    400: "Malformed request body",
    401: "Missing, invalid, expired or revoked access token",
    403: "The token lacks a scope, or its tenant is suspended",
    404: "No such object (objects of other tenants are also 404)",
    409: "Conflict with the current state (duplicate, or Idempotency-Key in flight)",
    412: "If-Match does not match the current ETag",
    413: "Body larger than the limit",
    415: "Unsupported Content-Type",
    422: "Invalid fields; `errors` lists them",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Error responses for an operation; 400, 401, 403, 413, 415 and 422 apply to all."""
    wanted = sorted(set(statuses) | {400, 401, 403, 413, 415, 422})
    assert all(s in {v[0] for v in ERROR_TABLE.values()} for s in wanted)
    return {s: {"model": Problem, "description": _DESCRIPTIONS.get(s, "Error"),
                "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for s in wanted}
