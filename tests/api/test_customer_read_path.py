"""The customer read's cheaper path behaves as the general one: the unit of work's lazily built
repositories, the one-step tenant dependency, and the raw primary-key read (docs/performance.md)."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from domain.auth.model import TenantRef
from domain.shared.ports import UnitOfWork
from infra.db.repositories.customers import to_domain
from infra.db.tables.tenant import customers
from tests.conftest import PLATFORM_ID, PLATFORM_SECRET, bearer, get_token

REPOSITORIES = sorted(UnitOfWork.__annotations__)  # every repository the port declares


async def _tenant_ref(app: Any, slug: str) -> TenantRef:
    uow = app.state.wiring.uow_factory(None, read_only=True)
    async with uow:
        tenant = await uow.tenants.get_by_slug(slug)
    assert tenant is not None
    return TenantRef(id=tenant.id, slug=tenant.slug, schema=tenant.schema, timezone=tenant.timezone,
                     currency=tenant.currency)


async def _create(api: Any, tenant: Any, **fields: Any) -> dict[str, Any]:
    r = await api.post("/v1/customers", json=fields, headers=tenant.auth)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_each_block_builds_its_repositories_once_on_its_own_connection(app):
    uow = app.state.wiring.uow_factory(None)
    async with uow:
        first = {name: getattr(uow, name) for name in REPOSITORIES}
        assert all(getattr(uow, name) is first[name] for name in REPOSITORIES)
        assert uow.customers._conn is uow.connection
        assert uow.tenants._on_commit is uow._on_commit  # commit callbacks of this block
    async with uow:
        second = {name: getattr(uow, name) for name in REPOSITORIES}
        assert uow.customers._conn is uow.connection
    assert all(second[name] is not first[name] for name in REPOSITORIES)
    assert {name: type(repo) for name, repo in first.items()} == {
        name: type(repo) for name, repo in second.items()}


async def test_nested_blocks_share_the_outer_blocks_repositories(app):
    uow = app.state.wiring.uow_factory(None)
    async with uow:
        outer = uow.customers
        async with uow:
            assert uow.customers is outer


async def test_a_repository_outside_a_block_is_refused(app):
    uow = app.state.wiring.uow_factory(None)
    with pytest.raises(AssertionError, match="inside `async with`"):
        _ = uow.customers


@pytest.mark.parametrize("read_only", [True, False])
async def test_raw_read_equals_the_core_read(api, app, engine, tenant_a, read_only):
    made = await _create(api, tenant_a, email=f"{secrets.token_hex(3)}@example.jp", family_name="山田",
                         tags=["vip", "new"], attributes={"size": "M"}, birth_date="1990-04-01",
                         address={"postal_code": "100-0001", "prefecture": "13", "city": "千代田区"},
                         acquisition={"channel": "line", "stage": "pre_purchase"})
    cid = uuid.UUID(made["id"])
    ref = await _tenant_ref(app, tenant_a.slug)
    async with engine.connect() as conn:
        conn = await conn.execution_options(schema_translate_map={None: ref.schema})
        core = to_domain((await conn.execute(select(customers).where(customers.c.id == cid))).one())
    uow = app.state.wiring.uow_factory(ref, read_only=read_only)
    async with uow:
        # twice: in a transaction the first statement opens it through SQLAlchemy, the second
        # goes to the driver
        reads = [await uow.customers.get(cid), await uow.customers.get(cid)]
        missing = await uow.customers.get(uuid.uuid4())
    assert reads == [core, core] and missing is None


async def test_read_of_another_tenants_customer_is_404(api, tenant_a, tenant_b):
    made = await _create(api, tenant_a, email="mine@example.jp")
    theirs = await api.get(f"/v1/customers/{made['id']}", headers=tenant_b.auth)
    assert theirs.status_code == 404 and theirs.headers["content-type"] == "application/problem+json"
    mine = await api.get(f"/v1/customers/{made['id']}", headers=tenant_a.auth)
    assert mine.status_code == 200 and mine.json() == made and mine.headers["etag"] == '"v1"'


async def test_merged_id_reads_the_target_with_content_location(api, tenant_a):
    target = await _create(api, tenant_a, email="target@example.jp")
    source = await _create(api, tenant_a, email="source@example.jp")
    merged = await api.post(f"/v1/customers/{target['id']}/merge",
                            json={"source_customer_id": source["id"]}, headers=tenant_a.auth)
    assert merged.status_code == 200, merged.text
    r = await api.get(f"/v1/customers/{source['id']}", headers=tenant_a.auth)
    assert r.status_code == 200 and r.json()["id"] == target["id"]
    assert r.headers["content-location"] == f"/v1/customers/{target['id']}"
    direct = await api.get(f"/v1/customers/{target['id']}", headers=tenant_a.auth)
    assert "content-location" not in direct.headers and direct.json() == r.json()
    assert r.headers["etag"] == direct.headers["etag"] == '"v2"'  # the merge changed the target


def _comparable(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in problem.items() if k not in ("instance", "request_id")}


async def _headers_cases(api: Any, tenant: Any) -> dict[str, dict[str, str]]:
    writer = await get_token(api, tenant.client_id, tenant.client_secret, scope="customers:write")
    platform = await get_token(api, PLATFORM_ID, PLATFORM_SECRET)
    return {"none": {}, "basic scheme": {"Authorization": f"Basic {tenant.token}"},
            "empty bearer": {"Authorization": "Bearer "}, "garbage": bearer("not.a.token"),
            "no customers:read scope": bearer(writer), "platform token": bearer(platform)}


async def test_auth_errors_are_those_of_the_general_dependency(api, tenant_a):
    """GET /v1/customers/{id} (one-step dependency) refuses exactly as GET /v1/customers
    (`Security(tenant_caller)`) does, with the same status, problem body and headers."""
    made = await _create(api, tenant_a, email="auth@example.jp")
    statuses = {}
    for case, headers in (await _headers_cases(api, tenant_a)).items():
        hot = await api.get(f"/v1/customers/{made['id']}", headers=headers)
        general = await api.get("/v1/customers", headers=headers)
        assert hot.status_code == general.status_code, case
        assert _comparable(hot.json()) == _comparable(general.json()), case
        assert hot.headers.get("www-authenticate") == general.headers.get("www-authenticate"), case
        assert hot.headers["content-type"] == "application/problem+json", case
        statuses[case] = hot.status_code
    assert statuses == {"none": 401, "basic scheme": 401, "empty bearer": 401, "garbage": 401,
                        "no customers:read scope": 403, "platform token": 403}


def test_the_read_is_documented_with_the_oauth2_scheme_and_its_scope(app):
    operation = app.openapi()["paths"]["/v1/customers/{customer_id}"]["get"]
    assert operation["security"] == [{"oauth2": ["customers:read"]}]
    assert [p["name"] for p in operation["parameters"]] == ["customer_id"]
