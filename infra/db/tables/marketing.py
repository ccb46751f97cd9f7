"""Tenant tables of Marketing costs and attribution (issue 5) (migration t0006)."""

from __future__ import annotations
