"""Entry-campaign use cases: campaigns, purchase codes, entries and the lottery
(docs/loyalty-campaigns.md)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from domain.customers.model import Channel, ConsentStatus, CustomerRef, normalise_identity
from domain.customers.services import create_customer, resolve_customer, set_consent
from domain.loyalty.campaign_model import (
    DRAW_ALGORITHM,
    MAX_CODES_PER_ENTRY,
    MAX_CODES_PER_UPLOAD,
    Campaign,
    CampaignEntered,
    CampaignStatus,
    Draw,
    Entry,
    EntryConsent,
    PointsAward,
    ProofKind,
    check_campaign,
    check_seed,
    code_digest,
    draw_winners,
    ensure_transition,
    normalise_campaign,
    normalise_code,
    normalise_receipt,
)
from domain.loyalty.campaign_ports import CampaignFilter, CodeUse
from domain.loyalty.services import award_points
from domain.shared.batch import ItemError
from domain.shared.clock import Clock
from domain.shared.errors import (
    Conflict,
    FieldProblem,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from domain.shared.ids import new_id
from domain.shared.pagination import Page, PageRequest, page_from
from domain.shared.ports import UnitOfWork

# Identities tried, in this order, to recognise the person behind an entry form's profile.
_PROFILE_IDENTITIES = ("external_id", "line_user_id", "email", "phone")


async def _campaign(uow: UnitOfWork, campaign_id: UUID,
                    lock: Literal["share", "update"] | None = None) -> Campaign:
    campaign = await uow.entry_campaigns.get(campaign_id, lock=lock)
    if campaign is None:
        raise NotFound("campaign", campaign_id)
    return campaign


# -- campaigns -----------------------------------------------------------------------------------


async def create_campaign(*, uow: UnitOfWork, clock: Clock, fields: Mapping[str, Any]) -> Campaign:
    """A new campaign, `draft` unless `status` says `active`."""
    values = normalise_campaign(fields, creating=True)
    status = values.pop("status", CampaignStatus.DRAFT)
    if status is CampaignStatus.CLOSED:
        raise InvalidInput("a campaign starts as draft or active", field="status")
    now = clock.now()
    campaign = Campaign(id=new_id(), status=status, created_at=now, updated_at=now, **values)
    check_campaign(campaign)
    async with uow:
        await _check_program(uow, campaign.award)
        await uow.entry_campaigns.add(campaign)
        await uow.commit()
    return campaign


async def get_campaign(*, uow: UnitOfWork, campaign_id: UUID) -> Campaign:
    async with uow:
        return await _campaign(uow, campaign_id)


async def list_campaigns(*, uow: UnitOfWork, filters: CampaignFilter, page: PageRequest) -> Page[Campaign]:
    async with uow:
        rows = await uow.entry_campaigns.search(filters, page)
    return page_from(rows, page)


async def update_campaign(*, uow: UnitOfWork, clock: Clock, campaign_id: UUID, fields: Mapping[str, Any],
                          expected_version: int | None = None) -> Campaign:
    """PATCH: only the given fields change. Status moves draft -> active -> closed (draft may
    close directly). Once a campaign has entries its kind and requirement are fixed (409
    `campaign_has_entries`): entries already accepted were judged by them. A PATCH that changes
    nothing keeps the version."""
    values = normalise_campaign(fields, creating=False)
    async with uow:
        current = await _campaign(uow, campaign_id, lock="update")
        # Invalid input is reported as such (422) before a stale If-Match (412).
        if expected_version is not None and expected_version != current.version:
            raise PreconditionFailed("the campaign changed since it was read (If-Match does not match)")
        changed = {k: v for k, v in values.items() if getattr(current, k) != v}
        if not changed:
            return current
        if "status" in changed:
            ensure_transition(current.status, changed["status"])
        if ({"kind", "requirement"} & set(changed)) and await uow.entry_campaigns.has_entries(campaign_id):
            raise Conflict("the campaign has entries: its kind and requirement can no longer change",
                           extra={"code": "campaign_has_entries"})
        updated = current.bump(clock.now(), **changed)
        check_campaign(updated)
        if "award" in changed:
            await _check_program(uow, updated.award)
        await uow.entry_campaigns.update(updated)
        await uow.commit()
    return updated


# -- purchase codes ------------------------------------------------------------------------------


@dataclass
class CodeUpload:
    received: int
    added: int = 0
    duplicates: int = 0  # already stored, or repeated in this upload
    errors: list[ItemError] = field(default_factory=list)


async def upload_codes(*, uow: UnitOfWork, clock: Clock, campaign_id: UUID,
                       codes: Sequence[Any]) -> CodeUpload:
    """Store one-time codes for a `purchase_code` campaign. Each item stands alone: a malformed
    code is reported by index and the others are stored. Uploading a code again changes nothing
    (counted in `duplicates`), so a retried upload is safe."""
    if len(codes) > MAX_CODES_PER_UPLOAD:
        raise InvalidInput(f"at most {MAX_CODES_PER_UPLOAD} codes per upload", field="codes")
    report = CodeUpload(received=len(codes))
    normalised: dict[str, int] = {}
    for index, raw in enumerate(codes):
        try:
            code = normalise_code(raw, field="code")
        except InvalidInput as exc:
            report.errors.append(ItemError(index, exc))
            continue
        normalised.setdefault(code, index)
    async with uow:
        campaign = await _campaign(uow, campaign_id, lock="share")
        if campaign.requirement is None or campaign.requirement.proof is not ProofKind.PURCHASE_CODE:
            raise Conflict("this campaign does not take purchase codes (requirement.proof is not "
                           "purchase_code)", extra={"code": "codes_not_accepted"})
        digests = [code_digest(campaign_id, code) for code in normalised]
        report.added = await uow.entry_campaigns.add_codes(campaign_id, digests, clock.now())
        await uow.commit()
    report.duplicates = report.received - len(report.errors) - report.added
    return report


# -- entries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryDraft:
    """An entry as the caller sent it: exactly one of `customer` (a reference) or `profile`."""

    customer: Mapping[str, Any] | None = None
    profile: Mapping[str, Any] | None = None
    consents: Sequence[tuple[str, str]] = ()
    purchase_codes: Sequence[str] | None = None
    receipt_number: str | None = None


@dataclass(frozen=True)
class _Checked:
    ref: CustomerRef | None
    profile: dict[str, Any] | None
    identities: list[tuple[str, str]]
    consents: tuple[EntryConsent, ...]
    codes: tuple[str, ...]
    receipt: str | None


def _prefixed(exc: InvalidInput, prefix: str) -> list[FieldProblem]:
    return [FieldProblem(f"{prefix}.{p.field}", p.message) for p in exc.problems] or [
        FieldProblem(prefix, exc.detail)]


def _check_entry(draft: EntryDraft) -> _Checked:
    """The request's own shape, every problem at once, before anything is read or written."""
    problems: list[FieldProblem] = []
    ref: CustomerRef | None = None
    profile: dict[str, Any] | None = None
    identities: list[tuple[str, str]] = []
    if (draft.customer is None) == (draft.profile is None):
        problems.append(FieldProblem("customer", "send exactly one of customer (a reference) or profile"))
    elif draft.customer is not None:
        try:
            ref = CustomerRef.parse(dict(draft.customer), field="customer")
        except InvalidInput as exc:
            problems.extend(exc.problems)
    else:
        assert draft.profile is not None
        profile = dict(draft.profile)
        for key in _PROFILE_IDENTITIES:
            if profile.get(key):
                try:
                    value = normalise_identity(key, str(profile[key]), field=f"profile.{key}")
                    identities.append((key, value))
                except InvalidInput as exc:
                    problems.extend(exc.problems)
        if not identities and not problems:
            problems.append(FieldProblem("profile", "a profile needs one of external_id, line_user_id, "
                                                    "email, phone to recognise the customer next time"))
    consents: list[EntryConsent] = []
    seen: set[str] = set()
    for i, (channel, status) in enumerate(draft.consents):
        try:
            consents.append(EntryConsent(channel=Channel(channel).value, status=ConsentStatus(status).value))
        except ValueError:
            problems.append(FieldProblem(f"consents.{i}", "channel is one of email, line, sms, dm, phone, "
                                                          "push; status granted or denied"))
            continue
        if channel in seen:
            problems.append(FieldProblem(f"consents.{i}.channel", "each channel at most once"))
        seen.add(channel)
    codes: list[str] = []
    if draft.purchase_codes is not None:
        if not 1 <= len(draft.purchase_codes) <= MAX_CODES_PER_ENTRY:
            problems.append(FieldProblem("purchase_codes", f"1-{MAX_CODES_PER_ENTRY} codes"))
        for i, raw in enumerate(draft.purchase_codes):
            try:
                code = normalise_code(raw, field=f"purchase_codes.{i}")
            except InvalidInput as exc:
                problems.extend(exc.problems)
                continue
            if code in codes:
                problems.append(FieldProblem(f"purchase_codes.{i}", "the same code twice"))
            codes.append(code)
    receipt = None
    if draft.receipt_number is not None:
        try:
            receipt = normalise_receipt(draft.receipt_number)
        except InvalidInput as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidInput("the entry has invalid fields", problems=problems)
    return _Checked(ref=ref, profile=profile, identities=identities, consents=tuple(consents),
                    codes=tuple(codes), receipt=receipt)


def _check_proof(campaign: Campaign, checked: _Checked) -> None:
    """The proof the request carries must be the one the campaign asks for."""
    proof = campaign.requirement.proof if campaign.requirement else None
    if checked.codes and proof is not ProofKind.PURCHASE_CODE:
        raise InvalidInput("this campaign does not take purchase codes", field="purchase_codes")
    if checked.receipt is not None and proof is not ProofKind.RECEIPT_NUMBER:
        raise InvalidInput("this campaign does not take receipt numbers", field="receipt_number")
    if proof is ProofKind.PURCHASE_CODE:
        assert campaign.requirement is not None
        wanted = campaign.requirement.codes_per_entry
        if len(checked.codes) != wanted:
            raise InvalidInput(f"an entry needs exactly {wanted} purchase code(s)", field="purchase_codes")
    if proof is ProofKind.RECEIPT_NUMBER and checked.receipt is None:
        raise InvalidInput("an entry needs the receipt number", field="receipt_number")


async def _entrant(uow: UnitOfWork, clock: Clock, timezone: str, checked: _Checked) -> UUID:
    if checked.ref is not None:
        return await resolve_customer(uow=uow, clock=clock, ref=checked.ref)
    for kind, value in checked.identities:
        found = await uow.customers.find_by_identity(kind, value)
        if found is not None:
            # A known person: the form's other fields do not overwrite the stored profile (an
            # entry form is not a profile editor, and anyone can type someone's email into it).
            return found
    assert checked.profile is not None
    try:
        customer = await create_customer(uow=uow, clock=clock, timezone=timezone, fields=checked.profile)
    except InvalidInput as exc:
        raise InvalidInput("the profile has invalid fields", problems=_prefixed(exc, "profile")) from exc
    return customer.id


async def _prove(uow: UnitOfWork, campaign: Campaign, checked: _Checked, customer_id: UUID,
                 entry_id: UUID, entries_so_far: int, now: Any) -> dict[str, Any]:
    """Check (and consume) the must-buy proof; returns what the entry records about it."""
    requirement = campaign.requirement
    if requirement is None:
        return {"kind": "none"}
    if requirement.proof is ProofKind.ORDERS:
        lines = await uow.entry_campaigns.purchased_lines(customer_id, campaign.starts_at, campaign.ends_at)
        found = requirement.measure(lines)
        entitled = requirement.entitled_entries(found)
        if entitled <= entries_so_far:
            raise Conflict(
                f"qualifying purchases in the period pay for {entitled} entr{'y' if entitled == 1 else 'ies'}"
                f" and the customer has {entries_so_far}", extra={
                    "code": "purchase_requirement_not_met", "qualifying_quantity": found.quantity,
                    "qualifying_amount": found.amount, "min_quantity": requirement.min_quantity,
                    "min_amount": requirement.min_amount, "entries": entries_so_far})
        return {"kind": "orders", "qualifying_quantity": found.quantity, "qualifying_amount": found.amount}
    if requirement.proof is ProofKind.PURCHASE_CODE:
        for i, code in enumerate(checked.codes):
            use = await uow.entry_campaigns.consume_code(campaign.id, code_digest(campaign.id, code),
                                                         entry_id, now)
            if use is CodeUse.UNKNOWN:
                error = InvalidInput("this code is not one of the campaign's codes",
                                     field=f"purchase_codes.{i}")
                error.extra["code"] = "unknown_code"
                raise error
            if use is CodeUse.ALREADY_USED:
                raise Conflict("this code was already used for an entry",
                               extra={"code": "code_already_used", "index": i})
        return {"kind": "purchase_code", "codes": len(checked.codes)}
    assert checked.receipt is not None
    if not await uow.entry_campaigns.claim_receipt(campaign.id, checked.receipt, entry_id, now):
        raise Conflict("this receipt number was already used for an entry",
                       extra={"code": "receipt_already_used"})
    return {"kind": "receipt_number", "receipt_number": checked.receipt}


async def enter_campaign(*, uow: UnitOfWork, clock: Clock, timezone: str, actor: str, campaign_id: UUID,
                         draft: EntryDraft) -> Entry:
    """One entry, all or nothing in one transaction: the customer resolved (or created), the
    campaign open (409 `campaign_not_open`), the per-customer limit (409 `entry_limit_reached`),
    the must-buy proof (codes and receipts consumed), consents recorded through the customers area
    with source `campaign:<id>`, points awarded when configured, `CampaignEntered` published."""
    checked = _check_entry(draft)
    now = clock.now()
    async with uow:
        # FOR SHARE: a PATCH or a draw waits for entries in flight, and entries for them.
        campaign = await _campaign(uow, campaign_id, lock="share")
        campaign.ensure_open(now)
        _check_proof(campaign, checked)
        customer_id = await _entrant(uow, clock, timezone, checked)
        # The customer's row lock serialises this customer's entries, so two at once cannot both
        # pass the limit check (other customers' entries are not held up).
        await uow.customers.lock([customer_id])
        # Entries made before a merge, under a customer merged into this one, count too.
        merged = await uow.customers.merged_sources(customer_id)
        so_far = await uow.entry_campaigns.count_entries(campaign_id, [customer_id, *merged])
        if so_far >= campaign.entry_limit:
            raise Conflict(f"the customer has {so_far} of {campaign.entry_limit} allowed entries",
                           extra={"code": "entry_limit_reached", "entry_limit": campaign.entry_limit,
                                  "customer_id": str(customer_id)})
        entry_id = new_id()
        proof = await _prove(uow, campaign, checked, customer_id, entry_id, so_far, now)
        for consent in checked.consents:
            await set_consent(uow=uow, clock=clock, actor=actor, customer_id=customer_id,
                              channel=consent.channel, status=consent.status,
                              source=f"campaign:{campaign_id}", occurred_at=None)
        points = await _award(uow, clock, timezone, campaign, customer_id, entry_id)
        entry = Entry(id=entry_id, campaign_id=campaign_id, customer_id=customer_id, entered_at=now,
                      proof=proof, consents=checked.consents, points_awarded=points)
        await uow.entry_campaigns.add_entry(entry)
        uow.publish(CampaignEntered(campaign_id=campaign_id, entry_id=entry_id, customer_id=customer_id,
                                    entered_at=now, points_awarded=points))
        await uow.commit()
    return entry


async def _award(uow: UnitOfWork, clock: Clock, timezone: str, campaign: Campaign, customer_id: UUID,
                 entry_id: UUID) -> int | None:
    """Points for the entry when the campaign awards them, through the loyalty ledger in this
    same transaction (enrolling the customer if needed). A program that is not active refuses
    the whole entry (409 `program_not_active`) rather than silently skipping promised points."""
    if campaign.award is None:
        return None
    earned = await award_points(
        uow=uow, clock=clock, program_id=campaign.award.program_id, customer_id=customer_id,
        points=campaign.award.points, reason=f"entry to campaign {campaign.name}"[:200],
        source_type="campaign", source_id=str(campaign.id),
        idempotency_key=f"campaign:{campaign.id}:entry:{entry_id}", timezone=timezone)
    return earned.points


async def _check_program(uow: UnitOfWork, award: PointsAward | None) -> None:
    """The awarded program must exist in this tenant (its status is checked at each entry)."""
    if award is not None and await uow.loyalty.get_program(award.program_id) is None:
        error = InvalidInput("no loyalty program of this tenant has this id", field="award.program_id")
        error.extra["code"] = "unknown_program"
        raise error


async def list_entries(*, uow: UnitOfWork, campaign_id: UUID, customer_id: UUID | None,
                       page: PageRequest) -> Page[Entry]:
    async with uow:
        await _campaign(uow, campaign_id)
        rows = await uow.entry_campaigns.entries(campaign_id, customer_id, page)
    return page_from(rows, page)


# -- the lottery ---------------------------------------------------------------------------------


async def draw_lottery(*, uow: UnitOfWork, clock: Clock, actor: str, campaign_id: UUID,
                       seed: str | None = None, redraw: bool = False) -> Draw:
    """Draw the winners once the campaign ended (past `ends_at`, or closed). A second draw is
    409 `already_drawn` unless `redraw` is true; every draw is kept. Without a seed one is made
    with `secrets` (256 bits). The seed, the algorithm and the sorted pool are recorded so anyone
    can recompute the result (docs/loyalty-campaigns.md)."""
    given = check_seed(seed) if seed is not None else None
    now = clock.now()
    async with uow:
        campaign = await _campaign(uow, campaign_id, lock="update")
        if campaign.winners is None:
            raise Conflict("the campaign has no lottery (set winners)", extra={"code": "no_lottery"})
        if campaign.status is CampaignStatus.DRAFT or (
                campaign.status is CampaignStatus.ACTIVE and now < campaign.ends_at):
            raise Conflict(f"the lottery is drawn after the campaign ends ({campaign.ends_at.isoformat()})",
                           extra={"code": "campaign_not_ended", "ends_at": campaign.ends_at.isoformat(),
                                  "campaign_status": campaign.status.value})
        previous = await uow.entry_campaigns.latest_draw(campaign_id)
        if previous is not None and not redraw:
            raise Conflict("the lottery was drawn already; send redraw: true to draw again",
                           extra={"code": "already_drawn", "draw_id": str(previous.id)})
        pool = await uow.entry_campaigns.draw_pool(campaign_id)
        used_seed = given if given is not None else secrets.token_hex(32)
        won = draw_winners(pool, seed=used_seed, winners=campaign.winners)
        draw = Draw(id=new_id(), campaign_id=campaign_id, seed=used_seed,
                    seed_source="given" if given is not None else "generated", algorithm=DRAW_ALGORITHM,
                    winners_wanted=campaign.winners, entry_ids=tuple(e for e, _ in pool),
                    entry_customer_ids=tuple(c for _, c in pool),
                    winners=tuple(won), drawn_at=now, actor=actor,
                    redraw_of=previous.id if previous is not None else None)
        await uow.entry_campaigns.add_draw(draw)
        await uow.commit()
    return draw


async def get_draw(*, uow: UnitOfWork, campaign_id: UUID) -> Draw:
    async with uow:
        await _campaign(uow, campaign_id)
        draw = await uow.entry_campaigns.latest_draw(campaign_id)
    if draw is None:
        raise NotFound("draw of campaign", campaign_id)
    return draw

