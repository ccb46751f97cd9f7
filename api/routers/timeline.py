"""HTTP routes of the timeline area."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/customers", tags=["events"])
