"""maxmemory eviction, as Redis 7.0's evict.c does it (approximated LRU/LFU, not exact).

Before a ``denyoom`` command runs while ``maxmemory`` is set, dispatch calls
``server.before_write``; :func:`perform_evictions` then frees keys until the modelled
``used_memory`` (engine/memory.py) is at or below ``maxmemory``:

* ``allkeys-random`` / ``volatile-random`` delete a uniformly random key (of all keys / of the
  keys with a TTL), database by database as Redis walks ``next_db``;
* the LRU, LFU and TTL policies sample ``maxmemory-samples`` keys per database into the
  eviction pool of :data:`EVPOOL_SIZE` candidates sorted by idle score (``evictionPoolPopulate``)
  which persists across calls, and evict the best candidate that still exists;
* LRU idle time is the distance on the 24-bit LRU clock of 1 s resolution
  (``server.lru_clock``, stamped into ``db.lru[key]`` on every access);
* LFU keeps ``ldt << 8 | counter`` in ``db.lru[key]`` like ``robj.lru``: an 8-bit logarithmic
  counter (starts at 5, incremented with probability 1 / ((counter - 5) * lfu-log-factor + 1))
  decayed by one per ``lfu-decay-time`` minutes; ``Server.touch`` calls :func:`lfu_touch`
  while an LFU policy is active;
* ``volatile-ttl`` prefers the key that expires soonest;
* ``maxmemory-eviction-tenacity`` bounds the time spent per call (evictionTimeLimitUs); when
  the limit is hit with memory still above the limit the command runs anyway (EVICT_RUNNING)
  and the cron continues evicting;
* when nothing can be freed (``noeviction``, or no volatile key) the command is refused with
  ``-OOM command not allowed when used memory > 'maxmemory'.``

Each eviction deletes the key (WATCH is signalled by ``db.delete``), counts ``evicted_keys``,
fires the ``evicted`` keyspace event and propagates ``DEL`` to the AOF through the same
``Server.propagate_deletion`` expiry uses.  The arithmetic (LRU idle, LFU counter, the pool) is
engine/evict_math.py, which simlab's cache model imports too.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING

from engine import evict_math, memory
from engine.errors import OOMError, RedisError
from engine.evict_math import (
    EVPOOL_SIZE,
    LFU_INIT_VAL,
    LRU_CLOCK_MAX,
    EvictionPool,
    lfu_decr_and_return,
    lfu_initial_field,
    lfu_log_incr,
    lfu_touch_field,
    lru_idle,
)

if TYPE_CHECKING:
    from engine.client import Client
    from engine.db import Database
    from engine.server import Server

__all__ = [
    "EVPOOL_SIZE",
    "LFU_INIT_VAL",
    "LRU_CLOCK_MAX",
    "EvictionPool",
    "perform_evictions",
    "lfu_touch",
    "lfu_decr_and_return",
    "lfu_log_incr",
    "lfu_time_in_minutes",
    "EVICT_OK",
    "EVICT_RUNNING",
    "EVICT_FAIL",
    "EvictState",
    "before_write",
    "cron",
    "lfu_key_written",
    "policy_changed",
]

EVICT_OK, EVICT_RUNNING, EVICT_FAIL = 0, 1, 2

_rng = random.Random()


def lfu_time_in_minutes() -> int:
    """LFUGetTimeInMinutes on the wall clock (engine/evict_math.py holds the arithmetic)."""
    return evict_math.lfu_time_in_minutes(time.time())


def lfu_touch(server: Server, db: Database, key: bytes) -> None:
    """updateLFU: decay, increment logarithmically, stamp the minute."""
    now_min = lfu_time_in_minutes()
    lru = db.lru
    field = lru.get(key)
    if field is None:
        field = lfu_initial_field(now_min)
    cfg = server.config
    lru[key] = lfu_touch_field(field, now_min, cfg["lfu-log-factor"], cfg["lfu-decay-time"], _rng.random())


class EvictState:
    __slots__ = ("pool", "next_db", "running")

    def __init__(self) -> None:
        self.pool: EvictionPool[tuple[int, bytes]] = EvictionPool()
        self.next_db = 0
        self.running = False


def _populate(
    server: Server, db: Database, policy: str, volatile: bool, pool: EvictionPool[tuple[int, bytes]]
) -> int:
    """evictionPoolPopulate for one database; returns how many keys the space holds."""
    space = db.volatile if volatile else db.keys
    n = len(space)
    if not n:
        return 0
    samples = space.sample(server.config["maxmemory-samples"])
    lru = db.lru
    if policy.endswith("lru"):
        clock = server.lru_clock
        for key in samples:
            pool.insert(lru_idle(clock, lru.get(key, clock)), (db.id, key))
    elif policy.endswith("lfu"):
        now_min = lfu_time_in_minutes()
        decay = server.config["lfu-decay-time"]
        for key in samples:
            field = lru.get(key, lfu_initial_field(now_min))
            pool.insert(255 - lfu_decr_and_return(field, now_min, decay), (db.id, key))
    else:  # volatile-ttl
        expires = db.expires
        for key in samples:
            pool.insert(-expires.get(key, 0), (db.id, key))
    return n


def _time_limit_us(tenacity: int) -> float:
    """evictionTimeLimitUs: 50 us per point up to 10, then +15 % per point; 100 = no limit."""
    if tenacity <= 10:
        return 50.0 * tenacity
    if tenacity < 100:
        return 500.0 * 1.15 ** (tenacity - 10)
    return float("inf")


def _select_victim(server: Server, st: EvictState, policy: str) -> tuple[Database, bytes] | None:
    volatile = policy.startswith("volatile")
    dbs = server.dbs
    if policy.endswith("random"):
        for _ in range(len(dbs)):
            db = dbs[st.next_db % len(dbs)]
            st.next_db += 1
            key = (db.volatile if volatile else db.keys).random()
            if key is not None:
                return db, key
        return None
    pool = st.pool
    while True:
        total = 0
        for db in dbs:
            total += _populate(server, db, policy, volatile, pool)
        if not total:
            return None
        best = pool.pop_best(
            lambda e: e[1] in (dbs[e[0]].expires if volatile else dbs[e[0]].data)
        )
        if best is not None:
            return dbs[best[0]], best[1]


def perform_evictions(server: Server, full: bool = True) -> int:
    """performEvictions: free keys until used_memory <= maxmemory; EVICT_OK/RUNNING/FAIL."""
    maxmemory = server.maxmemory
    if not maxmemory:
        return EVICT_OK
    used = memory.used_memory(server, full)
    if used <= maxmemory:
        return EVICT_OK
    policy = server.maxmemory_policy
    if policy == "noeviction":
        return EVICT_FAIL
    st = server.evict
    limit_us = _time_limit_us(server.config["maxmemory-eviction-tenacity"])
    t0 = time.perf_counter()
    evicted = 0
    stats = server.stats
    while used > maxmemory:
        victim = _select_victim(server, st, policy)
        if victim is None:
            return EVICT_FAIL
        db, key = victim
        db.delete(key)
        stats.evicted_keys += 1
        server.notify("e", "evicted", key, db.id)
        server.propagate_deletion(db, key)
        evicted += 1
        used = memory.used_memory(server, False)
        if evicted % 16 == 0 and (time.perf_counter() - t0) * 1e6 > limit_us:
            st.running = True  # the cron continues (startEvictionTimeProc)
            _latency_event(server, t0)
            return EVICT_RUNNING
    st.running = False
    _latency_event(server, t0)
    return EVICT_OK


def _latency_event(server: Server, t0: float) -> None:
    """latencyAddSampleIfNeeded("eviction-cycle", ...) for the latency monitor."""
    if server.latency.threshold_ms:
        server.latency.add_event("eviction-cycle", int((time.perf_counter() - t0) * 1000))


def before_write(server: Server, client: Client) -> RedisError | None:
    """Before a ``denyoom`` command under maxmemory: evict, or refuse with OOM."""
    active = server.memory.active
    if client.db not in active:
        active.append(client.db)
    if perform_evictions(server, False) == EVICT_FAIL:
        return OOMError()
    return None


def cron(server: Server) -> None:
    """evictionTimeProc: keep evicting in slices until under the limit (at most 25 ms a tick)."""
    st = server.evict
    deadline = time.perf_counter() + 0.025
    while st.running and time.perf_counter() < deadline:
        if perform_evictions(server) != EVICT_RUNNING:
            st.running = False


def lfu_key_written(db: Database, key: bytes) -> None:
    """A key written under an LFU policy starts at LFU_INIT_VAL (a new key only)."""
    if key not in db.lru:
        db.lru[key] = lfu_initial_field(lfu_time_in_minutes())


def policy_changed(server: Server, old: str, new: str) -> None:
    """CONFIG SET maxmemory-policy: between LRU and LFU the per-key word changes meaning, so
    every key starts afresh; the pool's scores are of the old policy."""
    if old.endswith("lfu") != new.endswith("lfu"):
        for db in server.dbs:
            db.lru.clear()
    server.evict.pool = EvictionPool()
