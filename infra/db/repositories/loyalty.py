"""The loyalty area in a tenant schema (Core SQL). Writers of a member's points lock its row first
(see domain.loyalty.services); the expiry job locks lots only, skipping any a writer holds."""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from sqlalchemy import BigInteger, Text, and_, bindparam, case, func, literal, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import Uuid

from domain.loyalty.model import (
    EntryKind,
    LedgerEntry,
    Lot,
    LotDebit,
    Member,
    MemberStatus,
    Program,
    TierBasis,
    TierChange,
)
from domain.loyalty.ports import EntryFilter, ExpiredLot, LedgerMismatch, LedgerTotals, OrderPoints
from domain.loyalty.rewards import Redemption, RedemptionStatus, Reward
from domain.loyalty.rules import EarningRule, EventFacts, LineFacts, OrderFacts
from domain.shared.pagination import PageRequest
from infra.db.raw import RawSql
from infra.db.repositories.loyalty_codec import (
    program_from_json,
    program_to_json,
    reward_from_json,
    reward_to_json,
    rule_from_json,
    rule_to_json,
)
from infra.db.tables.loyalty import (
    loyalty_earning_rules,
    loyalty_entries,
    loyalty_lot_debits,
    loyalty_lots,
    loyalty_members,
    loyalty_programs,
    loyalty_redemptions,
    loyalty_rewards,
    loyalty_tier_changes,
)
from infra.db.tables.tenant import customers, events, orders, products

P, R, M = loyalty_programs.c, loyalty_earning_rules.c, loyalty_members.c
E, L, D = loyalty_entries.c, loyalty_lots.c, loyalty_lot_debits.c
T, W, X = loyalty_tier_changes.c, loyalty_rewards.c, loyalty_redemptions.c
_MEMBER_COLUMNS = [M.id, M.program_id, M.customer_id, M.tier, M.tier_since, M.lifetime_points, M.debt,
                   M.status, M.enrolled_at, M.version]


def _program(r: Any) -> Program:
    return Program(id=r.id, terms=_cached("program", r.id, r.version, program_from_json, r.terms),
                   created_at=r.created_at,
                   updated_at=r.updated_at, version=r.version)


def _rule(r: Any) -> EarningRule:
    return EarningRule(id=r.id, program_id=r.program_id, terms=rule_from_json(r.terms),
                       created_at=r.created_at, updated_at=r.updated_at, version=r.version)


def _member(r: Any, prefix: str = "") -> Member:
    def get(name: str) -> Any:
        return getattr(r, prefix + name)

    return Member(id=get("id"), program_id=get("program_id"), customer_id=get("customer_id"),
                  tier=get("tier"),
                  tier_since=get("tier_since"), lifetime_points=int(get("lifetime_points")),
                  debt=int(get("debt")), status=MemberStatus(get("status")), enrolled_at=get("enrolled_at"),
                  version=get("version"))


def _lot(r: Any) -> Lot:
    return Lot(id=r.id, member_id=r.member_id, entry_id=r.entry_id, points=int(r.points),
               remaining=int(r.remaining), available_at=r.available_at, expires_at=r.expires_at,
               order_id=r.order_id)


def _entry(r: Any, debits: Sequence[LotDebit] = ()) -> LedgerEntry:
    return LedgerEntry(id=r.id, member_id=r.member_id, kind=EntryKind(r.kind), points=int(r.points),
                       reason=r.reason, occurred_at=r.occurred_at, idempotency_key=r.idempotency_key,
                       source_type=r.source_type, source_id=r.source_id, rule_id=r.rule_id, actor=r.actor,
                       debits=tuple(debits), detail=dict(r.detail or {}))


def _reward(r: Any) -> Reward:
    return Reward(id=r.id, program_id=r.program_id, terms=reward_from_json(r.terms, r.stock),
                  redeemed=r.redeemed, created_at=r.created_at, updated_at=r.updated_at, version=r.version)


def _redemption(r: Any) -> Redemption:
    return Redemption(id=r.id, member_id=r.member_id, reward_id=r.reward_id, points=int(r.points),
                      status=RedemptionStatus(r.status), entry_id=r.entry_id,
                      reserved_until=r.reserved_until, created_at=r.created_at, updated_at=r.updated_at,
                      release_entry_id=r.release_entry_id)


def _tier_change(r: Any) -> TierChange:
    return TierChange(id=r.id, member_id=r.member_id, from_tier=r.from_tier, to_tier=r.to_tier,
                      reason=r.reason, occurred_at=r.occurred_at, qualifying_value=int(r.qualifying_value))


def _entry_row(e: LedgerEntry) -> dict[str, Any]:
    return {"id": e.id, "member_id": e.member_id, "kind": e.kind.value, "points": e.points,
            "reason": e.reason, "occurred_at": e.occurred_at, "idempotency_key": e.idempotency_key,
            "source_type": e.source_type, "source_id": e.source_id, "rule_id": e.rule_id,
            "actor": e.actor, "detail": e.detail}


def _debit_rows(entries: Sequence[LedgerEntry]) -> list[dict[str, Any]]:
    return [{"entry_id": e.id, "lot_id": d.lot_id, "points": d.points} for e in entries for d in e.debits]


# The earn path runs for every order placed: its reads and its write are raw asyncpg (see
# infra/db/raw.py), one round trip each, and parsed terms are kept per (id, version), since a
# version's terms never change.
_ORDER_FACTS_SQL = """
SELECT o.customer_id, o.ordered_at, o.channel, o.total, o.shipping_total, o.status,
       (SELECT json_agg(json_build_array(l.sku, l.quantity, l.unit_price, p.category_path) ORDER BY l.line_no)
          FROM {s}.order_lines l LEFT JOIN {s}.products p ON p.sku = l.sku
         WHERE l.order_id = o.id)::text AS lines,
       NOT EXISTS (SELECT 1 FROM {s}.orders e
                    WHERE e.customer_id = o.customer_id AND e.status <> 'cancelled' AND e.id <> o.id
                      AND (e.ordered_at, e.id) < (o.ordered_at, o.id)) AS first
  FROM {s}.orders o WHERE o.id = $1"""
_EARNING_PROGRAMS_SQL = """
SELECT p.id, p.terms::text AS terms, p.version, p.created_at, p.updated_at,
       (SELECT json_agg(json_build_array(r.id, r.terms, r.created_at, r.updated_at, r.version))
          FROM {s}.loyalty_earning_rules r WHERE r.program_id = p.id)::text AS rules,
       m.id AS m_id, m.program_id AS m_program_id, m.customer_id AS m_customer_id, m.tier AS m_tier,
       m.tier_since AS m_tier_since, m.lifetime_points AS m_lifetime_points, m.debt AS m_debt,
       m.status AS m_status, m.enrolled_at AS m_enrolled_at, m.version AS m_version
  FROM {s}.loyalty_programs p
  LEFT JOIN {s}.loyalty_members m ON m.program_id = p.id AND m.customer_id = $1 AND m.status = 'active'
 WHERE p.status = 'active' ORDER BY p.id"""
# Points each capped rule earned the member since the start of its cap period, all rules in one
# statement (a period start of NULL: since the program began).
_RULE_USAGE_SQL = """
SELECT u.rule_id, COALESCE(sum(e.points), 0) AS used
  FROM unnest($2::uuid[], $3::timestamptz[]) AS u(rule_id, since)
  LEFT JOIN {s}.loyalty_entries e
    ON e.member_id = $1 AND e.rule_id = u.rule_id AND e.kind = 'earn'
   AND (u.since IS NULL OR e.occurred_at >= u.since)
 GROUP BY u.rule_id"""
_LOCK_MEMBER_SQL = """
SELECT m.id, m.program_id, m.customer_id, m.tier, m.tier_since, m.lifetime_points, m.debt, m.status,
       m.enrolled_at, m.version,
       EXISTS (SELECT 1 FROM {s}.loyalty_entries e
                WHERE e.member_id = m.id AND e.idempotency_key = $2) AS done
  FROM {s}.loyalty_members m WHERE m.id = $1 FOR UPDATE OF m"""
_WRITE_CREDIT_SQL = """
WITH new_entries AS (
  INSERT INTO {s}.loyalty_entries (id, member_id, kind, points, reason, occurred_at, idempotency_key,
                                   source_type, source_id, rule_id, actor, detail)
  SELECT t.id, $2, t.kind, t.points, t.reason, $3, t.key, t.source_type, t.source_id, t.rule_id, t.actor,
         t.detail::jsonb
    FROM unnest($1::uuid[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[],
                $10::uuid[], $11::text[], $12::text[])
      AS t(id, kind, points, reason, key, source_type, source_id, rule_id, actor, detail)
), new_lots AS (
  INSERT INTO {s}.loyalty_lots (id, member_id, entry_id, points, remaining, available_at, expires_at,
                                order_id)
  SELECT t.id, $2, t.entry_id, t.points, t.remaining, t.available_at, t.expires_at, t.order_id
    FROM unnest($13::uuid[], $14::uuid[], $15::bigint[], $16::bigint[], $17::timestamptz[],
                $18::timestamptz[], $19::uuid[])
      AS t(id, entry_id, points, remaining, available_at, expires_at, order_id)
)
UPDATE {s}.loyalty_members SET tier = $20, tier_since = $21, lifetime_points = $22, debt = $23,
       version = version + 1
 WHERE id = $2"""
_SAVE_MEMBER = update(loyalty_members).where(M.id == bindparam("member_id")).values(
    tier=bindparam("tier"), tier_since=bindparam("tier_since"), lifetime_points=bindparam("lifetime_points"),
    debt=bindparam("debt"), status=bindparam("status"), version=M.version + 1)
_TERMS_CACHE: dict[tuple[str, UUID, int], Any] = {}


def _cached(kind: str, ident: UUID, version: int, parse: Any, raw: Any) -> Any:
    key = (kind, ident, version)
    found = _TERMS_CACHE.get(key)
    if found is None:
        if len(_TERMS_CACHE) > 10_000:
            _TERMS_CACHE.clear()
        found = _TERMS_CACHE[key] = parse(raw)
    return found


def _rule_from_json_row(program_id: UUID, raw: Sequence[Any]) -> EarningRule:
    ident, terms, created, updated, version = raw
    rule_id = UUID(ident)
    return EarningRule(id=rule_id, program_id=program_id,
                       terms=_cached("rule", rule_id, version, rule_from_json, terms),
                       created_at=datetime.fromisoformat(created), updated_at=datetime.fromisoformat(updated),
                       version=version)


def _program_terms(raw: str) -> Any:
    return program_from_json(orjson.loads(raw))


def _member_record(r: asyncpg.Record, prefix: str = "") -> Member:
    return Member(id=r[prefix + "id"], program_id=r[prefix + "program_id"],
                  customer_id=r[prefix + "customer_id"], tier=r[prefix + "tier"],
                  tier_since=r[prefix + "tier_since"],
                  lifetime_points=int(r[prefix + "lifetime_points"]), debt=int(r[prefix + "debt"]),
                  status=MemberStatus(r[prefix + "status"]), enrolled_at=r[prefix + "enrolled_at"],
                  version=r[prefix + "version"])


class SqlLoyaltyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._raw = RawSql(conn)

    # -- programs ------------------------------------------------------------------------------
    async def add_program(self, program: Program) -> None:
        await self._conn.execute(loyalty_programs.insert().values(
            id=program.id, name=program.terms.name, currency=program.terms.currency,
            status=program.terms.status.value, terms=program_to_json(program.terms), version=program.version,
            created_at=program.created_at, updated_at=program.updated_at))

    async def get_program(self, program_id: UUID) -> Program | None:
        row = (await self._conn.execute(select(loyalty_programs).where(P.id == program_id))).first()
        return _program(row) if row else None

    async def list_programs(self, page: PageRequest) -> Sequence[Program]:
        query = select(loyalty_programs)
        if page.after is not None:
            query = query.where(P.id > page.after)
        rows = await self._conn.execute(query.order_by(P.id).limit(page.limit + 1))
        return [_program(r) for r in rows]

    async def update_program(self, program: Program, *, expected_version: int | None) -> bool:
        query = update(loyalty_programs).where(P.id == program.id)
        if expected_version is not None:
            query = query.where(P.version == expected_version)
        result = await self._conn.execute(query.values(
            name=program.terms.name, status=program.terms.status.value, terms=program_to_json(program.terms),
            version=program.version, updated_at=program.updated_at))
        return bool(result.rowcount)

    async def active_programs(self) -> Sequence[Program]:
        rows = await self._conn.execute(select(loyalty_programs).where(P.status == "active").order_by(P.id))
        return [_program(r) for r in rows]

    # -- earning rules -------------------------------------------------------------------------
    async def add_rule(self, rule: EarningRule) -> None:
        await self._conn.execute(loyalty_earning_rules.insert().values(
            id=rule.id, program_id=rule.program_id, terms=rule_to_json(rule.terms), version=rule.version,
            created_at=rule.created_at, updated_at=rule.updated_at))

    async def get_rule(self, program_id: UUID, rule_id: UUID) -> EarningRule | None:
        row = (await self._conn.execute(select(loyalty_earning_rules).where(
            R.id == rule_id, R.program_id == program_id))).first()
        return _rule(row) if row else None

    async def rules_of(self, program_id: UUID) -> Sequence[EarningRule]:
        rows = await self._conn.execute(select(loyalty_earning_rules).where(
            R.program_id == program_id).order_by(R.id))
        return [_rule(r) for r in rows]

    async def update_rule(self, rule: EarningRule, *, expected_version: int | None) -> bool:
        query = update(loyalty_earning_rules).where(R.id == rule.id)
        if expected_version is not None:
            query = query.where(R.version == expected_version)
        result = await self._conn.execute(query.values(
            terms=rule_to_json(rule.terms), version=rule.version, updated_at=rule.updated_at))
        return bool(result.rowcount)

    async def delete_rule(self, program_id: UUID, rule_id: UUID) -> bool:
        result = await self._conn.execute(loyalty_earning_rules.delete().where(
            R.id == rule_id, R.program_id == program_id))
        return bool(result.rowcount)

    # -- members -------------------------------------------------------------------------------
    async def add_member(self, member: Member) -> Member:
        inserted = (await self._conn.execute(insert(loyalty_members).values(
            id=member.id, program_id=member.program_id, customer_id=member.customer_id, tier=member.tier,
            tier_since=member.tier_since, lifetime_points=member.lifetime_points, debt=member.debt,
            status=member.status.value, enrolled_at=member.enrolled_at, version=member.version,
        ).on_conflict_do_nothing().returning(*_MEMBER_COLUMNS))).first()
        if inserted is not None:
            return _member(inserted)
        existing = await self.find_member(member.program_id, member.customer_id)
        assert existing is not None
        return existing

    async def get_member(self, member_id: UUID) -> Member | None:
        row = (await self._conn.execute(select(*_MEMBER_COLUMNS).where(M.id == member_id))).first()
        return _member(row) if row else None

    async def lock_member(self, member_id: UUID) -> Member | None:
        row = (await self._conn.execute(select(*_MEMBER_COLUMNS).where(M.id == member_id)
                                        .with_for_update())).first()
        return _member(row) if row else None

    async def find_member(self, program_id: UUID, customer_id: UUID) -> Member | None:
        row = (await self._conn.execute(select(*_MEMBER_COLUMNS).where(
            M.program_id == program_id, M.customer_id == customer_id))).first()
        return _member(row) if row else None

    async def memberships(self, customer_id: UUID) -> Sequence[Member]:
        rows = await self._conn.execute(select(*_MEMBER_COLUMNS).where(
            M.customer_id == customer_id, M.status == "active").order_by(M.program_id))
        return [_member(r) for r in rows]

    async def list_members(self, program_id: UUID, customer_id: UUID | None,
                           page: PageRequest) -> Sequence[Member]:
        query = select(*_MEMBER_COLUMNS).where(M.program_id == program_id)
        if customer_id is not None:
            query = query.where(M.customer_id == customer_id)
        if page.after is not None:
            query = query.where(M.id > page.after)
        rows = await self._conn.execute(query.order_by(M.id).limit(page.limit + 1))
        return [_member(r) for r in rows]

    async def save_member(self, member: Member) -> None:
        await self._conn.execute(_SAVE_MEMBER, {
            "member_id": member.id, "tier": member.tier, "tier_since": member.tier_since,
            "lifetime_points": member.lifetime_points, "debt": member.debt, "status": member.status.value})

    async def birthday_members(self, program_id: UUID, today: date) -> Sequence[Member]:
        born = customers.c.birth_date
        on_day = and_(func.extract("month", born) == today.month, func.extract("day", born) == today.day)
        if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
            on_day = or_(on_day, and_(func.extract("month", born) == 2, func.extract("day", born) == 29))
        rows = await self._conn.execute(select(*_MEMBER_COLUMNS).select_from(
            loyalty_members.join(customers, customers.c.id == M.customer_id)).where(
            M.program_id == program_id, M.status == "active", customers.c.status == "active",
            born.is_not(None), on_day).order_by(M.id))
        return [_member(r) for r in rows]

    async def members_holding_tier(self, program_id: UUID, after: UUID | None,
                                   limit: int) -> Sequence[Member]:
        query = select(*_MEMBER_COLUMNS).where(M.program_id == program_id, M.status == "active",
                                               M.tier.is_not(None))
        if after is not None:
            query = query.where(M.id > after)
        rows = await self._conn.execute(query.order_by(M.id).limit(limit))
        return [_member(r) for r in rows]

    # -- lots and the ledger -------------------------------------------------------------------
    async def open_lots(self, member_id: UUID) -> list[Lot]:
        rows = await self._conn.execute(select(loyalty_lots).where(
            L.member_id == member_id, L.remaining > 0).order_by(L.id).with_for_update())
        return [_lot(r) for r in rows]

    async def lock_lots(self, lot_ids: Sequence[UUID]) -> list[Lot]:
        if not lot_ids:
            return []
        rows = await self._conn.execute(select(loyalty_lots).where(L.id.in_(list(lot_ids)))
                                        .order_by(L.id).with_for_update())
        return [_lot(r) for r in rows]

    async def all_lots(self, member_id: UUID) -> Sequence[Lot]:
        """Lots that still hold points (balances need nothing else)."""
        rows = await self._conn.execute(select(loyalty_lots).where(
            L.member_id == member_id, L.remaining > 0))
        return [_lot(r) for r in rows]

    async def entry_by_key(self, member_id: UUID, key: str) -> LedgerEntry | None:
        row = (await self._conn.execute(select(loyalty_entries).where(
            E.member_id == member_id, E.idempotency_key == key))).first()
        return _entry(row) if row else None

    async def entry(self, entry_id: UUID) -> LedgerEntry | None:
        row = (await self._conn.execute(select(loyalty_entries).where(E.id == entry_id))).first()
        if row is None:
            return None
        debits = await self._conn.execute(select(D.lot_id, D.points).where(D.entry_id == entry_id)
                                          .order_by(D.lot_id))
        return _entry(row, [LotDebit(lot_id=d.lot_id, points=int(d.points)) for d in debits])

    async def write(self, entries: Sequence[LedgerEntry], new_lots: Sequence[Lot],
                    remaining: Mapping[UUID, int]) -> None:
        if entries:
            await self._conn.execute(loyalty_entries.insert(), [_entry_row(e) for e in entries])
        if new_lots:
            await self._conn.execute(loyalty_lots.insert(), [
                {"id": x.id, "member_id": x.member_id, "entry_id": x.entry_id, "points": x.points,
                 "remaining": x.remaining, "available_at": x.available_at, "expires_at": x.expires_at,
                 "order_id": x.order_id} for x in new_lots])
        debits = _debit_rows(entries)
        if debits:
            await self._conn.execute(loyalty_lot_debits.insert(), debits)
        if remaining:
            await self._conn.execute(
                update(loyalty_lots).where(L.id == bindparam("lot")).values(remaining=bindparam("left")),
                [{"lot": k, "left": v} for k, v in remaining.items()])

    async def order_points(self, member_id: UUID, order_id: UUID) -> OrderPoints:
        source = str(order_id)
        row = (await self._conn.execute(select(
            func.coalesce(func.sum(E.points).filter(E.kind == "earn"), 0).label("earned"),
            func.coalesce(func.sum(E.detail["reverses"].astext.cast(BigInteger)).filter(
                E.kind == "reverse"), 0).label("reversed"),
        ).where(E.member_id == member_id, E.source_type == "order", E.source_id == source))).one()
        lots = await self._conn.execute(select(L.id).where(L.member_id == member_id, L.order_id == order_id))
        return OrderPoints(earned=int(row.earned), reversed=int(row.reversed),
                           lot_ids=tuple(r.id for r in lots))

    async def totals(self, member_id: UUID) -> LedgerTotals:
        row = (await self._conn.execute(select(
            func.coalesce(func.sum(E.points).filter(
                or_(E.kind == "redeem", and_(E.kind == "reverse", E.source_type == "redemption"))), 0
            ).label("spent"),
            func.coalesce(func.sum(E.points).filter(E.kind == "expire"), 0).label("expired"),
        ).where(E.member_id == member_id))).one()
        return LedgerTotals(spent=-int(row.spent), expired=-int(row.expired))

    async def list_entries(self, member_id: UUID, filters: EntryFilter,
                           page: PageRequest) -> Sequence[LedgerEntry]:
        """Newest first (the ledger is read like a statement)."""
        query = select(loyalty_entries).where(E.member_id == member_id)
        if filters.kind is not None:
            query = query.where(E.kind == filters.kind.value)
        if filters.occurred_after is not None:
            query = query.where(E.occurred_at >= filters.occurred_after)
        if filters.occurred_before is not None:
            query = query.where(E.occurred_at < filters.occurred_before)
        if filters.source_type is not None:
            query = query.where(E.source_type == filters.source_type)
        if filters.source_id is not None:
            query = query.where(E.source_id == filters.source_id)
        if page.after is not None:
            query = query.where(E.id < page.after)
        rows = (await self._conn.execute(query.order_by(E.id.desc()).limit(page.limit + 1))).all()
        ids = [r.id for r in rows]
        by_entry: dict[UUID, list[LotDebit]] = {}
        if ids:
            debits = await self._conn.execute(select(D.entry_id, D.lot_id, D.points).where(
                D.entry_id.in_(ids)).order_by(D.entry_id, D.lot_id))
            for d in debits:
                by_entry.setdefault(d.entry_id, []).append(LotDebit(lot_id=d.lot_id, points=int(d.points)))
        return [_entry(r, by_entry.get(r.id, ())) for r in rows]

    async def rule_usage(self, member_id: UUID, since: Mapping[UUID, datetime | None]) -> dict[UUID, int]:
        rule_ids = list(since)
        rows = await self._raw.fetch(_RULE_USAGE_SQL, member_id, rule_ids, [since[r] for r in rule_ids])
        return {r["rule_id"]: int(r["used"]) for r in rows}

    async def qualifying_value(self, member: Member, basis: TierBasis, since: datetime | None) -> int:
        if basis is TierBasis.SPEND:
            query = select(func.coalesce(func.sum(orders.c.total - orders.c.refunded_total), 0)).where(
                orders.c.customer_id == member.customer_id, orders.c.status != "cancelled")
            if since is not None:
                query = query.where(orders.c.ordered_at >= since)
            return int((await self._conn.execute(query)).scalar_one())
        earned = func.sum(E.points).filter(E.kind == "earn")
        reversed_ = func.sum(E.detail["reverses"].astext.cast(BigInteger)).filter(
            E.kind == "reverse", E.source_type == "order")
        query = select(func.coalesce(earned, 0) - func.coalesce(reversed_, 0)).where(E.member_id == member.id)
        if since is not None:
            query = query.where(E.occurred_at >= since)
        return int((await self._conn.execute(query)).scalar_one())

    async def add_tier_change(self, change: TierChange) -> None:
        await self._conn.execute(loyalty_tier_changes.insert().values(
            id=change.id, member_id=change.member_id, from_tier=change.from_tier, to_tier=change.to_tier,
            reason=change.reason, occurred_at=change.occurred_at, qualifying_value=change.qualifying_value))

    async def tier_changes(self, member_id: UUID, page: PageRequest) -> Sequence[TierChange]:
        query = select(loyalty_tier_changes).where(T.member_id == member_id)
        if page.after is not None:
            query = query.where(T.id < page.after)
        rows = await self._conn.execute(query.order_by(T.id.desc()).limit(page.limit + 1))
        return [_tier_change(r) for r in rows]

    async def expire_due(self, now: datetime, limit: int,
                         after: tuple[datetime, UUID] | None = None) -> Sequence[ExpiredLot]:
        query = select(L.id, L.member_id, L.remaining, L.expires_at).where(
            L.remaining > 0, L.expires_at.is_not(None), L.expires_at <= now)
        if after is not None:
            # Keyset: lots expired by earlier batches leave dead index entries behind until vacuum;
            # starting after the last one keeps every batch from scanning them again.
            last = tuple_(literal(after[0], type_=L.expires_at.type), literal(after[1], type_=Uuid()))
            query = query.where(tuple_(L.expires_at, L.id) > last)
        rows = await self._conn.execute(query.order_by(L.expires_at, L.id).limit(limit)
                                        .with_for_update(skip_locked=True))
        return [ExpiredLot(id=r.id, member_id=r.member_id, points=int(r.remaining), expires_at=r.expires_at)
                for r in rows]

    async def write_expiries(self, entries: Sequence[LedgerEntry]) -> None:
        """A batch of expire entries in three statements whatever its size: the rows travel as
        one array per column and are unnested server-side (no per-row parameter processing)."""
        if not entries:
            return
        first = entries[0]
        assert all(len(e.debits) == 1 and e.reason == first.reason and e.occurred_at == first.occurred_at
                   for e in entries), "expire entries: one lot each, one run"
        src = func.unnest(
            bindparam("ids", [e.id for e in entries], type_=ARRAY(Uuid())),
            bindparam("members", [e.member_id for e in entries], type_=ARRAY(Uuid())),
            bindparam("lots", [e.debits[0].lot_id for e in entries], type_=ARRAY(Uuid())),
            bindparam("points", [e.debits[0].points for e in entries], type_=ARRAY(BigInteger())),
            bindparam("keys", [e.idempotency_key for e in entries], type_=ARRAY(Text())),
        ).table_valued("id", "member_id", "lot_id", "points", "key").render_derived(name="src")
        await self._conn.execute(insert(loyalty_entries).from_select(
            ["id", "member_id", "kind", "points", "reason", "occurred_at", "idempotency_key", "source_type",
             "source_id", "detail"],
            select(src.c.id, src.c.member_id, literal("expire"), -src.c.points, literal(first.reason),
                   literal(first.occurred_at, type_=E.occurred_at.type), src.c.key,
                   literal(first.source_type), literal(first.source_id),
                   literal({}, type_=E.detail.type))))
        await self._conn.execute(insert(loyalty_lot_debits).from_select(
            ["entry_id", "lot_id", "points"], select(src.c.id, src.c.lot_id, src.c.points)))
        await self._conn.execute(update(loyalty_lots).where(
            L.id == func.any(bindparam("lot_ids", [e.debits[0].lot_id for e in entries],
                                       type_=ARRAY(Uuid())))).values(remaining=0))

    async def mismatches(self) -> Sequence[LedgerMismatch]:
        ledger = select(E.member_id.label("member_id"), func.sum(E.points).label("s")).group_by(
            E.member_id).subquery()
        lots = select(L.member_id.label("member_id"), func.sum(L.remaining).label("s")).group_by(
            L.member_id).subquery()
        query = select(M.id, func.coalesce(ledger.c.s, 0).label("ledger_sum"),
                       (func.coalesce(lots.c.s, 0) - M.debt).label("lots_minus_debt")).select_from(
            loyalty_members.outerjoin(ledger, ledger.c.member_id == M.id)
            .outerjoin(lots, lots.c.member_id == M.id)).where(
            func.coalesce(ledger.c.s, 0) != func.coalesce(lots.c.s, 0) - M.debt)
        rows = await self._conn.execute(query.order_by(M.id))
        return [LedgerMismatch(member_id=r.id, ledger_sum=int(r.ledger_sum),
                               lots_minus_debt=int(r.lots_minus_debt)) for r in rows]

    async def move_memberships(self, source_customer: UUID, target_customer: UUID) -> dict[str, int]:
        sources = await self.memberships(source_customer)
        moved = 0
        for source in sources:
            target = await self.find_member(source.program_id, target_customer)
            if target is None:
                await self._conn.execute(update(loyalty_members).where(M.id == source.id).values(
                    customer_id=target_customer, version=M.version + 1))
                moved += 1
                continue
            # Both were members: the source member's history joins the target member's. An
            # idempotency key both hold (the same order twice) keeps the target's; the moved
            # entry's key is suffixed so nothing is lost and nothing collides.
            await self._conn.execute(update(loyalty_entries).where(
                E.member_id == source.id,
                E.idempotency_key.in_(select(E.idempotency_key).where(E.member_id == target.id)
                                      .scalar_subquery())).values(
                idempotency_key=E.idempotency_key + literal(f":merged:{source.id}")))
            for table in (loyalty_entries, loyalty_lots, loyalty_redemptions, loyalty_tier_changes):
                await self._conn.execute(update(table).where(table.c.member_id == source.id).values(
                    member_id=target.id))
            await self._conn.execute(update(loyalty_members).where(M.id == target.id).values(
                lifetime_points=M.lifetime_points + source.lifetime_points, debt=M.debt + source.debt,
                version=M.version + 1))
            await self._conn.execute(update(loyalty_members).where(M.id == source.id).values(
                status="merged", merged_into=target.id, lifetime_points=0, debt=0, version=M.version + 1))
            moved += 1
        return {"loyalty_members": moved}

    # -- what the rules look at ----------------------------------------------------------------
    async def order_facts(self, order_id: UUID) -> tuple[OrderFacts, UUID, str] | None:
        """The order as the rules see it, its customer and status, in one statement: lines with
        their catalogue categories, and whether the customer has an earlier (not cancelled) order."""
        row = await self._raw.fetchrow(_ORDER_FACTS_SQL, order_id)
        if row is None:
            return None
        facts = OrderFacts(
            ordered_at=row["ordered_at"], channel=row["channel"], total=int(row["total"]),
            shipping_total=int(row["shipping_total"]), first_purchase=bool(row["first"]),
            lines=tuple(LineFacts(sku=sku, quantity=q, amount=q * price, category_path=tuple(path or ()))
                        for sku, q, price, path in orjson.loads(row["lines"] or "[]")))
        return facts, row["customer_id"], row["status"]

    async def earning_programs(self, customer_id: UUID) -> Sequence[tuple[Program, Sequence[EarningRule],
                                                                          Member | None]]:
        """Every active program with its rules and this customer's active membership (if any), in
        one statement."""
        out: list[tuple[Program, Sequence[EarningRule], Member | None]] = []
        for r in await self._raw.fetch(_EARNING_PROGRAMS_SQL, customer_id):
            terms = _cached("program", r["id"], r["version"], _program_terms, r["terms"])
            program = Program(id=r["id"], terms=terms, created_at=r["created_at"], updated_at=r["updated_at"],
                              version=r["version"])
            found = [_rule_from_json_row(program.id, raw) for raw in orjson.loads(r["rules"] or "[]")]
            out.append((program, found, _member_record(r, "m_") if r["m_id"] is not None else None))
        return out

    async def lock_member_unless_done(self, member_id: UUID, key: str) -> tuple[Member | None, bool]:
        """Lock the member and say whether it already holds an entry with this idempotency key."""
        row = await self._raw.fetchrow(_LOCK_MEMBER_SQL, member_id, key)
        return (_member_record(row), bool(row["done"])) if row else (None, False)

    async def write_credit(self, entries: Sequence[LedgerEntry], new_lots: Sequence[Lot],
                           member: Member) -> None:
        """Crediting entries (no debits) of one member at one instant, their lots, and the member's
        new totals and tier: one statement."""
        assert all(e.member_id == member.id and not e.debits and e.occurred_at == entries[0].occurred_at
                   for e in entries)
        await self._raw.execute(
            _WRITE_CREDIT_SQL, [e.id for e in entries], member.id, entries[0].occurred_at,
            [e.kind.value for e in entries], [e.points for e in entries], [e.reason for e in entries],
            [e.idempotency_key for e in entries], [e.source_type for e in entries],
            [e.source_id for e in entries], [e.rule_id for e in entries], [e.actor for e in entries],
            [orjson.dumps(e.detail).decode() for e in entries],
            [x.id for x in new_lots], [x.entry_id for x in new_lots], [x.points for x in new_lots],
            [x.remaining for x in new_lots], [x.available_at for x in new_lots],
            [x.expires_at for x in new_lots],
            [x.order_id for x in new_lots],
            member.tier, member.tier_since, member.lifetime_points, member.debt)

    async def line_categories(self, skus: Sequence[str]) -> dict[str, tuple[str, ...]]:
        if not skus:
            return {}
        rows = await self._conn.execute(select(products.c.sku, products.c.category_path).where(
            products.c.sku == func.any(bindparam("skus", sorted(set(skus)), type_=ARRAY(Text)))))
        return {r.sku: tuple(r.category_path or ()) for r in rows}

    async def received_events(self, received_at: datetime, customer_ids: Sequence[UUID],
                              types: Sequence[str]) -> Sequence[EventFacts]:
        if not customer_ids or not types:
            return []
        ev = events.c
        rows = await self._conn.execute(select(ev.id, ev.event_id, ev.customer_id, ev.type, ev.occurred_at,
                                               ev.touchpoint_channel).where(
            ev.customer_id.in_(list(customer_ids)), ev.received_at == received_at,
            ev.type.in_(list(types))).order_by(ev.id))
        # The stored id is the de-duplication key when the sender gave no event_id of its own.
        return [EventFacts(event_id=r.event_id or str(r.id), customer_id=r.customer_id, type=r.type,
                           occurred_at=r.occurred_at, channel=r.touchpoint_channel) for r in rows]

    # -- rewards and redemptions ---------------------------------------------------------------
    async def add_reward(self, reward: Reward) -> None:
        await self._conn.execute(loyalty_rewards.insert().values(
            id=reward.id, program_id=reward.program_id, terms=reward_to_json(reward.terms),
            kind=reward.terms.kind.value, stock=reward.terms.stock, redeemed=reward.redeemed,
            version=reward.version, created_at=reward.created_at, updated_at=reward.updated_at))

    async def get_reward(self, reward_id: UUID) -> Reward | None:
        row = (await self._conn.execute(select(loyalty_rewards).where(W.id == reward_id))).first()
        return _reward(row) if row else None

    async def list_rewards(self, program_id: UUID, page: PageRequest) -> Sequence[Reward]:
        query = select(loyalty_rewards).where(W.program_id == program_id)
        if page.after is not None:
            query = query.where(W.id > page.after)
        rows = await self._conn.execute(query.order_by(W.id).limit(page.limit + 1))
        return [_reward(r) for r in rows]

    async def update_reward(self, reward: Reward, *, expected_version: int | None) -> bool:
        query = update(loyalty_rewards).where(W.id == reward.id)
        if expected_version is not None:
            query = query.where(W.version == expected_version)
        result = await self._conn.execute(query.values(
            terms=reward_to_json(reward.terms), kind=reward.terms.kind.value, stock=reward.terms.stock,
            version=reward.version, updated_at=reward.updated_at))
        return bool(result.rowcount)

    async def take_stock(self, reward_id: UUID, quantity: int) -> bool:
        result = await self._conn.execute(update(loyalty_rewards).where(
            W.id == reward_id, or_(W.stock.is_(None), W.stock >= quantity)).values(
            stock=case((W.stock.is_(None), None), else_=W.stock - quantity),
            redeemed=W.redeemed + quantity))
        return bool(result.rowcount)

    async def return_stock(self, reward_id: UUID, quantity: int) -> None:
        await self._conn.execute(update(loyalty_rewards).where(W.id == reward_id).values(
            stock=W.stock + quantity, redeemed=W.redeemed - quantity))

    async def redemptions_count(self, member_id: UUID, reward_id: UUID) -> int:
        return int((await self._conn.execute(select(func.count()).where(
            X.member_id == member_id, X.reward_id == reward_id,
            X.status.in_(["reserved", "confirmed"])))).scalar_one())

    async def add_redemption(self, redemption: Redemption) -> None:
        await self._conn.execute(loyalty_redemptions.insert().values(
            id=redemption.id, member_id=redemption.member_id, reward_id=redemption.reward_id,
            points=redemption.points, status=redemption.status.value, entry_id=redemption.entry_id,
            release_entry_id=redemption.release_entry_id, reserved_until=redemption.reserved_until,
            created_at=redemption.created_at, updated_at=redemption.updated_at))

    async def get_redemption(self, redemption_id: UUID, *, lock: bool = False) -> Redemption | None:
        query = select(loyalty_redemptions).where(X.id == redemption_id)
        if lock:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return _redemption(row) if row else None

    async def save_redemption(self, redemption: Redemption) -> None:
        await self._conn.execute(update(loyalty_redemptions).where(X.id == redemption.id).values(
            status=redemption.status.value, release_entry_id=redemption.release_entry_id,
            updated_at=redemption.updated_at))

    async def list_redemptions(self, member_id: UUID, page: PageRequest) -> Sequence[Redemption]:
        query = select(loyalty_redemptions).where(X.member_id == member_id)
        if page.after is not None:
            query = query.where(X.id < page.after)
        rows = await self._conn.execute(query.order_by(X.id.desc()).limit(page.limit + 1))
        return [_redemption(r) for r in rows]

    async def lapsed_reservations(self, now: datetime, limit: int) -> Sequence[Redemption]:
        rows = await self._conn.execute(select(loyalty_redemptions).where(
            X.status == "reserved", X.reserved_until <= now).order_by(X.reserved_until, X.id).limit(limit))
        return [_redemption(r) for r in rows]

