"""Base classes of request and response bodies."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict


class RequestBody(BaseModel):
    """Unknown fields are refused (422), so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


class ResponseBody(BaseModel):
    model_config = ConfigDict(from_attributes=True)


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _no_numbers(value: object) -> object:
    # pydantic reads numbers (and numeric strings) as Unix timestamps; the contract says RFC 3339.
    if not isinstance(value, datetime) and not (isinstance(value, str) and _RFC3339.match(value)):
        raise ValueError("timestamps are RFC 3339 strings with an offset, e.g. 2026-11-22T09:00:00+09:00")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_no_numbers)]
"""An input instant: RFC 3339 with a UTC offset (a naive time would be ambiguous)."""


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_day(value: object) -> object:
    if not isinstance(value, date) and not (isinstance(value, str) and _DAY.match(value)):
        raise ValueError("dates are ISO 8601 strings, e.g. 1990-04-01")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]
"""An input calendar date: YYYY-MM-DD only (no numbers read as timestamps)."""
