"""Tenant tables of Analytics: customer metrics, RFM, CLV models, settings (issue 5) (migration t0005)."""

from __future__ import annotations
