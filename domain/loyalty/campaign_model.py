"""Entry campaigns (キャンペーン応募): the campaign's rules, its must-buy requirement, purchase
codes and the audited lottery (docs/loyalty-campaigns.md).

Pure rules: no storage here. Amounts are integers in the tenant currency's minor unit.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from domain.products.model import MAX_AMOUNT, MAX_CATEGORY_DEPTH, normalise_sku
from domain.shared.errors import Conflict, FieldProblem, InvalidInput
from domain.shared.events import DomainEvent
from domain.shared.text import clean_text

MAX_ENTRY_LIMIT = 1000
MAX_WINNERS = 100_000
MAX_AWARD_POINTS = 10_000_000
MAX_SKUS = 100
MAX_CATEGORIES = 20
MAX_CODES_PER_ENTRY = 10
MAX_CODES_PER_UPLOAD = 10_000
MAX_MIN_QUANTITY = 1_000_000
DRAW_ALGORITHM = "sha256-rank-v1"
_CODE = re.compile(r"^[A-Z0-9]{4,64}$")


class CampaignKind(StrEnum):
    OPEN = "open"  # anyone may enter
    MUST_BUY = "must_buy"  # an entry needs proof of qualifying purchases


class CampaignStatus(StrEnum):
    DRAFT = "draft"  # being prepared: no entries
    ACTIVE = "active"  # takes entries while now is within [starts_at, ends_at)
    CLOSED = "closed"  # ended early or for good: no entries, may still be drawn


class ProofKind(StrEnum):
    ORDERS = "orders"  # the customer's orders recorded in Kizuna within the period
    PURCHASE_CODE = "purchase_code"  # one-time codes uploaded beforehand (printed in the pack)
    RECEIPT_NUMBER = "receipt_number"  # free text, each number usable once per campaign


_TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.DRAFT: frozenset({CampaignStatus.ACTIVE, CampaignStatus.CLOSED}),
    CampaignStatus.ACTIVE: frozenset({CampaignStatus.CLOSED}),
    CampaignStatus.CLOSED: frozenset(),
}


@dataclass(frozen=True)
class PurchasedLine:
    """One order line of the customer inside the campaign period (orders placed or partially
    refunded only), with its product's category path when the catalogue knows the sku."""

    order_id: UUID
    sku: str
    quantity: int
    refunded_quantity: int
    unit_price: int
    category_path: tuple[str, ...] = ()

    @property
    def kept(self) -> int:
        """Units not returned."""
        return max(0, self.quantity - self.refunded_quantity)


@dataclass(frozen=True)
class Qualifying:
    quantity: int
    amount: int


@dataclass(frozen=True)
class Requirement:
    """What a must-buy entry proves. With `orders`, Kizuna measures the purchases itself; with
    codes or receipts the skus and categories only describe the campaign (the code or the receipt
    is the proof), and `min_quantity` is the number of codes one entry needs."""

    proof: ProofKind
    skus: tuple[str, ...] = ()
    categories: tuple[tuple[str, ...], ...] = ()
    min_quantity: int | None = None
    min_amount: int | None = None

    def matches(self, line: PurchasedLine) -> bool:
        """No skus and no categories: every product qualifies."""
        if not self.skus and not self.categories:
            return True
        if line.sku in self.skus:
            return True
        return any(line.category_path[: len(c)] == c for c in self.categories)

    def measure(self, lines: Iterable[PurchasedLine]) -> Qualifying:
        """Units kept (bought less returned) and their value at unit price, over matching lines."""
        quantity = amount = 0
        for line in lines:
            if self.matches(line):
                quantity += line.kept
                amount += line.kept * line.unit_price
        return Qualifying(quantity=quantity, amount=amount)

    def entitled_entries(self, found: Qualifying) -> int:
        """How many entries these purchases pay for: one per full `min_amount` (or
        `min_quantity`, or unit when neither is set). A purchase proves one entry, never more."""
        if self.min_amount is not None:
            return found.amount // self.min_amount
        return found.quantity // (self.min_quantity or 1)

    @property
    def codes_per_entry(self) -> int:
        return self.min_quantity or 1

    def to_json(self) -> dict[str, Any]:
        return {"proof": self.proof.value, "skus": list(self.skus),
                "categories": [list(c) for c in self.categories], "min_quantity": self.min_quantity,
                "min_amount": self.min_amount}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Requirement:
        return cls(proof=ProofKind(raw["proof"]), skus=tuple(raw.get("skus") or ()),
                   categories=tuple(tuple(c) for c in raw.get("categories") or ()),
                   min_quantity=raw.get("min_quantity"), min_amount=raw.get("min_amount"))


@dataclass(frozen=True)
class PointsAward:
    program_id: UUID
    points: int

    def to_json(self) -> dict[str, Any]:
        return {"program_id": str(self.program_id), "points": self.points}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PointsAward:
        return cls(program_id=UUID(str(raw["program_id"])), points=int(raw["points"]))


@dataclass(frozen=True)
class Campaign:
    id: UUID
    name: str
    kind: CampaignKind
    status: CampaignStatus
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    entry_limit: int = 1  # entries per customer
    requirement: Requirement | None = None  # must_buy only
    award: PointsAward | None = None
    winners: int | None = None  # a lottery draws this many winners after the end
    version: int = 1

    def open_at(self, now: datetime) -> bool:
        return self.status is CampaignStatus.ACTIVE and self.starts_at <= now < self.ends_at

    def ensure_open(self, now: datetime) -> None:
        """409 `campaign_not_open`: entries need an active campaign within [starts_at, ends_at)."""
        if self.open_at(now):
            return
        if self.status is not CampaignStatus.ACTIVE:
            why = f"the campaign is {self.status.value}"
        elif now < self.starts_at:
            why = f"the campaign starts at {self.starts_at.isoformat()}"
        else:
            why = f"the campaign ended at {self.ends_at.isoformat()}"
        raise Conflict(f"{why}; it takes no entries now", extra={
            "code": "campaign_not_open", "campaign_status": self.status.value,
            "starts_at": self.starts_at.isoformat(), "ends_at": self.ends_at.isoformat()})

    def bump(self, now: datetime, **changes: Any) -> Campaign:
        return replace(self, **changes, updated_at=now, version=self.version + 1)


@dataclass(frozen=True)
class EntryConsent:
    channel: str
    status: str


@dataclass(frozen=True)
class Entry:
    id: UUID
    campaign_id: UUID
    customer_id: UUID
    entered_at: datetime
    proof: dict[str, Any] = field(default_factory=dict)
    consents: tuple[EntryConsent, ...] = ()
    points_awarded: int | None = None


@dataclass(frozen=True)
class Winner:
    entry_id: UUID
    customer_id: UUID


@dataclass(frozen=True)
class Draw:
    """One recorded lottery: enough to recompute it (seed, algorithm, the ordered pool)."""

    id: UUID
    campaign_id: UUID
    seed: str
    seed_source: str  # "given" or "generated"
    algorithm: str
    winners_wanted: int
    entry_ids: tuple[UUID, ...]  # the pool, sorted by entry id
    entry_customer_ids: tuple[UUID, ...]  # each pool entry's customer (after merges), same order
    winners: tuple[Winner, ...]  # in the order they were drawn
    drawn_at: datetime
    actor: str
    redraw_of: UUID | None = None


# -- validation ---------------------------------------------------------------------------------


def _positive(value: Any, *, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInput(f"must be an integer from 1 to {maximum}", field=field)
    return value


def _instant(value: Any, *, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput("must be an RFC 3339 instant with a UTC offset", field=field)
    # Far years would overflow when converted to UTC (a 500); no campaign runs then.
    if not 2000 <= value.year <= 9000:
        raise InvalidInput("must be between the years 2000 and 9000", field=field)
    return value.astimezone(UTC)


def _enum(kind: type[StrEnum], value: Any, *, field: str) -> Any:
    try:
        return kind(value)
    except ValueError as exc:
        raise InvalidInput(f"must be one of {', '.join(m.value for m in kind)}", field=field) from exc


def parse_requirement(raw: Mapping[str, Any], *, field: str = "requirement") -> Requirement:
    problems: list[FieldProblem] = []

    def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InvalidInput as exc:
            problems.extend(exc.problems)
            return None

    proof = attempt(_enum, ProofKind, raw.get("proof"), field=f"{field}.proof")
    skus_raw = raw.get("skus") or []
    cats_raw = raw.get("categories") or []
    skus: list[str] = []
    categories: list[tuple[str, ...]] = []
    if len(skus_raw) > MAX_SKUS:
        problems.append(FieldProblem(f"{field}.skus", f"at most {MAX_SKUS} skus"))
    else:
        for i, raw_sku in enumerate(skus_raw):
            sku = attempt(normalise_sku, raw_sku, field=f"{field}.skus.{i}")
            if sku is not None:
                skus.append(sku)
    if len(cats_raw) > MAX_CATEGORIES:
        problems.append(FieldProblem(f"{field}.categories", f"at most {MAX_CATEGORIES} categories"))
    else:
        for i, path in enumerate(cats_raw):
            where = f"{field}.categories.{i}"
            if not path or len(path) > MAX_CATEGORY_DEPTH:
                problems.append(FieldProblem(where, f"a category path has 1-{MAX_CATEGORY_DEPTH} levels"))
                continue
            parts = [attempt(clean_text, p, field=f"{where}.{j}", max_length=100) for j, p in enumerate(path)]
            if all(p is not None for p in parts):
                categories.append(tuple(parts))
    min_quantity = raw.get("min_quantity")
    min_amount = raw.get("min_amount")
    if min_quantity is not None:
        min_quantity = attempt(_positive, min_quantity, field=f"{field}.min_quantity",
                               maximum=MAX_CODES_PER_ENTRY if proof is ProofKind.PURCHASE_CODE
                               else MAX_MIN_QUANTITY)
    if min_amount is not None:
        min_amount = attempt(_positive, min_amount, field=f"{field}.min_amount", maximum=MAX_AMOUNT)
        if proof is not None and proof is not ProofKind.ORDERS:
            problems.append(FieldProblem(f"{field}.min_amount",
                                         "only orders can prove an amount; codes and receipts cannot"))
    if raw.get("min_quantity") is not None and raw.get("min_amount") is not None:
        problems.append(FieldProblem(field, "set min_quantity or min_amount, not both"))
    if problems:
        raise InvalidInput("the requirement has invalid fields", problems=problems)
    return Requirement(proof=proof, skus=tuple(dict.fromkeys(skus)),
                       categories=tuple(dict.fromkeys(categories)),
                       min_quantity=min_quantity, min_amount=min_amount)


def parse_award(raw: Mapping[str, Any], *, field: str = "award") -> PointsAward:
    problems: list[FieldProblem] = []
    program = raw.get("program_id")
    try:
        program_id = UUID(str(program)) if program is not None else None
    except ValueError:
        program_id = None
    if program_id is None:
        problems.append(FieldProblem(f"{field}.program_id", "must name a loyalty program by id"))
    try:
        points = _positive(raw.get("points"), field=f"{field}.points", maximum=MAX_AWARD_POINTS)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    if problems:
        raise InvalidInput("the award has invalid fields", problems=problems)
    assert program_id is not None
    return PointsAward(program_id=program_id, points=points)


_FIELDS = ("name", "description", "kind", "status", "starts_at", "ends_at", "entry_limit",
           "requirement", "award", "winners")


def normalise_campaign(raw: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """Only the keys present in `raw` come back (PATCH semantics); every problem at once. Rules
    that span fields (period order, kind and requirement) are checked by `check_campaign`."""
    rules: dict[str, Callable[[Any], Any]] = {
        "name": lambda v: clean_text(v, field="name", max_length=200),
        "description": lambda v: clean_text(v, field="description", max_length=2000),
        "kind": lambda v: _enum(CampaignKind, v, field="kind"),
        "status": lambda v: _enum(CampaignStatus, v, field="status"),
        "starts_at": lambda v: _instant(v, field="starts_at"),
        "ends_at": lambda v: _instant(v, field="ends_at"),
        "entry_limit": lambda v: _positive(v, field="entry_limit", maximum=MAX_ENTRY_LIMIT),
        "requirement": parse_requirement,
        "award": parse_award,
        "winners": lambda v: _positive(v, field="winners", maximum=MAX_WINNERS),
    }
    nullable = {"description", "requirement", "award", "winners"}
    problems: list[FieldProblem] = []
    values: dict[str, Any] = {}
    for key in _FIELDS:
        if key not in raw:
            if creating and key in ("name", "kind", "starts_at", "ends_at"):
                problems.append(FieldProblem(key, "is required"))
            continue
        value = raw[key]
        if value is None:
            if key in nullable:
                values[key] = None
            else:
                problems.append(FieldProblem(key, "cannot be null"))
            continue
        try:
            values[key] = rules[key](value)
        except InvalidInput as exc:
            problems.extend(exc.problems or [FieldProblem(key, exc.detail)])
    if problems:
        raise InvalidInput("the campaign has invalid fields", problems=problems)
    return values


def check_campaign(c: Campaign) -> None:
    """Rules across fields, on the campaign as it would be stored."""
    problems: list[FieldProblem] = []
    if c.ends_at <= c.starts_at:
        problems.append(FieldProblem("ends_at", "must be after starts_at"))
    if c.kind is CampaignKind.MUST_BUY and c.requirement is None:
        problems.append(FieldProblem("requirement", "a must_buy campaign needs a requirement"))
    if c.kind is CampaignKind.OPEN and c.requirement is not None:
        problems.append(FieldProblem("requirement", "an open campaign has no requirement"))
    if problems:
        raise InvalidInput("the campaign is inconsistent", problems=problems)


def ensure_transition(current: CampaignStatus, wanted: CampaignStatus) -> None:
    if wanted is current:
        return
    if wanted not in _TRANSITIONS[current]:
        raise Conflict(f"a {current.value} campaign cannot become {wanted.value} "
                       "(draft -> active -> closed)",
                       extra={"code": "invalid_status_transition", "campaign_status": current.value})


# -- purchase codes ------------------------------------------------------------------------------


def normalise_code(value: str, *, field: str = "code") -> str:
    """NFKC, upper case, spaces and hyphens dropped: `abcd-１２３４` and `ABCD1234` are one code,
    as printed codes are typed by hand. 4-64 letters and digits remain."""
    if not isinstance(value, str):
        raise InvalidInput("must be a string", field=field)
    text = unicodedata.normalize("NFKC", value).upper()
    text = re.sub(r"[\s\-ー－‐]", "", text)
    if not _CODE.fullmatch(text):
        raise InvalidInput("a code is 4-64 letters A-Z and digits (spaces and hyphens ignored)",
                           field=field)
    return text


def code_digest(campaign_id: UUID, code: str) -> str:
    """What is stored instead of the code: SHA-256 over the campaign id and the normalised code,
    so a copy of the table does not hand out usable codes (long random codes resist guessing; short
    ones would not, whatever the hash)."""
    return hashlib.sha256(f"{campaign_id}:{code}".encode()).hexdigest()


def normalise_receipt(value: str, *, field: str = "receipt_number") -> str:
    """NFKC and trimmed, inner whitespace dropped, upper case: one receipt, however typed."""
    text = clean_text(value, field=field, max_length=128)
    return re.sub(r"\s+", "", text).upper()


# -- the lottery ---------------------------------------------------------------------------------


def draw_rank(seed: str, entry_id: UUID) -> str:
    """An entry's place in the shuffled pool: SHA-256 of `<seed>:<entry id>` as lower-case hex."""
    return hashlib.sha256(f"{seed}:{entry_id}".encode()).hexdigest()


def draw_winners(pool: Sequence[tuple[UUID, UUID]], *, seed: str, winners: int) -> list[Winner]:
    """The audited draw (algorithm `sha256-rank-v1`, docs/loyalty-campaigns.md):

    1. the pool is every entry as (entry id, customer id), sorted by entry id;
    2. entries are ordered by SHA-256(`<seed>:<entry id>`) hex, ascending (ties by entry id);
    3. walking that order, an entry wins unless its customer already won, until `winners` won.

    Each entry is a ticket, so more entries mean more chances; a customer wins at most once.
    Any language with SHA-256 recomputes it from the recorded seed and pool.
    """
    ordered = sorted(pool, key=lambda e: e[0])
    shuffled = sorted(ordered, key=lambda e: (draw_rank(seed, e[0]), e[0]))
    won: list[Winner] = []
    seen: set[UUID] = set()
    for entry_id, customer_id in shuffled:
        if len(won) >= winners:
            break
        if customer_id in seen:
            continue
        seen.add(customer_id)
        won.append(Winner(entry_id=entry_id, customer_id=customer_id))
    return won


def check_seed(value: str) -> str:
    if not 1 <= len(value) <= 256 or not value.isprintable():
        raise InvalidInput("a seed is 1-256 printable characters", field="seed")
    return value


# -- events --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignEntered(DomainEvent):
    """A customer entered a campaign (once per entry; a replayed Idempotency-Key is not a new
    entry). Earning rules may award fixed points for `campaign_entered`."""

    name: ClassVar[str] = "campaign.entered"
    campaign_id: UUID
    entry_id: UUID
    customer_id: UUID
    entered_at: datetime
    points_awarded: int | None
