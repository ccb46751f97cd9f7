"""Customers: profiles, identities, consents, merging, attribute definitions."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response, Security

from api.deps import Caller, tenant_caller, tenant_security
from api.http.etag import etag, expected_version
from api.http.idempotency import idempotent
from api.http.pagination import Page, encode_cursor, page_request
from api.http.problems import problem_responses
from api.schemas.common import Timestamp
from api.schemas.customers import (
    AttributeDefinitionBody,
    AttributeDefinitionList,
    AttributeDefinitionRead,
    ConsentBody,
    ConsentList,
    ConsentRead,
    CustomerCreate,
    CustomerExport,
    CustomerRead,
    CustomerUpdate,
    ErasureBody,
    ErasureRead,
    IdentityBody,
    IdentityList,
    IdentityRead,
    MergeBody,
    MergeRead,
)
from domain.customers.attributes import AttributeDefinition, AttributeType
from domain.customers.model import normalise_email, normalise_phone
from domain.customers.ports import CustomerFilter
from domain.customers.privacy import erase_customer, export_customer
from domain.customers.services import (
    add_identity,
    create_customer,
    delete_attribute_definition,
    get_customer,
    list_attribute_definitions,
    list_consents,
    list_customers,
    list_identities,
    merge_customers,
    put_attribute_definition,
    remove_identity,
    set_consent,
    update_customer,
    upsert_by_external_id,
)
from domain.shared.pagination import PageRequest
from domain.shared.text import clean_text

router = APIRouter(prefix="/v1/customers", tags=["customers"])
attributes_router = APIRouter(prefix="/v1/customer-attributes", tags=["customers"])
Reader = Annotated[Caller, Security(tenant_caller, scopes=["customers:read"])]
Writer = Annotated[Caller, Security(tenant_caller, scopes=["customers:write"])]
# The hot read's caller: the same scope and documentation, solved in one step (api/deps.py).
HotReader = Annotated[Caller, tenant_security("customers:read")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _tz(caller: Caller) -> str:
    assert caller.tenant is not None
    return caller.tenant.timezone


@router.post("", status_code=201, operation_id="customers_create", response_model=CustomerRead,
             summary="Create a customer", responses=problem_responses(409))
async def create(request: Request, body: CustomerCreate, caller: Writer,
                 idempotency_key: IdempotencyKey = None) -> Response:
    async def action() -> CustomerRead:
        customer = await create_customer(uow=caller.uow, clock=caller.clock, timezone=_tz(caller),
                                         fields=body.given())
        return CustomerRead.from_domain(customer)

    return await idempotent(request, caller, status_code=201, action=action,
                            headers=lambda c: {"Location": f"/v1/customers/{c.id}", "ETag": etag(1)})


@router.get("", operation_id="customers_list", response_model=Page[CustomerRead],
            summary="List customers (filters combine with AND)", responses=problem_responses())
async def list_(caller: Reader, page: Annotated[PageRequest, Depends(page_request)],
                email: Annotated[str | None, Query(max_length=320)] = None,
                phone: Annotated[str | None, Query(max_length=40)] = None,
                external_id: Annotated[str | None, Query(max_length=256)] = None,
                tag: Annotated[str | None, Query(max_length=64)] = None,
                created_after: Timestamp | None = None,
                q: Annotated[str | None, Query(min_length=1, max_length=100,
                                               description="Text in family/given name or kana")] = None,
                ) -> Page[CustomerRead]:
    # clean_text: NFKC, and control characters (NUL cannot reach PostgreSQL) are a 422
    filters = CustomerFilter(
        email=normalise_email(email, field="email") if email else None,
        phone=normalise_phone(phone, field="phone") if phone else None,
        external_id=clean_text(external_id, field="external_id", max_length=256) if external_id else None,
        tag=clean_text(tag, field="tag", max_length=64) if tag else None,
        created_after=created_after, q=clean_text(q, field="q", max_length=100) if q else None)
    result = await list_customers(uow=caller.uow, filters=filters, page=page)
    return Page[CustomerRead](data=[CustomerRead.from_domain(c) for c in result.items],
                              next_cursor=encode_cursor(result.next_after))


@router.get("/{customer_id}", operation_id="customers_get", response_model=CustomerRead,
            summary="Get a customer (a merged id returns the customer it was merged into)",
            responses=problem_responses(404))
async def get(customer_id: UUID, caller: HotReader) -> Response:
    found = await get_customer(uow=caller.uow, customer_id=customer_id)
    headers = {"ETag": etag(found.customer.version)}
    if found.redirected:
        headers["Content-Location"] = f"/v1/customers/{found.customer.id}"
    # Serialised here, once: a returned model is validated against `response_model` again and
    # then serialised by FastAPI, which costs more than the serialising (docs/performance.md).
    # The bytes are the model's own JSON, so the body is what the documented model says.
    return Response(CustomerRead.from_domain(found.customer).model_dump_json(), headers=headers,
                    media_type="application/json")


@router.patch("/{customer_id}", operation_id="customers_update", response_model=CustomerRead,
              summary="Change some fields (null clears one; attributes merge key by key)",
              responses=problem_responses(404, 409, 412))
async def update(customer_id: UUID, body: CustomerUpdate, caller: Writer, response: Response,
                 if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> CustomerRead:
    customer = await update_customer(uow=caller.uow, clock=caller.clock, timezone=_tz(caller),
                                      customer_id=customer_id, fields=body.given(),
                                      expected_version=expected_version(if_match))
    response.headers["ETag"] = etag(customer.version)
    return CustomerRead.from_domain(customer)


@router.put("/by-external-id/{external_id}", operation_id="customers_upsert_by_external_id",
            response_model=CustomerRead, responses=problem_responses(409) | {201: {"model": CustomerRead}},
            summary="Create or update the customer with your own id (201 created, 200 updated)")
async def upsert(external_id: str, body: CustomerUpdate, caller: Writer, response: Response) -> CustomerRead:
    customer, created = await upsert_by_external_id(uow=caller.uow, clock=caller.clock, timezone=_tz(caller),
                                                    external_id=external_id, fields=body.given())
    response.status_code = 201 if created else 200
    response.headers["ETag"] = etag(customer.version)
    if created:
        response.headers["Location"] = f"/v1/customers/{customer.id}"
    return CustomerRead.from_domain(customer)


@router.get("/{customer_id}/identities", operation_id="customers_list_identities",
            response_model=IdentityList, summary="A customer's identities", responses=problem_responses(404))
async def identities(customer_id: UUID, caller: Reader) -> IdentityList:
    found = await list_identities(uow=caller.uow, customer_id=customer_id)
    return IdentityList(data=[IdentityRead.from_domain(i) for i in found])


@router.post("/{customer_id}/identities", status_code=201, operation_id="customers_add_identity",
             response_model=IdentityRead, summary="Attach an identity (unique per tenant)",
             responses=problem_responses(404, 409))
async def add_identity_(customer_id: UUID, body: IdentityBody, caller: Writer) -> IdentityRead:
    identity = await add_identity(uow=caller.uow, clock=caller.clock, customer_id=customer_id,
                                  kind=body.type, value=body.value)
    return IdentityRead.from_domain(identity)


@router.delete("/{customer_id}/identities/{kind}/{value}", status_code=204,
               operation_id="customers_remove_identity", summary="Detach an identity",
               responses=problem_responses(404, 409))
async def remove_identity_(customer_id: UUID, kind: str, value: str, caller: Writer) -> Response:
    await remove_identity(uow=caller.uow, customer_id=customer_id, kind=kind, value=value)
    return Response(status_code=204)


@router.get("/{customer_id}/consents", operation_id="customers_list_consents", response_model=ConsentList,
            summary="Current consent per channel (no record: not granted)", responses=problem_responses(404))
async def consents(customer_id: UUID, caller: Reader) -> ConsentList:
    found = await list_consents(uow=caller.uow, customer_id=customer_id)
    return ConsentList(data=[ConsentRead.from_domain(c) for c in found])


@router.put("/{customer_id}/consents/{channel}", operation_id="customers_set_consent",
            response_model=ConsentRead, responses=problem_responses(404),
            summary="Record a consent decision for a channel (email, line, sms, dm, phone, push)")
async def put_consent(customer_id: UUID, channel: str, body: ConsentBody, caller: Writer) -> ConsentRead:
    consent = await set_consent(uow=caller.uow, clock=caller.clock, actor=caller.principal.client_id,
                                customer_id=customer_id, channel=channel, status=body.status,
                                source=body.source, occurred_at=body.occurred_at)
    return ConsentRead.from_domain(consent)


@router.post("/{customer_id}/merge", operation_id="customers_merge", response_model=MergeRead,
             summary="Merge another customer into this one", responses=problem_responses(404, 409))
async def merge(request: Request, customer_id: UUID, body: MergeBody, caller: Writer,
                idempotency_key: IdempotencyKey = None) -> Response:
    async def action() -> MergeRead:
        report = await merge_customers(uow=caller.uow, clock=caller.clock, actor=caller.principal.client_id,
                                       target_id=customer_id, source_id=body.source_customer_id)
        return MergeRead(target=CustomerRead.from_domain(report.target), source_customer_id=report.source_id,
                         already_merged=report.already_merged, identities_moved=report.identities_moved,
                         consents=report.consents, attribute_conflicts=report.attribute_conflicts,
                         moved=report.moved)

    return await idempotent(request, caller, status_code=200, action=action)


@router.get("/{customer_id}/export", operation_id="customers_export", response_model=CustomerExport,
            summary="Everything held about a customer (personal data access request)",
            responses=problem_responses(404))
async def export(customer_id: UUID, caller: Reader) -> CustomerExport:
    document = await export_customer(uow=caller.uow, clock=caller.clock, customer_id=customer_id)
    return CustomerExport.model_validate(document)


@router.post("/{customer_id}/erasure", operation_id="customers_erase", response_model=ErasureRead,
             summary="Erase a customer's personal data; de-identified orders are kept",
             responses=problem_responses(404, 409))
async def erase(request: Request, customer_id: UUID, caller: Writer, body: ErasureBody | None = None,
                idempotency_key: IdempotencyKey = None) -> Response:
    async def action() -> ErasureRead:
        done = await erase_customer(uow=caller.uow, clock=caller.clock, actor=caller.principal.client_id,
                                    customer_id=customer_id, reason=body.reason if body else None)
        return ErasureRead.model_validate(done)

    return await idempotent(request, caller, status_code=200, action=action)


@attributes_router.get("", operation_id="customers_list_attribute_definitions",
                       response_model=AttributeDefinitionList, summary="Declared custom attributes",
                       responses=problem_responses())
async def list_definitions(caller: Reader) -> AttributeDefinitionList:
    found = await list_attribute_definitions(uow=caller.uow)
    return AttributeDefinitionList(data=[AttributeDefinitionRead.from_domain(d) for d in found])


@attributes_router.put("/{name}", operation_id="customers_put_attribute_definition",
                       response_model=AttributeDefinitionRead, responses=problem_responses(),
                       summary="Declare a custom attribute's type; values are then validated")
async def put_definition(name: str, body: AttributeDefinitionBody, caller: Writer) -> AttributeDefinitionRead:
    wanted = AttributeDefinition(name=name, type=AttributeType(body.type),
                                 enum_values=tuple(body.enum_values) if body.enum_values else None,
                                 required=body.required, description=body.description)
    definition = await put_attribute_definition(uow=caller.uow, clock=caller.clock, definition=wanted)
    return AttributeDefinitionRead.from_domain(definition)


@attributes_router.delete("/{name}", status_code=204, operation_id="customers_delete_attribute_definition",
                          summary="Forget a declaration (values stay)", responses=problem_responses(404))
async def delete_definition(name: str, caller: Writer) -> Response:
    await delete_attribute_definition(uow=caller.uow, name=name)
    return Response(status_code=204)
