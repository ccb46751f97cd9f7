"""HTTP routes of the imports area."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/imports", tags=["imports"])
