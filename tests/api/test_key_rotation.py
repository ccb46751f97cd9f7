"""Signing-key rotation: new tokens use the new key, old tokens verify until they expire."""

from __future__ import annotations

import asyncio

import jwt

from infra.auth.keys import rotate_keys
from tests.conftest import bearer, get_token


async def _jwks_kids(api) -> set[str]:
    return {k["kid"] for k in (await api.get("/.well-known/jwks.json")).json()["keys"]}


async def test_rotation_is_announced_and_old_tokens_keep_working(api, app, tenant_a):
    old_token = await get_token(api, tenant_a.client_id, tenant_a.client_secret)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    new_kid = await rotate_keys(app.state.engine, token_ttl_seconds=3600)
    # LISTEN/NOTIFY tells this process's key cache; no manual refresh.
    for _ in range(50):
        if new_kid in await _jwks_kids(api):
            break
        await asyncio.sleep(0.05)
    assert {old_kid, new_kid} <= await _jwks_kids(api)
    new_token = await get_token(api, tenant_a.client_id, tenant_a.client_secret)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    for token in (old_token, new_token):
        assert (await api.get("/v1/clients", headers=bearer(token))).status_code == 200
