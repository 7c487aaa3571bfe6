"""Sticky encodings and collection-scan cursors in the engine (the behaviour compared with
redis-server is in tests/differential/test_differential_encodings.py): the table of converted
hashes and sets forgets values that left the keyspace, and SSCAN keeps its guarantee with more
scans in progress than it keeps snapshots for (the cursor then continues over a fresh one)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import redis

from engine import collscan, objects


@pytest.fixture
def rr(r: redis.Redis) -> Iterator[redis.Redis]:
    r.flushall()
    yield r
    r.config_set("hash-max-listpack-entries", 512)
    r.config_set("set-max-intset-entries", 512)
    r.flushall()


def test_converted_values_leave_the_table_after_delete(rr: redis.Redis) -> None:
    """600 hashes converted then deleted: after the table's next sweep (it sweeps when it
    doubles, so 1000 more marks force one) none of them is held any more."""
    rr.config_set("hash-max-listpack-entries", 1)
    for i in range(600):
        rr.hset(f"h{i}", mapping={"a": 1, "b": 2})
    assert rr.object("encoding", "h0") == b"hashtable"
    rr.hdel("h0", "b")
    assert rr.object("encoding", "h0") == b"hashtable"
    rr.flushall()
    gc.collect()
    for _ in range(1000):
        objects.mark_hashtable({})  # each dict is garbage at once: swept with the deleted hashes
    assert len(objects._HASHTABLE) < 600


def test_cron_drops_deleted_values_from_the_side_tables(rr: redis.Redis) -> None:
    """Converted hashes and cached large sets that were deleted are let go by the server cron
    (64 entries of each table per tick at hz 10) with no further command: within 10 s
    (bounded wait, polled every 50 ms) the tables shrink by at least what was deleted."""
    import time

    from engine import setsample

    rr.config_set("hash-max-listpack-entries", 1)
    for i in range(50):
        rr.hset(f"h{i}", mapping={"a": 1, "b": 2})
        rr.sadd(f"s{i}", *[b"m%d" % j for j in range(200)])
        rr.srandmember(f"s{i}")
    before = (len(objects._HASHTABLE), len(setsample._CACHE))
    rr.flushall()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if len(objects._HASHTABLE) <= before[0] - 50 and len(setsample._CACHE) <= before[1] - 50:
            break
        time.sleep(0.05)
    assert len(objects._HASHTABLE) <= before[0] - 50, before
    assert len(setsample._CACHE) <= before[1] - 50, before


def test_sscan_with_more_scans_than_snapshots(rr: redis.Redis) -> None:
    """MAX_SCANS + 10 scans interleaved call by call: every one completes and returns every
    member exactly as SSCAN promises for members present throughout (none is deleted here)."""
    n_scans = collscan.MAX_SCANS + 10
    members = {b"m%d" % i for i in range(300)}
    rr.sadd("s", *members)
    cursors = [0] * n_scans
    seen: list[set[bytes]] = [set() for _ in range(n_scans)]
    done = [False] * n_scans
    for _ in range(1000):  # bounded: 300 members / COUNT 10 = 30 rounds needed
        for i in range(n_scans):
            if done[i]:
                continue
            cursors[i], batch = rr.sscan("s", cursors[i], count=10)
            seen[i].update(batch)
            done[i] = cursors[i] == 0
        if all(done):
            break
    assert all(done)
    assert all(s == members for s in seen)


def test_copy_keeps_hashtable(rr: redis.Redis) -> None:
    rr.config_set("set-max-intset-entries", 2)
    rr.sadd("s", 1, 2, 3)
    rr.srem("s", 3)
    rr.copy("s", "t")
    assert rr.object("encoding", "t") == b"hashtable"
    rr.sadd("u", 1, 2)
    assert rr.object("encoding", "u") == b"intset"


# -- SPOP / SRANDMEMBER -----------------------------------------------------------------------

def _seed(n: int) -> None:
    from engine.commands import sets

    sets._rng.seed(n)


def test_srandmember_reuses_one_copy_and_sees_changes(rr: redis.Redis) -> None:
    """A large set is copied once for many picks (the cached tuple stays the same object across
    calls: no per-call copy); removed members are never returned, added ones are."""
    from engine import setsample

    _seed(1)
    rr.sadd("s", *[b"m%d" % i for i in range(1000)])
    rr.srandmember("s", 5)
    cached = [e[1] for e in setsample._CACHE.values() if len(e[0]) == 1000 and b"m0" in e[0]]
    assert len(cached) == 1
    for _ in range(50):
        rr.srandmember("s")
        rr.srandmember("s", -3)
    assert any(e[1] is cached[0] for e in setsample._CACHE.values())
    rr.srem("s", *[b"m%d" % i for i in range(500)])
    picks = rr.srandmember("s", -2000)
    assert all(int(p[1:]) >= 500 for p in picks)
    rr.sadd("s", *[b"n%d" % i for i in range(1000)])
    picks = rr.srandmember("s", -2000)  # 2/3 of the set is new: none picked has probability 3^-2000
    assert any(p.startswith(b"n") for p in picks)


def test_spop_drains_each_member_once(rr: redis.Redis) -> None:
    _seed(2)
    members = {b"m%d" % i for i in range(3000)}
    rr.sadd("s", *members)
    popped: list[bytes] = []
    for _ in range(1000):  # bounded: 3000 / 7 calls needed, then single pops
        got = rr.spop("s", 7)
        if not got:
            break
        popped += got
        one = rr.spop("s")
        if one is not None:
            popped.append(one)
    assert sorted(popped) == sorted(members)
    assert rr.exists("s") == 0


def test_srandmember_is_uniform(rr: redis.Redis) -> None:
    """20,000 picks with repetition over 200 members (seeded): Pearson's chi-square with 199
    degrees of freedom has mean 199 and sd 20; 320 is six sd above, so only a biased picker
    fails.  Distinct picks (count 50) never repeat a member."""
    _seed(3)
    rr.sadd("s", *[b"m%d" % i for i in range(200)])
    picks = rr.srandmember("s", -20000)
    counts: dict[bytes, int] = {}
    for p in picks:
        counts[p] = counts.get(p, 0) + 1
    expected = 20000 / 200
    chi2 = sum((counts.get(b"m%d" % i, 0) - expected) ** 2 / expected for i in range(200))
    assert chi2 < 320, chi2
    distinct = rr.srandmember("s", 50)
    assert len(set(distinct)) == 50
