"""Where domain events go: the one place every process (API workers, job workers, the CLI)
builds its event bus from, so an event published anywhere reaches the same subscribers and jobs.

No routes yet: the areas that consume events (loyalty points on `order.placed`, scores on
`events.ingested`) register their job routes and subscribers here.
"""

from __future__ import annotations

from infra.analytics.queue import ANALYTICS_QUEUE, REFRESH_TASK
from infra.events import EventBus
from infra.loyalty.tasks import EVENTS_TASK, LOYALTY_QUEUE, ORDER_PLACED_TASK, ORDER_REFUNDED_TASK


def build_event_bus() -> EventBus:
    bus = EventBus()
    # Analytics: each order placed or refunded, and each merge, refreshes the customer's metrics
    # row (one customer's orders, not a recompute).
    for name in ("order.placed", "order.refunded", "customers.merged"):
        bus.route_to_job(name, task_name=REFRESH_TASK, queue=ANALYTICS_QUEUE)
    # Loyalty: points for orders and behaviour events, clawed back on refunds.
    bus.route_to_job("order.placed", task_name=ORDER_PLACED_TASK, queue=LOYALTY_QUEUE)
    bus.route_to_job("order.refunded", task_name=ORDER_REFUNDED_TASK, queue=LOYALTY_QUEUE)
    bus.route_to_job("event.ingested", task_name=EVENTS_TASK, queue=LOYALTY_QUEUE)
    return bus
