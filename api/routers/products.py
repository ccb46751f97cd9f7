"""HTTP routes of the products area."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/products", tags=["products"])
