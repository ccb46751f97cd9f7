"""ETags for mutable resources and If-Match on writes (strong comparison, RFC 9110 13.1.1)."""

from __future__ import annotations

import re

from domain.shared.errors import PreconditionFailed

_TAG = re.compile(r'(W/)?"v(\d{1,18})"')


def etag(version: int) -> str:
    return f'"v{version}"'


def expected_version(if_match: str | None) -> int | None:
    """None: no precondition (header absent or `*`). A tag we never issue can never match."""
    if if_match is None or if_match.strip() == "*":
        return None
    for part in if_match.split(","):
        found = _TAG.fullmatch(part.strip())
        if found and not found.group(1):  # weak tags never match under If-Match
            return int(found.group(2))
    raise PreconditionFailed("If-Match names no current ETag of this resource")
