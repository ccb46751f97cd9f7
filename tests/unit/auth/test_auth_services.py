from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.auth.model import PLATFORM_SCOPES, Principal, new_client, parse_scope
from domain.auth.services import (
    TokenPolicy,
    create_client,
    delete_client,
    introspect_token,
    issue_token,
    revoke_token,
    rotate_client_secret,
)
from domain.shared.errors import Conflict, Forbidden, InvalidInput, NotFound, OAuthError
from domain.tenants.model import TenantStatus
from domain.tenants.services import create_tenant, update_tenant
from tests.fakes import FakeTokens, FakeUnitOfWork, FixedClock

POLICY = TokenPolicy(issuer="https://kizuna.test", audience="kizuna-api", ttl_seconds=600)


async def _tenant(uow, clock, slug="acme"):
    return await create_tenant(uow=uow, clock=clock, slug=slug, name=slug)


async def _token(uow, clock, tokens, client_id, secret, scope=None):
    return await issue_token(uow=uow, clock=clock, signer=tokens, policy=POLICY, client_id=client_id,
                             client_secret=secret, grant_type="client_credentials", scope=scope)


async def test_token_carries_tenant_scopes_and_lifetime():
    uow, clock, tokens = FakeUnitOfWork(), FixedClock(), FakeTokens()
    made = await _tenant(uow, clock)
    c = made.initial_client
    issued = await _token(uow, clock, tokens, c.client.client_id, c.client_secret, "clients:read orders:read")
    claims = tokens.issued[issued.access_token]
    assert claims.tid == made.tenant.id and claims.sub == c.client.client_id
    assert claims.scope == ("clients:read", "orders:read")
    assert claims.exp - claims.iat == 600 == issued.expires_in
    assert (claims.iss, claims.aud) == ("https://kizuna.test", "kizuna-api")


async def test_each_token_has_its_own_jti():
    uow, clock, tokens = FakeUnitOfWork(), FixedClock(), FakeTokens()
    c = (await _tenant(uow, clock)).initial_client
    a = await _token(uow, clock, tokens, c.client.client_id, c.client_secret)
    b = await _token(uow, clock, tokens, c.client.client_id, c.client_secret)
    assert tokens.issued[a.access_token].jti != tokens.issued[b.access_token].jti


@pytest.mark.parametrize("secret,grant,scope,error", [
    ("wrong", "client_credentials", None, "invalid_client"),
    (None, "password", None, "unsupported_grant_type"),
    (None, "client_credentials", "platform:admin", "invalid_scope"),
])
async def test_token_errors(secret, grant, scope, error):
    uow, clock, tokens = FakeUnitOfWork(), FixedClock(), FakeTokens()
    c = (await _tenant(uow, clock)).initial_client
    with pytest.raises(OAuthError) as info:
        await issue_token(uow=uow, clock=clock, signer=tokens, policy=POLICY,
                          client_id=c.client.client_id, client_secret=secret or c.client_secret,
                          grant_type=grant, scope=scope)
    assert info.value.error == error
    assert tokens.issued == {}


async def test_suspended_tenant_gets_no_token():
    uow, clock, tokens = FakeUnitOfWork(), FixedClock(), FakeTokens()
    made = await _tenant(uow, clock)
    await update_tenant(uow=uow, clock=clock, tenant_id=made.tenant.id, status=TenantStatus.SUSPENDED)
    c = made.initial_client
    with pytest.raises(OAuthError) as info:
        await _token(uow, clock, tokens, c.client.client_id, c.client_secret)
    assert info.value.status == 401


async def test_rotation_overlap_keeps_the_old_secret_until_it_ends():
    uow, clock, tokens = FakeUnitOfWork(), FixedClock(), FakeTokens()
    made = await _tenant(uow, clock)
    old = made.initial_client
    me = Principal(client_id=old.client.client_id, tenant_id=made.tenant.id,
                   scopes=frozenset(old.client.scopes), jti="j", expires_at=0)
    new = await rotate_client_secret(uow=uow, clock=clock, principal=me, id=old.client.id,
                                     overlap=timedelta(hours=1))
    await _token(uow, clock, tokens, old.client.client_id, old.client_secret)
    await _token(uow, clock, tokens, old.client.client_id, new.client_secret)
    clock.advance(hours=1, seconds=1)
    with pytest.raises(OAuthError):
        await _token(uow, clock, tokens, old.client.client_id, old.client_secret)
    await _token(uow, clock, tokens, old.client.client_id, new.client_secret)
    with pytest.raises(InvalidInput):
        await rotate_client_secret(uow=uow, clock=clock, principal=me, id=old.client.id,
                                   overlap=timedelta(days=8))


async def test_clients_are_scoped_to_their_tenant():
    uow, clock = FakeUnitOfWork(), FixedClock()
    a, b = await _tenant(uow, clock, "aaa"), await _tenant(uow, clock, "bbb")
    b_admin = Principal(client_id=b.initial_client.client.client_id, tenant_id=b.tenant.id,
                        scopes=frozenset(b.initial_client.client.scopes), jti="j", expires_at=0)
    with pytest.raises(NotFound):
        await delete_client(uow=uow, clock=clock, principal=b_admin, id=a.initial_client.client.id)
    with pytest.raises(Conflict):  # a client cannot delete itself
        await delete_client(uow=uow, clock=clock, principal=b_admin, id=b.initial_client.client.id)


async def test_a_client_cannot_grant_scopes_it_lacks():
    uow, clock = FakeUnitOfWork(), FixedClock()
    made = await _tenant(uow, clock)
    narrow = Principal(client_id="x", tenant_id=made.tenant.id,
                       scopes=frozenset({"clients:write", "orders:read"}), jti="j", expires_at=0)
    with pytest.raises(Forbidden):
        await create_client(uow=uow, clock=clock, principal=narrow, name="n", scopes=["orders:write"])
    with pytest.raises(InvalidInput):
        await create_client(uow=uow, clock=clock, principal=narrow, name="n", scopes=["orders:fly"])
    made_client = await create_client(uow=uow, clock=clock, principal=narrow, name="n",
                                      scopes=["orders:read"])
    assert made_client.client.scopes == ("orders:read",)


async def test_revocation_only_by_the_owning_client_and_introspection_stops_reporting():
    uow, clock, tokens = FakeUnitOfWork(), FixedClock(), FakeTokens()
    a, b = await _tenant(uow, clock, "aaa"), await _tenant(uow, clock, "bbb")
    ca, cb = a.initial_client, b.initial_client
    token = (await _token(uow, clock, tokens, ca.client.client_id, ca.client_secret)).access_token
    assert await introspect_token(uow=uow, verifier=tokens, caller=cb.client, token=token) is None
    await revoke_token(uow=uow, clock=clock, verifier=tokens, caller=cb.client, token=token)
    assert uow.store.revoked == {}
    assert await introspect_token(uow=uow, verifier=tokens, caller=ca.client, token=token) is not None
    await revoke_token(uow=uow, clock=clock, verifier=tokens, caller=ca.client, token=token)
    assert await introspect_token(uow=uow, verifier=tokens, caller=ca.client, token=token) is None


def test_platform_clients_hold_only_platform_scopes():
    clock = FixedClock()
    with pytest.raises(InvalidInput):
        new_client(tenant_id=None, name="p", scopes=("customers:read",), now=clock.now())
    assert new_client(tenant_id=None, name="p", scopes=PLATFORM_SCOPES, now=clock.now()).client.is_platform


@given(st.lists(st.sampled_from(["a:read", "b:write", "c:read"]), max_size=6), st.integers(1, 3))
def test_parse_scope_keeps_first_occurrence_order_and_ignores_extra_spaces(scopes, gap):
    parsed = parse_scope((" " * gap).join(scopes))
    assert parsed == tuple(dict.fromkeys(scopes))
