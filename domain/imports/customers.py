"""Customer rows: validated with the customer area's own rules, upserted a chunk at a time.

Matching rule (documented in docs/imports.md): a row updates the customer holding its
`external_id`; a row without one matches by `email`, then `phone`, then `line_user_id`; no match
creates a customer. Rows apply in file order, exactly as one API call per row would: an identity
(email, phone, LINE user id, external id) held by another customer rejects the row, never steals
the identity.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from domain.customers.attributes import validate_attributes
from domain.customers.events import CustomerCreated
from domain.customers.model import Customer, CustomerStatus
from domain.customers.profile import normalise_profile
from domain.imports.cells import attribute_value, parse_date, parse_datetime, split_list
from domain.imports.columns import IDENTITY_COLUMNS
from domain.imports.model import ChunkOutcome, ImportContext, Parsed, Rejection, describe
from domain.shared.errors import FieldProblem, InvalidInput
from domain.shared.ids import new_id
from domain.shared.ports import UnitOfWork

_TEXT = ("external_id", "email", "phone", "line_user_id", "family_name", "given_name",
         "family_name_kana", "given_name_kana")
_ADDRESS = ("postal_code", "prefecture", "city", "line1", "line2")
_GENDERS = {
    "female": ("female", "f", "woman", "女", "女性"),
    "male": ("male", "m", "man", "男", "男性"),
    "other": ("other", "その他"),
    "undisclosed": ("undisclosed", "unknown", "不明", "無回答", "回答しない"),
}
GENDER_WORDS = {word: gender for gender, words in _GENDERS.items() for word in words}

Pair = tuple[str, str]


@dataclass(frozen=True)
class CustomerInput:
    key: Pair  # the identity that finds the existing customer
    values: dict[str, Any]  # normalised profile fields, only those the row gives

    def pairs(self) -> list[Pair]:
        return [(k, self.values[k]) for k in IDENTITY_COLUMNS if self.values.get(k)]


def parse_customer(cells: dict[str, str], ctx: ImportContext) -> CustomerInput:
    """A row's cells as profile fields, checked by `normalise_profile`; every problem at once."""
    problems: list[FieldProblem] = []
    raw: dict[str, Any] = {k: cells[k] for k in _TEXT if k in cells}

    def attempt(key: str, fn: Any) -> None:
        try:
            raw[key] = fn()
        except InvalidInput as exc:
            problems.extend(exc.problems)

    if "birth_date" in cells:
        attempt("birth_date", lambda: parse_date(cells["birth_date"], field="birth_date"))
    if "gender" in cells:
        word = cells["gender"].strip().lower()
        if word in GENDER_WORDS:
            raw["gender"] = GENDER_WORDS[word]
        else:
            problems.append(FieldProblem("gender", "one of female, male, other, undisclosed"
                                                   " (also 女性, 男性, その他, 回答しない)"))
    address = {k: cells[k] for k in _ADDRESS if k in cells}
    if address:
        raw["address"] = address
    if "tags" in cells:
        raw["tags"] = split_list(cells["tags"])
    attributes: dict[str, Any] = {}
    for column, cell in cells.items():
        if column.startswith("attributes."):
            name = column.removeprefix("attributes.")
            try:
                attributes[name] = attribute_value(name, cell, ctx.definitions.get(name))
            except InvalidInput as exc:
                problems.extend(exc.problems)
    if attributes:
        raw["attributes"] = attributes
    acquisition: dict[str, Any] = {k: cells[f"acquisition.{k}"] for k in ("channel", "stage", "campaign")
                                   if f"acquisition.{k}" in cells}
    if "acquisition.occurred_at" in cells:
        try:
            acquisition["occurred_at"] = parse_datetime(
                cells["acquisition.occurred_at"], field="acquisition.occurred_at", timezone=ctx.timezone)
        except InvalidInput as exc:
            problems.extend(exc.problems)
    if acquisition:
        raw["acquisition"] = acquisition
    try:
        values = normalise_profile(raw, today=ctx.today, definitions=ctx.definitions, creating=False)
    except InvalidInput as exc:
        problems.extend(exc.problems)
        values = {}
    key = next(((k, values[k]) for k in IDENTITY_COLUMNS if values.get(k)), None)
    if key is None and not problems:
        problems.append(FieldProblem("external_id", "a row needs external_id (or email, phone or"
                                                    " line_user_id) to find or create its customer"))
    if problems:
        raise InvalidInput("the customer row has invalid fields", problems=problems)
    assert key is not None
    return CustomerInput(key=key, values=values)


@dataclass
class CustomerPlan:
    """What one chunk changes: whole customer rows to upsert and identity rows to move."""

    created: list[Customer]
    updated: list[Customer]
    claims: list[tuple[str, str, UUID]]
    releases: list[tuple[str, str, UUID]]
    accepted: int
    rejections: list[Rejection]


def _merge_partial(before: Customer, values: dict[str, Any]) -> None:
    """Blank cells never clear: attributes merge key by key, and an address or acquisition keeps
    the parts the row leaves blank."""
    if values.get("attributes"):
        values["attributes"] = {**before.attributes, **values["attributes"]}
    for key in ("address", "acquisition"):
        old, given = getattr(before, key), values.get(key)
        if old is not None and given is not None:
            values[key] = replace(old, **{k: v for k, v in vars(given).items() if v is not None})


def plan_customers(items: list[Parsed], *, owners: dict[Pair, UUID], current: dict[UUID, Customer],
                   ctx: ImportContext) -> CustomerPlan:
    """Apply the chunk's rows in file order to the customers they name. `owners` holds who owns
    each identity the rows mention; `current` the existing customers those rows update (locked)."""
    now = ctx.now
    claims: dict[Pair, UUID] = dict(owners)
    state: dict[UUID, Customer] = {}
    baseline: dict[UUID, set[Pair]] = {}
    final: dict[UUID, set[Pair]] = {}
    created_on: dict[UUID, int] = {}
    rejections: list[Rejection] = []
    accepted = 0
    required = any(d.required for d in ctx.definitions.values())

    def reject(item: Parsed, reason: str, problems: tuple[FieldProblem, ...] = ()) -> None:
        rejections.append(Rejection(line=item.record.line, reason=reason, problems=problems,
                                    fields=tuple(item.record.fields)))

    for item in items:
        row: CustomerInput = item.value
        target = claims.get(row.key)
        values = dict(row.values)
        if target is None:
            target = new_id()
            after = Customer(id=target, created_at=now, updated_at=now, **values)
            if required:  # a new customer needs the attributes declared required
                try:
                    validate_attributes(after.attributes, ctx.definitions, creating=True)
                except InvalidInput as exc:
                    reject(item, describe(exc.problems, exc.detail), tuple(exc.problems))
                    continue
            is_new = True
        else:
            known = state.get(target) or current.get(target)
            if known is None or known.status is not CustomerStatus.ACTIVE:
                why = f"{row.key[1]!r} names customer {target}, which is " + (
                    "missing" if known is None else known.status.value)
                reject(item, f"{row.key[0]} {why}", (FieldProblem(row.key[0], why),))
                continue
            before = known
            _merge_partial(before, values)
            after = (replace(before, **values, updated_at=now) if target in state
                     else before.bump(now, **values))
            is_new = False
        old = set() if is_new else final.get(target) or set(before.identities())
        new = set(after.identities())
        taken = [(pair, claims[pair]) for pair in sorted(new - old)
                 if claims.get(pair) not in (None, target)]
        if taken:
            (kind, value), owner = taken[0]
            whose = (f"the customer created from line {created_on[owner]}" if owner in created_on
                     else f"customer {owner}")
            why = f"{value!r} already belongs to {whose}"
            reject(item, f"{kind} {why}", (FieldProblem(kind, why),))
            continue
        for pair in old - new:
            claims.pop(pair, None)
        for pair in new - old:
            claims[pair] = target
        if target not in state:
            baseline[target] = old
        if is_new:
            created_on[target] = item.record.line
        state[target] = after
        final[target] = new
        accepted += 1

    claim_rows: list[tuple[str, str, UUID]] = []
    release_rows: list[tuple[str, str, UUID]] = []
    for customer_id, held in final.items():
        base = baseline[customer_id]
        # an identity it already holds (attached through the API) needs no claim
        claim_rows += [(k, v, customer_id) for k, v in sorted(held - base)
                       if owners.get((k, v)) != customer_id]
        release_rows += [(k, v, customer_id) for k, v in sorted(base - held)]
    return CustomerPlan(created=[c for i, c in state.items() if i in created_on],
                        updated=[c for i, c in state.items() if i not in created_on],
                        claims=claim_rows, releases=release_rows, accepted=accepted, rejections=rejections)


async def write_customers(uow: UnitOfWork, items: list[Parsed], ctx: ImportContext) -> ChunkOutcome:
    """Inside the chunk's unit of work: look up, lock, plan, write in bulk."""
    pairs = sorted({pair for item in items for pair in item.value.pairs()})
    owners = await uow.imports.identity_owners(pairs)
    targets = sorted({owners[item.value.key] for item in items if item.value.key in owners})
    current = await uow.customers.lock(targets) if targets else {}
    plan = plan_customers(items, owners=owners, current=current, ctx=ctx)
    await uow.imports.write_customers(created=plan.created, updated=plan.updated, claims=plan.claims,
                                      releases=plan.releases)
    for customer in plan.created:
        uow.publish(CustomerCreated(customer_id=customer.id))
    return ChunkOutcome(accepted=plan.accepted, rejections=plan.rejections)
