"""infra.caches.IdentityOwners: entries hold only under the generation they were read under, per
tenant, and the process-wide bound is kept."""

from __future__ import annotations

from uuid import uuid4

from infra.caches import IdentityOwners


def test_entries_hold_under_their_generation_only():
    cache = IdentityOwners()
    owner = uuid4()
    cache.remember("tenant-a", 3, {("email", "a@example.jp"): owner})
    assert cache.under("tenant-a", 3) == {("email", "a@example.jp"): owner}
    assert cache.under("tenant-b", 3) == {}  # another tenant holds nothing of t_a's
    assert cache.under("tenant-a", 4) == {}  # the generation moved: dropped
    assert cache.under("tenant-a", 3) == {}  # and not brought back by the old number


def test_remembering_under_an_older_generation_replaces_the_newer_entries():
    """A slow transaction that read the old number stores what it found under that number; a
    reader of the new number then drops it rather than trusting it."""
    cache = IdentityOwners()
    cache.remember("tenant-a", 5, {("external_id", "x"): uuid4()})
    cache.remember("tenant-a", 4, {("external_id", "y"): uuid4()})
    assert cache.under("tenant-a", 5) == {}


def test_the_bound_drops_everything_and_keeps_the_newest():
    cache = IdentityOwners()
    cache.MAX_ENTRIES = 3
    cache.remember("tenant-a", 1, {("external_id", str(i)): uuid4() for i in range(2)})
    cache.remember("tenant-b", 1, {("external_id", "b"): uuid4()})
    assert cache._size == 3
    newest = {("external_id", "c"): uuid4()}
    cache.remember("tenant-c", 1, newest)
    assert cache.under("tenant-c", 1) == newest and cache.under("tenant-a", 1) == {} and cache._size == 1
