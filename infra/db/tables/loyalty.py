"""Tenant tables of Loyalty programs, ledger, tiers, rewards and entry campaigns (issue 4) (migration t0004)."""

from __future__ import annotations
