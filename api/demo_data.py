"""Sample data for the demo tenant: a small cosmetics shop with a few customers, orders, events
and consents, written through the same use cases the API uses (so it obeys the same rules)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from domain.auth.model import TenantRef
from domain.customers.model import CustomerRef
from domain.customers.ports import CustomerFilter
from domain.customers.services import create_customer, set_consent
from domain.events.services import ingest_events
from domain.loyalty.model import ExpiryPolicy, ProgramTerms, Tier
from domain.loyalty.redemptions import create_reward
from domain.loyalty.rewards import RewardKind, RewardTerms
from domain.loyalty.rules import RuleTerms
from domain.loyalty.services import create_program, create_rule, earn_for_order, enroll_member
from domain.orders.model import LineDraft, OrderDraft
from domain.orders.services import place_orders
from domain.products.services import upsert_products
from domain.shared.clock import Clock
from domain.shared.pagination import PageRequest

PRODUCTS = [
    {"sku": "LOTION-150", "name": "薬用化粧水 150ml", "category_path": ["skincare", "lotion"],
     "price": 3300, "cost": 900, "stock_quantity": 120},
    {"sku": "SERUM-30", "name": "美容液 30ml", "category_path": ["skincare", "serum"],
     "price": 5500, "cost": 1400, "stock_quantity": 40},
    {"sku": "CLEANSE-120", "name": "クレンジングジェル 120g", "category_path": ["skincare", "cleansing"],
     "price": 2200, "cost": 600, "stock_quantity": 0},
]

CUSTOMERS = [
    {"external_id": "D-0001", "email": "hanako.yamada@example.jp", "phone": "090-1234-5678",
     "family_name": "山田", "given_name": "花子", "family_name_kana": "ヤマダ", "given_name_kana": "ハナコ",
     "address": {"postal_code": "150-0001", "prefecture": "東京都", "city": "渋谷区"},
     "acquisition": {"channel": "instagram_ad", "stage": "pre_purchase"}, "tags": ["vip"]},
    {"external_id": "D-0002", "email": "taro.sato@example.jp", "family_name": "佐藤", "given_name": "太郎",
     "family_name_kana": "サトウ", "given_name_kana": "タロウ",
     "address": {"postal_code": "530-0001", "prefecture": "大阪", "city": "大阪市北区"},
     "acquisition": {"channel": "search", "stage": "pre_purchase"}},
    {"external_id": "D-0003", "line_user_id": "Ud0003demo", "family_name": "鈴木", "given_name": "美咲",
     "family_name_kana": "スズキ", "given_name_kana": "ミサキ",
     "acquisition": {"channel": "line", "stage": "post_purchase"}},
]

# (customer external id, days ago, [(sku, quantity)])
ORDERS = [
    ("D-0001", 200, [("LOTION-150", 1)]), ("D-0001", 140, [("LOTION-150", 1), ("SERUM-30", 1)]),
    ("D-0001", 60, [("SERUM-30", 2)]), ("D-0001", 10, [("LOTION-150", 2)]),
    ("D-0002", 300, [("CLEANSE-120", 1)]), ("D-0003", 20, [("LOTION-150", 1)]),
]


async def seed_demo(uow_factory: Any, clock: Clock, tenant: TenantRef) -> bool:
    """Seed once: returns False when the tenant already has customers."""
    async with uow_factory(tenant) as uow:
        if await uow.customers.search(_EVERYONE, PageRequest(limit=1)):
            return False
    await upsert_products(uow=uow_factory(tenant), clock=clock, default_currency=tenant.currency,
                          items=list(enumerate(PRODUCTS)))
    ids = {}
    for fields in CUSTOMERS:
        customer = await create_customer(uow=uow_factory(tenant), clock=clock, timezone=tenant.timezone,
                                         fields=fields)
        ids[fields["external_id"]] = customer.id
    for external_id, channel in (("D-0001", "email"), ("D-0001", "line"), ("D-0003", "line")):
        await set_consent(uow=uow_factory(tenant), clock=clock, actor="demo", customer_id=ids[external_id],
                          channel=channel, status="granted", source="demo", occurred_at=None)
    prices = {p["sku"]: (p["price"], p["cost"]) for p in PRODUCTS}
    local_now = clock.now().astimezone(ZoneInfo(tenant.timezone))
    drafts = []
    for n, (external_id, days_ago, lines) in enumerate(ORDERS, start=1):
        order_lines = [LineDraft(sku=sku, quantity=q, unit_price=prices[sku][0], unit_cost=prices[sku][1])
                       for sku, q in lines]
        total = sum(line.quantity * line.unit_price for line in order_lines) + 550
        drafts.append((n, OrderDraft(order_number=f"DEMO-{n:04d}", customer={"external_id": external_id},
                                     ordered_at=local_now - timedelta(days=days_ago), lines=order_lines,
                                     total=total, shipping_total=550, channel="ec")))
    await _loyalty_program(uow_factory, clock, tenant, [ids["D-0001"], ids["D-0003"]])
    placed = await place_orders(uow=uow_factory(tenant), clock=clock, tenant_currency=tenant.currency,
                                drafts=drafts)
    # The worker would award these from the order.placed jobs; the demo does it at once (the
    # jobs find the entries and change nothing when a worker runs later).
    for _, order in placed.accepted:
        await earn_for_order(uow=uow_factory(tenant), clock=clock, order_id=order.id,
                             timezone=tenant.timezone)
    events = [
        {"type": "product_viewed", "customer": {"external_id": "D-0002"}, "properties": {"sku": "SERUM-30"},
         "occurred_at": _iso(local_now - timedelta(hours=5)), "touchpoint": {"channel": "web",
                                                                             "stage": "pre_purchase"}},
        {"type": "email_opened", "customer": {"external_id": "D-0001"},
         "occurred_at": _iso(local_now - timedelta(days=2)), "touchpoint": {"channel": "email",
                                                                            "stage": "post_purchase"}},
        {"type": "favorite_added", "customer": {"external_id": "D-0003"},
         "properties": {"sku": "CLEANSE-120"},
         "occurred_at": _iso(local_now - timedelta(days=1)), "touchpoint": {"channel": "app",
                                                                            "stage": "pre_purchase"}},
    ]
    await ingest_events(uow=uow_factory(tenant), clock=clock, items=events)
    return True


async def _loyalty_program(uow_factory: Any, clock: Clock, tenant: TenantRef, members: list[Any]) -> None:
    """A point program with tiers, a category bonus and a reward; two demo customers enrolled."""
    program = await create_program(uow=uow_factory(tenant), clock=clock, terms=ProgramTerms(
        name="Kizuna Points", currency=tenant.currency, earn_points=1, earn_per_amount=100, pending_days=0,
        expiry_policy=ExpiryPolicy.END_OF_MONTH_AFTER, expiry_months=12,
        tiers=(Tier("Regular", 0), Tier("Silver", 100), Tier("Gold", 500, multiplier=Decimal("1.5")))))
    await create_rule(uow=uow_factory(tenant), clock=clock, program_id=program.id,
                      terms=RuleTerms(name="Serum week x2", multiplier=Decimal(2), skus=("SERUM-30",)))
    await create_reward(uow=uow_factory(tenant), clock=clock, program_id=program.id,
                        terms=RewardTerms(name="500円OFFクーポン", kind=RewardKind.COUPON, points_cost=500))
    for customer_id in members:
        await enroll_member(uow=uow_factory(tenant), clock=clock, program_id=program.id,
                            customer=CustomerRef(id=customer_id))


def _iso(at: datetime) -> str:
    return at.isoformat()


_EVERYONE = CustomerFilter()
