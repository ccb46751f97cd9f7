"""Products: the catalogue (create, read, list, change, bulk upsert by sku)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response, Security

from api.deps import Caller, tenant_caller
from api.http.batch import parse_items
from api.http.etag import etag, expected_version
from api.http.idempotency import idempotent
from api.http.pagination import Page, encode_cursor, page_request
from api.http.problems import problem_responses
from api.schemas.products import (
    ProductBatch,
    ProductBatchResult,
    ProductCreate,
    ProductRead,
    ProductUpdate,
    ProductUpsert,
    Status,
)
from domain.products.model import ProductStatus
from domain.products.ports import ProductFilter
from domain.products.services import (
    create_product,
    get_product,
    list_products,
    update_product,
    upsert_products,
)
from domain.shared.pagination import PageRequest

router = APIRouter(prefix="/v1/products", tags=["products"])
Reader = Annotated[Caller, Security(tenant_caller, scopes=["products:read"])]
Writer = Annotated[Caller, Security(tenant_caller, scopes=["products:write"])]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _currency(caller: Caller) -> str:
    assert caller.tenant is not None
    return caller.tenant.currency


@router.post("", status_code=201, operation_id="products_create", response_model=ProductRead,
             summary="Create a product (currency defaults to the tenant's)", responses=problem_responses(409))
async def create(request: Request, body: ProductCreate, caller: Writer,
                 idempotency_key: IdempotencyKey = None) -> Response:
    async def action() -> ProductRead:
        product = await create_product(uow=caller.uow, clock=caller.clock,
                                       default_currency=_currency(caller), fields=body.given())
        return ProductRead.from_domain(product)

    return await idempotent(request, caller, status_code=201, action=action,
                            headers=lambda p: {"Location": f"/v1/products/{p.id}", "ETag": etag(1)})


@router.post("/batch", operation_id="products_upsert_batch", response_model=ProductBatchResult,
             summary="Create or update up to 1,000 products by sku; per-item results",
             responses=problem_responses(409))
async def upsert_batch(request: Request, body: ProductBatch, caller: Writer,
                       idempotency_key: IdempotencyKey = None) -> Response:
    items, refused = parse_items(ProductUpsert, body.products)

    async def action() -> ProductBatchResult:
        report = await upsert_products(uow=caller.uow, clock=caller.clock, default_currency=_currency(caller),
                                       items=[(i, item.given()) for i, item in items])
        return ProductBatchResult.from_report(report, refused)

    return await idempotent(request, caller, status_code=200, action=action)


@router.get("", operation_id="products_list", response_model=Page[ProductRead],
            summary="List products (filters combine with AND)", responses=problem_responses())
async def list_(caller: Reader, page: Annotated[PageRequest, Depends(page_request)],
                status: Status | None = None,
                category: Annotated[str | None, Query(
                    max_length=100, description="A category at any level of the path")] = None,
                sku: Annotated[str | None, Query(max_length=128)] = None) -> Page[ProductRead]:
    filters = ProductFilter(status=ProductStatus(status) if status else None, category=category, sku=sku)
    result = await list_products(uow=caller.uow, filters=filters, page=page)
    return Page[ProductRead](data=[ProductRead.from_domain(p) for p in result.items],
                             next_cursor=encode_cursor(result.next_after))


@router.get("/{product_id:uuid}", operation_id="products_get", response_model=ProductRead,
            summary="Get a product", responses=problem_responses(404))
async def get(product_id: UUID, caller: Reader, response: Response) -> ProductRead:
    product = await get_product(uow=caller.uow, product_id=product_id)
    response.headers["ETag"] = etag(product.version)
    return ProductRead.from_domain(product)


@router.patch("/{product_id:uuid}", operation_id="products_update", response_model=ProductRead,
              summary="Change some fields (null clears one; attributes merge key by key)",
              responses=problem_responses(404, 412))
async def update(product_id: UUID, body: ProductUpdate, caller: Writer, response: Response,
                 if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> ProductRead:
    product = await update_product(uow=caller.uow, clock=caller.clock, product_id=product_id,
                                   fields=body.given(), expected_version=expected_version(if_match))
    response.headers["ETag"] = etag(product.version)
    return ProductRead.from_domain(product)
