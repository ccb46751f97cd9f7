"""Entry campaigns in a tenant schema (Core SQL): campaigns, entries, codes, receipts, draws."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import Text, bindparam, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.customers.model import CustomerStatus
from domain.customers.services import MAX_MERGE_HOPS
from domain.loyalty.campaign_model import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    Draw,
    Entry,
    EntryConsent,
    PointsAward,
    PurchasedLine,
    Requirement,
    Winner,
)
from domain.loyalty.campaign_ports import CampaignFilter, CodeUse
from domain.orders.model import OrderStatus
from domain.shared.pagination import PageRequest
from infra.db.tables.loyalty_campaigns import (
    entry_campaign_codes,
    entry_campaign_draws,
    entry_campaign_entries,
    entry_campaign_receipts,
    entry_campaigns,
)
from infra.db.tables.tenant import customers, order_lines, orders, products

c = entry_campaigns.c
e = entry_campaign_entries.c
k = entry_campaign_codes.c
d = entry_campaign_draws.c


def _campaign_row(x: Campaign) -> dict[str, Any]:
    return {"id": x.id, "name": x.name, "description": x.description, "kind": x.kind.value,
            "status": x.status.value, "starts_at": x.starts_at, "ends_at": x.ends_at,
            "entry_limit": x.entry_limit,
            "requirement": x.requirement.to_json() if x.requirement else None,
            "award": x.award.to_json() if x.award else None, "winners": x.winners,
            "version": x.version, "created_at": x.created_at, "updated_at": x.updated_at}


def _campaign(r: Any) -> Campaign:
    return Campaign(id=r.id, name=r.name, description=r.description, kind=CampaignKind(r.kind),
                    status=CampaignStatus(r.status), starts_at=r.starts_at, ends_at=r.ends_at,
                    entry_limit=r.entry_limit,
                    requirement=Requirement.from_json(r.requirement) if r.requirement else None,
                    award=PointsAward.from_json(r.award) if r.award else None, winners=r.winners,
                    version=r.version, created_at=r.created_at, updated_at=r.updated_at)


def _entry(r: Any) -> Entry:
    return Entry(id=r.id, campaign_id=r.campaign_id, customer_id=r.customer_id, entered_at=r.entered_at,
                 proof=dict(r.proof), points_awarded=r.points_awarded,
                 consents=tuple(EntryConsent(channel=x["channel"], status=x["status"]) for x in r.consents))


def _draw(r: Any) -> Draw:
    return Draw(id=r.id, campaign_id=r.campaign_id, seed=r.seed, seed_source=r.seed_source,
                algorithm=r.algorithm, winners_wanted=r.winners_wanted, entry_ids=tuple(r.entry_ids),
                entry_customer_ids=tuple(r.entry_customer_ids),
                winners=tuple(Winner(entry_id=a, customer_id=b)
                              for a, b in zip(r.winner_entry_ids, r.winner_customer_ids, strict=True)),
                drawn_at=r.drawn_at, actor=r.actor, redraw_of=r.redraw_of)


class SqlEntryCampaignRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, campaign: Campaign) -> None:
        await self._conn.execute(entry_campaigns.insert().values(**_campaign_row(campaign)))

    async def get(self, campaign_id: UUID, *,
                  lock: Literal["share", "update"] | None = None) -> Campaign | None:
        query = select(entry_campaigns).where(c.id == campaign_id)
        if lock == "share":
            query = query.with_for_update(read=True)
        elif lock == "update":
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return _campaign(row) if row else None

    async def update(self, campaign: Campaign) -> None:
        row = _campaign_row(campaign)
        del row["id"], row["created_at"]
        await self._conn.execute(update(entry_campaigns).where(c.id == campaign.id).values(**row))

    async def search(self, filters: CampaignFilter, page: PageRequest) -> list[Campaign]:
        query = select(entry_campaigns)
        if filters.status is not None:
            query = query.where(c.status == filters.status.value)
        if filters.kind is not None:
            query = query.where(c.kind == filters.kind.value)
        if page.after is not None:
            query = query.where(c.id > page.after)
        rows = await self._conn.execute(query.order_by(c.id).limit(page.limit + 1))
        return [_campaign(r) for r in rows]

    async def has_entries(self, campaign_id: UUID) -> bool:
        return bool((await self._conn.execute(select(exists().where(e.campaign_id == campaign_id)))).scalar())

    async def count_entries(self, campaign_id: UUID, customer_ids: Sequence[UUID]) -> int:
        return int((await self._conn.execute(select(func.count()).select_from(entry_campaign_entries).where(
            e.campaign_id == campaign_id, e.customer_id.in_(list(customer_ids))))).scalar() or 0)

    async def add_entry(self, entry: Entry) -> None:
        await self._conn.execute(entry_campaign_entries.insert().values(
            id=entry.id, campaign_id=entry.campaign_id, customer_id=entry.customer_id,
            entered_at=entry.entered_at, proof=entry.proof, points_awarded=entry.points_awarded,
            consents=[{"channel": x.channel, "status": x.status} for x in entry.consents]))

    async def entries(self, campaign_id: UUID, customer_id: UUID | None, page: PageRequest) -> list[Entry]:
        query = select(entry_campaign_entries).where(e.campaign_id == campaign_id)
        if customer_id is not None:
            query = query.where(e.customer_id == customer_id)
        if page.after is not None:
            query = query.where(e.id > page.after)
        rows = await self._conn.execute(query.order_by(e.id).limit(page.limit + 1))
        return [_entry(r) for r in rows]

    async def draw_pool(self, campaign_id: UUID) -> list[tuple[UUID, UUID]]:
        rows = (await self._conn.execute(select(e.id, e.customer_id).where(
            e.campaign_id == campaign_id).order_by(e.id))).all()
        # Entrants merged into another customer since they entered count as that customer (one
        # win per person): follow each merge chain to its end with one recursive query.
        cu, nxt = customers.c, customers.alias("nxt")
        entrants = select(e.customer_id).where(e.campaign_id == campaign_id).distinct()
        chain = select(cu.id.label("start"), cu.id.label("cur"), literal(0).label("depth")).where(
            cu.id.in_(entrants)).cte("chain", recursive=True)
        chain = chain.union_all(
            select(chain.c.start, nxt.c.merged_into, chain.c.depth + 1)
            .join_from(chain, nxt, nxt.c.id == chain.c.cur)
            .where(nxt.c.status == CustomerStatus.MERGED.value, nxt.c.merged_into.is_not(None),
                   chain.c.depth < MAX_MERGE_HOPS))
        final: dict[UUID, UUID] = {}
        # Ordered by depth, so each start's last row is the end of its chain.
        for r in await self._conn.execute(select(chain.c.start, chain.c.cur).order_by(chain.c.depth)):
            final[r.start] = r.cur
        return [(r.id, final.get(r.customer_id, r.customer_id)) for r in rows]

    async def add_codes(self, campaign_id: UUID, digests: Sequence[str], now: datetime) -> int:
        if not digests:
            return 0
        # One statement for up to 10,000 codes: the digests travel as one array and are unnested
        # server-side (the same SQL text for any count; no bind-parameter limit).
        codes = func.unnest(bindparam("digests", list(digests), type_=ARRAY(Text()))).table_valued(
            "code_hash").render_derived()
        query = (insert(entry_campaign_codes)
                 .from_select(["campaign_id", "code_hash", "created_at"],
                              select(bindparam("campaign", campaign_id, type_=c.id.type), codes.c.code_hash,
                                     bindparam("now", now, type_=k.created_at.type)))
                 .on_conflict_do_nothing(index_elements=["campaign_id", "code_hash"])
                 .returning(k.code_hash))
        return len((await self._conn.execute(query)).all())

    async def consume_code(self, campaign_id: UUID, digest: str, entry_id: UUID, now: datetime) -> CodeUse:
        # Conditional UPDATE: a concurrent entry with the same code blocks on the row until this
        # transaction ends, then re-reads it (READ COMMITTED) and matches nothing.
        taken = (await self._conn.execute(
            update(entry_campaign_codes)
            .where(k.campaign_id == campaign_id, k.code_hash == digest, k.entry_id.is_(None))
            .values(entry_id=entry_id, used_at=now).returning(k.code_hash))).first()
        if taken is not None:
            return CodeUse.CONSUMED
        known = (await self._conn.execute(select(exists().where(
            k.campaign_id == campaign_id, k.code_hash == digest)))).scalar()
        return CodeUse.ALREADY_USED if known else CodeUse.UNKNOWN

    async def claim_receipt(self, campaign_id: UUID, receipt_number: str, entry_id: UUID,
                            now: datetime) -> bool:
        inserted = (await self._conn.execute(
            insert(entry_campaign_receipts)
            .values(campaign_id=campaign_id, receipt_number=receipt_number, entry_id=entry_id, used_at=now)
            .on_conflict_do_nothing(index_elements=["campaign_id", "receipt_number"])
            .returning(entry_campaign_receipts.c.entry_id))).first()
        return inserted is not None

    async def purchased_lines(self, customer_id: UUID, starts_at: datetime,
                              ends_at: datetime) -> list[PurchasedLine]:
        o, ln, p = orders.c, order_lines.c, products.c
        query = (select(ln.order_id, ln.sku, ln.quantity, ln.refunded_quantity, ln.unit_price,
                        p.category_path)
                 .select_from(orders.join(order_lines, ln.order_id == o.id)
                              .outerjoin(products, p.sku == ln.sku))
                 .where(o.customer_id == customer_id, o.ordered_at >= starts_at, o.ordered_at < ends_at,
                        o.status.in_([OrderStatus.PLACED.value, OrderStatus.PARTIALLY_REFUNDED.value]))
                 .order_by(ln.order_id, ln.line_no))
        return [PurchasedLine(order_id=r.order_id, sku=r.sku, quantity=r.quantity,
                              refunded_quantity=r.refunded_quantity, unit_price=r.unit_price,
                              category_path=tuple(r.category_path or ()))
                for r in await self._conn.execute(query)]

    async def add_draw(self, draw: Draw) -> None:
        await self._conn.execute(entry_campaign_draws.insert().values(
            id=draw.id, campaign_id=draw.campaign_id, seed=draw.seed, seed_source=draw.seed_source,
            algorithm=draw.algorithm, winners_wanted=draw.winners_wanted, entry_ids=list(draw.entry_ids),
            entry_customer_ids=list(draw.entry_customer_ids),
            winner_entry_ids=[w.entry_id for w in draw.winners],
            winner_customer_ids=[w.customer_id for w in draw.winners],
            redraw_of=draw.redraw_of, actor=draw.actor, drawn_at=draw.drawn_at))

    async def latest_draw(self, campaign_id: UUID) -> Draw | None:
        row = (await self._conn.execute(select(entry_campaign_draws).where(
            d.campaign_id == campaign_id).order_by(d.id.desc()).limit(1))).first()
        return _draw(row) if row else None

