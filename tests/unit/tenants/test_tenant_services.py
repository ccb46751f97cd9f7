from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.auth.model import TENANT_SCOPES
from domain.shared.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from domain.tenants.model import SLUG_PATTERN, TenantStatus, validate_slug
from domain.tenants.services import create_tenant, get_tenant, update_tenant
from tests.fakes import FakeUnitOfWork, FixedClock


async def test_create_provisions_schema_and_initial_client_with_every_tenant_scope():
    uow = FakeUnitOfWork()
    made = await create_tenant(uow=uow, clock=FixedClock(), slug="acme", name="ＡＣＭＥ化粧品")
    assert made.tenant.schema == "t_acme"
    assert made.tenant.name == "ACME化粧品"  # full-width letters folded by NFKC
    assert (made.tenant.timezone, made.tenant.currency) == ("Asia/Tokyo", "JPY")
    assert uow.store.schemas == ["t_acme"]
    assert set(made.initial_client.client.scopes) == set(TENANT_SCOPES)
    assert made.initial_client.client.verify_secret(made.initial_client.client_secret, FixedClock().now())
    assert made.initial_client.client_secret not in repr(uow.store.clients)  # only a digest is kept


async def test_duplicate_slug_is_a_conflict_and_changes_nothing():
    uow = FakeUnitOfWork()
    await create_tenant(uow=uow, clock=FixedClock(), slug="acme", name="A")
    with pytest.raises(Conflict):
        await create_tenant(uow=uow, clock=FixedClock(), slug="acme", name="B")
    assert len(uow.store.tenants) == 1 and uow.store.schemas == ["t_acme"]


async def test_failed_provisioning_leaves_no_tenant_or_client():
    uow = FakeUnitOfWork(provision_fails=True)
    with pytest.raises(RuntimeError):
        await create_tenant(uow=uow, clock=FixedClock(), slug="acme", name="A")
    assert uow.store.tenants == {} and uow.store.clients == {}


@pytest.mark.parametrize("field,value", [("timezone", "Mars/Olympus"), ("timezone", "/etc/passwd"),
                                         ("currency", "YEN"), ("currency", "jpy"), ("name", "  "),
                                         ("name", "a\x00b")])
async def test_invalid_fields_are_reported_by_name(field, value):
    kwargs = {"slug": "acme", "name": "Acme", field: value}
    with pytest.raises(InvalidInput) as info:
        await create_tenant(uow=FakeUnitOfWork(), clock=FixedClock(), **kwargs)
    assert [p.field for p in info.value.problems] == [field]


@given(st.text(max_size=50))
def test_slug_validation_agrees_with_the_documented_pattern(slug):
    if SLUG_PATTERN.fullmatch(slug) and slug.isascii():
        assert validate_slug(slug) == slug
    else:
        with pytest.raises(InvalidInput):
            validate_slug(slug)


async def test_update_checks_expected_version_and_bumps_it():
    uow = FakeUnitOfWork()
    clock = FixedClock()
    made = await create_tenant(uow=uow, clock=clock, slug="acme", name="A")
    clock.advance(minutes=1)
    updated = await update_tenant(uow=uow, clock=clock, tenant_id=made.tenant.id,
                                  status=TenantStatus.SUSPENDED, expected_version=1)
    assert (updated.version, updated.status, updated.updated_at) == (2, TenantStatus.SUSPENDED, clock.now())
    with pytest.raises(PreconditionFailed):
        await update_tenant(uow=uow, clock=clock, tenant_id=made.tenant.id, name="B", expected_version=1)
    assert (await get_tenant(uow=uow, tenant_id=made.tenant.id)).name == "A"


async def test_unknown_tenant_is_not_found():
    from uuid import uuid4
    with pytest.raises(NotFound):
        await get_tenant(uow=FakeUnitOfWork(), tenant_id=uuid4())
