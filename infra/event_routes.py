"""Where domain events go: the one place every process (API workers, job workers, the CLI)
builds its event bus from, so an event published anywhere reaches the same subscribers and jobs.

No routes yet: the areas that consume events (loyalty points on `order.placed`, scores on
`events.ingested`) register their job routes and subscribers here.
"""

from __future__ import annotations

from infra.events import EventBus


def build_event_bus() -> EventBus:
    return EventBus()
