"""Our binary COPY writer (infra.db.repositories.event_rows) against asyncpg's own encoder as the
oracle: the same events written both ways into two copies of a tenant's events table read back
equal, for ordinary and awkward values (offsets, microseconds, the year 2000, NULLs, non-ASCII text,
escapes in JSON, nested properties)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.customers.model import CustomerRef
from domain.events.model import NO_TOUCHPOINT, EventDraft, NewEvent, Stage, Touchpoint
from domain.shared.ids import new_id
from infra.db.repositories.event_rows import COLUMNS, binary_copy

offsets = st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-3, minutes=-30)),
                           timezone(timedelta(hours=5, minutes=45))])
instants = st.builds(lambda at, tz: at.replace(tzinfo=UTC).astimezone(tz),
                     st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)), offsets)
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
json_values = st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | texts
                           | st.floats(allow_nan=False, allow_infinity=False),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
                           max_leaves=8)
touchpoints = st.one_of(st.just(NO_TOUCHPOINT), st.builds(
    Touchpoint, channel=st.none() | st.sampled_from(["web", "line", "店舗"]),
    stage=st.none() | st.sampled_from(list(Stage)), campaign_id=st.none() | texts.filter(bool)))
drafts = st.builds(
    EventDraft, type=st.sampled_from(["page_viewed", "custom:quiz_answered"]),
    customer=st.just(CustomerRef(identity_type="external_id", identity_value="x")), occurred_at=instants,
    properties=st.dictionaries(texts, json_values, max_size=4), touchpoint=touchpoints,
    event_id=st.none() | st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30))


async def _rows(driver: Any, table: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await driver.fetch(f"SELECT {', '.join(COLUMNS)} FROM {table} ORDER BY id")]


# Database round trips per example: keep the count modest.
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(batch=st.lists(drafts, min_size=1, max_size=8), customers=st.integers(1, 3))
async def test_written_rows_equal_asyncpgs_encoding(engine, tenant_a, batch, customers):
    owners = [new_id() for _ in range(customers)]
    received = datetime.now(UTC)
    events = [NewEvent(new_id(), owners[i % customers], draft, received) for i, draft in enumerate(batch)]
    records = [(e.id, e.draft.event_id, e.draft.type, e.customer_id, e.draft.occurred_at, e.received_at,
                orjson.dumps(e.draft.properties).decode() if e.draft.properties else "{}", e.draft.touchpoint.channel,
                e.draft.touchpoint.stage.value if e.draft.touchpoint.stage else None,
                e.draft.touchpoint.campaign_id) for e in events]
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        async with driver.transaction():
            for table in ("ours", "oracle"):
                await driver.execute(f'CREATE TEMP TABLE {table} (LIKE "t_{tenant_a.slug}".events) ON COMMIT DROP')
            await driver.copy_to_table("ours", source=memoryview(binary_copy(events)), columns=COLUMNS,
                                       format="binary")
            await driver.copy_records_to_table("oracle", records=records, columns=COLUMNS)
            ours, oracle = await _rows(driver, "ours"), await _rows(driver, "oracle")
    assert ours == oracle and len(ours) == len(events)
