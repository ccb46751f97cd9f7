"""Events as PostgreSQL's binary COPY format, written straight from the drafts.

asyncpg encodes COPY records value by value through its codecs: measured on a 1,000-event batch,
3.5 us a row, 60% of it the two timestamps (each converted to UTC, subtracted from 2000-01-01 and
taken apart through Python attribute look-ups) and the properties' jsonb going through
SQLAlchemy's Python-level codec; plus 1.2 us a row to build the records first. This module writes
the bytes in one pass: a batch's rows share one received_at, a few types and touchpoints and, per
customer, one id, so those fields are encoded once per batch; ids come from their integer;
properties are serialised by orjson straight to bytes.

The format (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format"): a signature,
flags and header extension; per row the number of fields, then per field its byte length (-1 for
NULL) and its binary value; -1 as the field count ends the data. Values: uuid is 16 bytes,
timestamptz a signed 64-bit count of microseconds since 2000-01-01 UTC, varchar its UTF-8 bytes
(PostgreSQL checks the encoding and the declared length on receipt), jsonb a version byte 1 and
the JSON text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from struct import Struct
from typing import Any
from uuid import UUID

import orjson

from domain.events.model import NewEvent, Touchpoint

# The columns written, in this order (the repository's COPY names them).
COLUMNS = ("id", "event_id", "type", "customer_id", "occurred_at", "received_at", "properties",
           "touchpoint_channel", "touchpoint_stage", "campaign_id")

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)
_NULL = (-1).to_bytes(4, "big", signed=True)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_ROW_START = Struct(">hi16s")  # field count, then the id: length 16 and its bytes
_TIMESTAMP = Struct(">iq")  # length 8 and microseconds since 2000-01-01 UTC
_LENGTH = Struct(">i")
_UUID_FIELD = Struct(">i16s")


def _micros(at: datetime) -> int:
    delta = at - _PG_EPOCH  # aware: the offset is taken into account
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _text(value: str | None) -> bytes:
    if value is None:
        return _NULL
    data = value.encode()
    return _LENGTH.pack(len(data)) + data


def _touchpoint(t: Touchpoint) -> bytes:
    return _text(t.channel) + _text(t.stage.value if t.stage else None) + _text(t.campaign_id)


def binary_copy(batch: Sequence[NewEvent]) -> bytes:
    """The COPY data (binary format, COLUMNS) of a batch of new events."""
    fields = len(COLUMNS)
    row_start, timestamp, length, dumps = _ROW_START.pack, _TIMESTAMP.pack, _LENGTH.pack, orjson.dumps
    types: dict[str, bytes] = {}
    customers: dict[UUID, bytes] = {}
    touchpoints: dict[int, bytes] = {}  # by object: the parser shares one per distinct touchpoint
    last_received: datetime | None = None
    received = b""
    parts: list[Any] = [_SIGNATURE]
    append = parts.append
    for id_, customer_id, draft, received_at in batch:
        append(row_start(fields, 16, id_.int.to_bytes(16, "big")))
        event_id = draft.event_id
        if event_id is None:
            append(_NULL)
        else:
            data = event_id.encode()
            append(length(len(data)))
            append(data)
        kind = types.get(draft.type)
        if kind is None:
            kind = types[draft.type] = _text(draft.type)
        append(kind)
        customer = customers.get(customer_id)
        if customer is None:
            customer = customers[customer_id] = _UUID_FIELD.pack(16, customer_id.bytes)
        append(customer)
        append(timestamp(8, _micros(draft.occurred_at)))
        if received_at is not last_received:  # one per batch
            last_received, received = received_at, timestamp(8, _micros(received_at))
        append(received)
        properties = b"\x01" + (dumps(draft.properties) if draft.properties else b"{}")
        append(length(len(properties)))
        append(properties)
        touchpoint = touchpoints.get(id(draft.touchpoint))
        if touchpoint is None:
            touchpoint = touchpoints[id(draft.touchpoint)] = _touchpoint(draft.touchpoint)
        append(touchpoint)
    append(_TRAILER)
    return b"".join(parts)
