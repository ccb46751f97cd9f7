"""A tenant's OAuth clients (scopes clients:read / clients:write)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, Response, Security

from api.deps import Caller, tenant_caller
from api.http.idempotency import idempotent
from api.http.pagination import Page, encode_cursor, page_request
from api.http.problems import problem_responses
from api.schemas.clients import ClientCreate, ClientRead, ClientWithSecret, SecretRotation
from domain.auth.services import create_client, delete_client, list_clients, rotate_client_secret
from domain.shared.pagination import PageRequest

router = APIRouter(prefix="/v1/clients", tags=["clients"])
Reader = Annotated[Caller, Security(tenant_caller, scopes=["clients:read"])]
Writer = Annotated[Caller, Security(tenant_caller, scopes=["clients:write"])]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


@router.post("", status_code=201, operation_id="clients_create", response_model=ClientWithSecret,
             summary="Create an OAuth client of this tenant (the secret is shown once)",
             responses=problem_responses(409))
async def create(request: Request, body: ClientCreate, caller: Writer,
                 idempotency_key: IdempotencyKey = None) -> Response:
    async def action() -> ClientWithSecret:
        issued = await create_client(uow=caller.uow, clock=caller.clock, principal=caller.principal,
                                     name=body.name, scopes=body.scopes)
        return ClientWithSecret.from_issued(issued)

    return await idempotent(request, caller, status_code=201, action=action,
                            headers=lambda c: {"Location": f"/v1/clients/{c.id}"})


@router.get("", operation_id="clients_list", response_model=Page[ClientRead],
            summary="List this tenant's clients", responses=problem_responses())
async def list_(caller: Reader, page: Annotated[PageRequest, Depends(page_request)]) -> Page[ClientRead]:
    result = await list_clients(uow=caller.uow, principal=caller.principal, page=page)
    return Page[ClientRead](data=[ClientRead.from_domain(c) for c in result.items],
                            next_cursor=encode_cursor(result.next_after))


@router.delete("/{client_id}", status_code=204, operation_id="clients_delete",
               summary="Delete a client: its secret stops working at once",
               responses=problem_responses(404, 409))
async def delete(client_id: UUID, caller: Writer) -> Response:
    await delete_client(uow=caller.uow, clock=caller.clock, principal=caller.principal, id=client_id)
    return Response(status_code=204)


@router.post("/{client_id}/rotate-secret", operation_id="clients_rotate_secret",
             response_model=ClientWithSecret, summary="Issue a new secret; the old one overlaps",
             responses=problem_responses(404, 409))
async def rotate_secret(request: Request, client_id: UUID, caller: Writer,
                        body: SecretRotation | None = None,
                        idempotency_key: IdempotencyKey = None) -> Response:
    overlap = timedelta(seconds=(body or SecretRotation()).overlap_seconds)

    async def action() -> ClientWithSecret:
        issued = await rotate_client_secret(uow=caller.uow, clock=caller.clock,
                                            principal=caller.principal, id=client_id, overlap=overlap)
        return ClientWithSecret.from_issued(issued)

    return await idempotent(request, caller, status_code=200, action=action)
