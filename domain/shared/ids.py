"""UUID version 7 identifiers (RFC 9562): time-ordered, so ids sort by creation and index well.

Python 3.11 has no uuid7(). Layout: 48 bits of Unix milliseconds, the version, 74 bits that are
random at the start of each millisecond and then only grow ("monotonic random", RFC 9562 section
6.2, method 2): within one process every id is greater than the one before, also within one
millisecond and if the clock steps back, so "newest first" and keyset pages keep creation order.
Each step adds a random 1-2^24, so the next id is not guessable from the last. A millisecond's
space of 2^73 steps cannot run out in practice; if it did, the ids move on to the next
millisecond.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_COUNTER_BITS = 74
_COUNTER_END = 1 << _COUNTER_BITS
_LOW62 = (1 << 62) - 1
_VERSION_VARIANT = 0x7 << 76 | 0b10 << 62
_STEP_BYTES = 3

_lock = threading.Lock()  # the import CLI and tests may create ids from several threads
_last_ms = -1
_last_counter = 0

# UUID's constructor checks its argument's type and range on every call, which costs more than
# the rest of making an id; ids made here are valid by construction, so the two slots UUID's
# own __init__ sets are set directly (on a batch of 1,000 event ids this was a measurable share
# of ingest).
_make = object.__new__
_set = object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown


def _fresh_counter() -> int:
    # The top bit starts clear: half of the millisecond's space is left to grow into.
    return int.from_bytes(os.urandom(10), "big") & ((1 << (_COUNTER_BITS - 1)) - 1)


def new_ids(n: int) -> list[uuid.UUID]:
    """n new ids in ascending order, each greater than every id this process made before."""
    global _last_ms, _last_counter
    steps = os.urandom(_STEP_BYTES * n)
    ids: list[uuid.UUID] = []
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            counter = _fresh_counter()
        else:  # the same millisecond, or the clock went back: continue after the last id
            ms, counter = _last_ms, _last_counter
        from_bytes, make, set_, unknown, uuid_type = int.from_bytes, _make, _set, _UNKNOWN, uuid.UUID
        step = ms == _last_ms
        head = (ms & 0xFFFF_FFFF_FFFF) << 80 | _VERSION_VARIANT
        for i in range(0, _STEP_BYTES * n, _STEP_BYTES):
            if step:
                counter += 1 + from_bytes(steps[i:i + _STEP_BYTES], "big")
                if counter >= _COUNTER_END:
                    ms, counter = ms + 1, _fresh_counter()
                    head = (ms & 0xFFFF_FFFF_FFFF) << 80 | _VERSION_VARIANT
            step = True
            made = make(uuid_type)  # see _make above; names bound locally: a batch runs this 1,000 times
            set_(made, "int", head | (counter >> 62) << 64 | counter & _LOW62)
            set_(made, "is_safe", unknown)
            ids.append(made)
        _last_ms, _last_counter = ms, counter
    return ids


def new_id() -> uuid.UUID:
    """One new id, greater than every id this process made before."""
    return new_ids(1)[0]
