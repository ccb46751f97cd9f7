"""Loyalty programs: programs, earning rules, simulation, members, the ledger, tiers, rewards and
redemptions (docs/loyalty.md). Entry campaigns live in api/routers/loyalty_campaigns.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response, Security

from api.deps import Caller, tenant_caller
from api.http.etag import etag, expected_version
from api.http.idempotency import idempotent
from api.http.pagination import Page, encode_cursor, page_request
from api.http.problems import problem_responses
from api.schemas.common import Timestamp
from api.schemas.loyalty import (
    AwardRead,
    EnrolBody,
    MemberRead,
    MemberSummary,
    ProgramCreate,
    ProgramPatch,
    ProgramRead,
    RedemptionCreate,
    RedemptionRead,
    RewardCreate,
    RewardPatch,
    RewardRead,
    RuleCreate,
    RuleList,
    RulePatch,
    RuleRead,
    SimulateBody,
    SimulationRead,
    TierChangeRead,
    TransactionCreate,
    TransactionRead,
)
from domain.customers.model import CustomerRef
from domain.loyalty import redemptions as redeeming
from domain.loyalty import services as loyalty
from domain.loyalty.model import EntryKind, Member
from domain.loyalty.ports import EntryFilter
from domain.loyalty.rewards import DEFAULT_HOLD
from domain.loyalty.rules import LineFacts, OrderFacts
from domain.shared.errors import InvalidInput
from domain.shared.pagination import PageRequest

router = APIRouter(prefix="/v1/loyalty", tags=["loyalty"])
Reader = Annotated[Caller, Security(tenant_caller, scopes=["loyalty:read"])]
Writer = Annotated[Caller, Security(tenant_caller, scopes=["loyalty:write"])]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
Paging = Annotated[PageRequest, Depends(page_request)]


def _tz(caller: Caller) -> str:
    assert caller.tenant is not None
    return caller.tenant.timezone


def _currency(caller: Caller) -> str:
    assert caller.tenant is not None
    return caller.tenant.currency


# -- programs ---------------------------------------------------------------------------------

@router.post("/programs", status_code=201, operation_id="loyalty_programs_create", response_model=ProgramRead,
             summary="Create a loyalty program", responses=problem_responses(409))
async def create_program(request: Request, body: ProgramCreate, caller: Writer,
                         idempotency_key: IdempotencyKey = None) -> Response:
    terms = body.to_terms(_currency(caller))
    if terms.currency != _currency(caller):
        raise InvalidInput(f"the program's currency must be the tenant's ({_currency(caller)})",
                           field="currency")

    async def action() -> ProgramRead:
        return ProgramRead.from_domain(await loyalty.create_program(uow=caller.uow, clock=caller.clock,
                                                                    terms=terms))

    return await idempotent(request, caller, status_code=201, action=action,
                            headers=lambda p: {"Location": f"/v1/loyalty/programs/{p.id}", "ETag": etag(1)})


@router.get("/programs", operation_id="loyalty_programs_list", response_model=Page[ProgramRead],
            summary="List loyalty programs", responses=problem_responses())
async def list_programs(caller: Reader, page: Paging) -> Page[ProgramRead]:
    result = await loyalty.list_programs(uow=caller.uow, page=page)
    return Page[ProgramRead](data=[ProgramRead.from_domain(p) for p in result.items],
                             next_cursor=encode_cursor(result.next_after))


@router.get("/programs/{program_id}", operation_id="loyalty_programs_get", response_model=ProgramRead,
            summary="Get a loyalty program", responses=problem_responses(404))
async def get_program(program_id: UUID, caller: Reader, response: Response) -> ProgramRead:
    program = await loyalty.get_program(uow=caller.uow, program_id=program_id)
    response.headers["ETag"] = etag(program.version)
    return ProgramRead.from_domain(program)


@router.patch("/programs/{program_id}", operation_id="loyalty_programs_update", response_model=ProgramRead,
              summary="Change a program's terms (If-Match with its ETag)",
              responses=problem_responses(404, 412))
async def update_program(program_id: UUID, body: ProgramPatch, caller: Writer, response: Response,
                         if_match: IfMatch = None) -> ProgramRead:
    program = await loyalty.update_program(uow=caller.uow, clock=caller.clock, program_id=program_id,
                                           changes=body.changes(),
                                           expected_version=expected_version(if_match))
    response.headers["ETag"] = etag(program.version)
    return ProgramRead.from_domain(program)


# -- earning rules ----------------------------------------------------------------------------

@router.post("/programs/{program_id}/earning-rules", status_code=201, operation_id="loyalty_rules_create",
             response_model=RuleRead, summary="Add an earning rule", responses=problem_responses(404))
async def create_rule(program_id: UUID, body: RuleCreate, caller: Writer, response: Response) -> RuleRead:
    rule = await loyalty.create_rule(uow=caller.uow, clock=caller.clock, program_id=program_id,
                                     terms=body.to_terms())
    response.headers["Location"] = f"/v1/loyalty/programs/{program_id}/earning-rules/{rule.id}"
    response.headers["ETag"] = etag(rule.version)
    return RuleRead.from_domain(rule)


@router.get("/programs/{program_id}/earning-rules", operation_id="loyalty_rules_list",
            response_model=RuleList, summary="A program's earning rules, in evaluation order",
            responses=problem_responses(404))
async def list_rules(program_id: UUID, caller: Reader) -> RuleList:
    rules = await loyalty.list_rules(uow=caller.uow, program_id=program_id)
    ordered = sorted(rules, key=lambda r: (r.terms.priority, r.created_at, r.id))
    return RuleList(data=[RuleRead.from_domain(r) for r in ordered])


@router.get("/programs/{program_id}/earning-rules/{rule_id}", operation_id="loyalty_rules_get",
            response_model=RuleRead, summary="Get an earning rule", responses=problem_responses(404))
async def get_rule(program_id: UUID, rule_id: UUID, caller: Reader, response: Response) -> RuleRead:
    rule = await loyalty.get_rule(uow=caller.uow, program_id=program_id, rule_id=rule_id)
    response.headers["ETag"] = etag(rule.version)
    return RuleRead.from_domain(rule)


@router.patch("/programs/{program_id}/earning-rules/{rule_id}", operation_id="loyalty_rules_update",
              response_model=RuleRead, summary="Change an earning rule",
              responses=problem_responses(404, 412))
async def update_rule(program_id: UUID, rule_id: UUID, body: RulePatch, caller: Writer, response: Response,
                      if_match: IfMatch = None) -> RuleRead:
    rule = await loyalty.update_rule(uow=caller.uow, clock=caller.clock, program_id=program_id,
                                     rule_id=rule_id, changes=body.changes(),
                                     expected_version=expected_version(if_match))
    response.headers["ETag"] = etag(rule.version)
    return RuleRead.from_domain(rule)


@router.delete("/programs/{program_id}/earning-rules/{rule_id}", status_code=204,
               operation_id="loyalty_rules_delete", summary="Delete an earning rule (past points stay)",
               responses=problem_responses(404))
async def delete_rule(program_id: UUID, rule_id: UUID, caller: Writer) -> Response:
    await loyalty.delete_rule(uow=caller.uow, program_id=program_id, rule_id=rule_id)
    return Response(status_code=204)


@router.post("/programs/{program_id}/simulate", operation_id="loyalty_programs_simulate",
             response_model=SimulationRead, responses=problem_responses(404),
             summary="The points an order draft would earn, rule by rule (writes nothing)")
async def simulate(program_id: UUID, body: SimulateBody, caller: Reader) -> SimulationRead:
    gross = sum(line.quantity * line.unit_price for line in body.lines)
    facts = OrderFacts(
        ordered_at=body.ordered_at or caller.clock.now(), channel=body.channel,
        total=body.total if body.total is not None else gross + body.shipping_total,
        shipping_total=body.shipping_total, first_purchase=body.first_purchase,
        lines=tuple(LineFacts(sku=line.sku, quantity=line.quantity, amount=line.quantity * line.unit_price,
                              category_path=tuple(line.category_path or ())) for line in body.lines))
    program, awards = await loyalty.simulate_order(
        uow=caller.uow, program_id=program_id, facts=facts, tier_name=body.tier,
        customer_id=body.customer_id, timezone=_tz(caller))
    return SimulationRead(program_id=program.id, total_points=sum(a.points for a in awards),
                          awards=[AwardRead.from_domain(a) for a in awards])


# -- members ----------------------------------------------------------------------------------

def _summary(m: Member) -> MemberSummary:
    return MemberSummary(id=m.id, program_id=m.program_id, customer_id=m.customer_id, status=m.status.value,
                         tier=m.tier, lifetime_points=m.lifetime_points, enrolled_at=m.enrolled_at)


@router.post("/programs/{program_id}/members", status_code=201, operation_id="loyalty_members_enrol",
             response_model=MemberRead, responses=problem_responses(404, 409),
             summary="Enrol a customer (idempotent per customer: 200 with the existing member)")
async def enrol(program_id: UUID, body: EnrolBody, caller: Writer, response: Response) -> MemberRead:
    ref = CustomerRef.parse(body.customer.model_dump(exclude_none=True, mode="json"))
    member, created = await loyalty.enroll_member(uow=caller.uow, clock=caller.clock, program_id=program_id,
                                                  customer=ref)
    view = await loyalty.get_member(uow=caller.uow, clock=caller.clock, member_id=member.id,
                                    timezone=_tz(caller))
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/v1/loyalty/members/{member.id}"
    return MemberRead.from_view(view)


@router.get("/programs/{program_id}/members", operation_id="loyalty_members_list",
            response_model=Page[MemberSummary], summary="List a program's members",
            responses=problem_responses(404))
async def list_members(program_id: UUID, caller: Reader, page: Paging,
                       customer_id: UUID | None = None) -> Page[MemberSummary]:
    result = await loyalty.list_members(uow=caller.uow, program_id=program_id, customer_id=customer_id,
                                        page=page)
    return Page[MemberSummary](data=[_summary(m) for m in result.items],
                               next_cursor=encode_cursor(result.next_after))


@router.get("/members/{member_id}", operation_id="loyalty_members_get", response_model=MemberRead,
            summary="A member: balances, tier, progress to the next tier, lifetime points",
            responses=problem_responses(404))
async def get_member(member_id: UUID, caller: Reader) -> MemberRead:
    view = await loyalty.get_member(uow=caller.uow, clock=caller.clock, member_id=member_id,
                                    timezone=_tz(caller))
    return MemberRead.from_view(view)


@router.get("/members/{member_id}/transactions", operation_id="loyalty_transactions_list",
            response_model=Page[TransactionRead], summary="The member's ledger, newest first",
            responses=problem_responses(404))
async def list_transactions(
        member_id: UUID, caller: Reader, page: Paging,
        kind: Literal["earn", "redeem", "expire", "reverse", "adjust"] | None = None,
        occurred_after: Annotated[Timestamp | None, Query()] = None,
        occurred_before: Annotated[Timestamp | None, Query()] = None,
        source_type: Annotated[str | None, Query(max_length=32)] = None,
        source_id: Annotated[str | None, Query(max_length=128)] = None) -> Page[TransactionRead]:
    filters = EntryFilter(kind=EntryKind(kind) if kind else None, occurred_after=occurred_after,
                          occurred_before=occurred_before, source_type=source_type, source_id=source_id)
    result = await loyalty.list_entries(uow=caller.uow, member_id=member_id, filters=filters, page=page)
    return Page[TransactionRead](data=[TransactionRead.from_domain(e) for e in result.items],
                                 next_cursor=encode_cursor(result.next_after))


@router.post("/members/{member_id}/transactions", status_code=201, operation_id="loyalty_transactions_adjust",
             response_model=TransactionRead, responses=problem_responses(404, 409),
             summary="A manual adjustment (needs a reason; negative: 409 beyond the active balance)")
async def adjust(request: Request, member_id: UUID, body: TransactionCreate, caller: Writer,
                 idempotency_key: IdempotencyKey = None) -> Response:
    async def action() -> TransactionRead:
        entry = await loyalty.adjust_points(uow=caller.uow, clock=caller.clock, member_id=member_id,
                                            points=body.points, reason=body.reason, actor=caller.owner,
                                            idempotency_key=idempotency_key, timezone=_tz(caller))
        return TransactionRead.from_domain(entry)

    return await idempotent(request, caller, status_code=201, action=action)


@router.get("/members/{member_id}/tier-history", operation_id="loyalty_tier_history",
            response_model=Page[TierChangeRead], summary="The member's tier changes, newest first",
            responses=problem_responses(404))
async def tier_history(member_id: UUID, caller: Reader, page: Paging) -> Page[TierChangeRead]:
    result = await loyalty.tier_history(uow=caller.uow, member_id=member_id, page=page)
    return Page[TierChangeRead](data=[TierChangeRead.from_domain(c) for c in result.items],
                                next_cursor=encode_cursor(result.next_after))


# -- rewards ----------------------------------------------------------------------------------

@router.post("/programs/{program_id}/rewards", status_code=201, operation_id="loyalty_rewards_create",
             response_model=RewardRead, summary="Add a reward to the catalogue",
             responses=problem_responses(404))
async def create_reward(program_id: UUID, body: RewardCreate, caller: Writer,
                        response: Response) -> RewardRead:
    reward = await redeeming.create_reward(uow=caller.uow, clock=caller.clock, program_id=program_id,
                                           terms=body.to_terms())
    response.headers["Location"] = f"/v1/loyalty/programs/{program_id}/rewards/{reward.id}"
    response.headers["ETag"] = etag(reward.version)
    return RewardRead.from_domain(reward)


@router.get("/programs/{program_id}/rewards", operation_id="loyalty_rewards_list",
            response_model=Page[RewardRead], summary="The rewards catalogue",
            responses=problem_responses(404))
async def list_rewards(program_id: UUID, caller: Reader, page: Paging) -> Page[RewardRead]:
    result = await redeeming.list_rewards(uow=caller.uow, program_id=program_id, page=page)
    return Page[RewardRead](data=[RewardRead.from_domain(r) for r in result.items],
                            next_cursor=encode_cursor(result.next_after))


@router.get("/programs/{program_id}/rewards/{reward_id}", operation_id="loyalty_rewards_get",
            response_model=RewardRead, summary="Get a reward", responses=problem_responses(404))
async def get_reward(program_id: UUID, reward_id: UUID, caller: Reader, response: Response) -> RewardRead:
    reward = await redeeming.get_reward(uow=caller.uow, program_id=program_id, reward_id=reward_id)
    response.headers["ETag"] = etag(reward.version)
    return RewardRead.from_domain(reward)


@router.patch("/programs/{program_id}/rewards/{reward_id}", operation_id="loyalty_rewards_update",
              response_model=RewardRead, summary="Change a reward (stock, cost, validity, status)",
              responses=problem_responses(404, 412))
async def update_reward(program_id: UUID, reward_id: UUID, body: RewardPatch, caller: Writer,
                        response: Response, if_match: IfMatch = None) -> RewardRead:
    reward = await redeeming.update_reward(uow=caller.uow, clock=caller.clock, program_id=program_id,
                                           reward_id=reward_id, changes=body.changes(),
                                           expected_version=expected_version(if_match))
    response.headers["ETag"] = etag(reward.version)
    return RewardRead.from_domain(reward)


# -- redemptions ------------------------------------------------------------------------------

@router.post("/members/{member_id}/redemptions", status_code=201, operation_id="loyalty_redemptions_create",
             response_model=RedemptionRead, responses=problem_responses(404, 409),
             summary="Redeem points, one step or reserve (then confirm or cancel); 409 when short")
async def redeem(request: Request, member_id: UUID, body: RedemptionCreate, caller: Writer,
                 idempotency_key: IdempotencyKey = None) -> Response:
    hold = timedelta(seconds=body.hold_seconds) if body.hold_seconds else DEFAULT_HOLD
    if body.hold_seconds is not None and not body.reserve:
        raise InvalidInput("hold_seconds applies to reservations (reserve: true)", field="hold_seconds")

    async def action() -> RedemptionRead:
        made = await redeeming.redeem_points(uow=caller.uow, clock=caller.clock, member_id=member_id,
                                             points=body.points, reward_id=body.reward_id,
                                             hold=hold if body.reserve else None, actor=caller.owner)
        return RedemptionRead.from_domain(made)

    return await idempotent(request, caller, status_code=201, action=action,
                            headers=lambda r: {"Location": f"/v1/loyalty/redemptions/{r.id}"})


@router.get("/members/{member_id}/redemptions", operation_id="loyalty_redemptions_list",
            response_model=Page[RedemptionRead], summary="The member's redemptions, newest first",
            responses=problem_responses(404))
async def list_redemptions(member_id: UUID, caller: Reader, page: Paging) -> Page[RedemptionRead]:
    result = await redeeming.list_redemptions(uow=caller.uow, member_id=member_id, page=page)
    return Page[RedemptionRead](data=[RedemptionRead.from_domain(r) for r in result.items],
                                next_cursor=encode_cursor(result.next_after))


@router.get("/redemptions/{redemption_id}", operation_id="loyalty_redemptions_get",
            response_model=RedemptionRead, summary="Get a redemption", responses=problem_responses(404))
async def get_redemption(redemption_id: UUID, caller: Reader) -> RedemptionRead:
    return RedemptionRead.from_domain(await redeeming.get_redemption(uow=caller.uow,
                                                                     redemption_id=redemption_id))


@router.post("/redemptions/{redemption_id}/confirm", operation_id="loyalty_redemptions_confirm",
             response_model=RedemptionRead, responses=problem_responses(404, 409),
             summary="Confirm a reservation (idempotent; 409 once it lapsed)")
async def confirm(redemption_id: UUID, caller: Writer) -> RedemptionRead:
    return RedemptionRead.from_domain(await redeeming.confirm_redemption(
        uow=caller.uow, clock=caller.clock, redemption_id=redemption_id))


@router.post("/redemptions/{redemption_id}/cancel", operation_id="loyalty_redemptions_cancel",
             response_model=RedemptionRead, responses=problem_responses(404, 409),
             summary="Cancel a reservation: its points go back to the lots they came from")
async def cancel(redemption_id: UUID, caller: Writer) -> RedemptionRead:
    return RedemptionRead.from_domain(await redeeming.cancel_redemption(
        uow=caller.uow, clock=caller.clock, redemption_id=redemption_id))
