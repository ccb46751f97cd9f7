"""Cursor pagination: `limit` and an opaque `cursor`; responses are `{"data": [...], "next_cursor"}`."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Generic, TypeVar
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel, Field

from domain.shared.errors import InvalidInput
from domain.shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page.")


def encode_cursor(after: UUID | None) -> str | None:
    if after is None:
        return None
    raw = json.dumps({"after": str(after)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> UUID:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
        if not isinstance(after, str):
            raise TypeError("after must be a string")
        return UUID(after)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("the cursor is not one this API returned", field="cursor") from exc


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512,
                                        description="`next_cursor` of the previous page")] = None,
) -> PageRequest:
    # async: FastAPI would run a plain `def` dependency in its thread pool on every list request.
    return PageRequest(limit=limit, after=decode_cursor(cursor) if cursor else None)
