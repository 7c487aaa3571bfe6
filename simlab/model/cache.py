"""Cache content: which request hits, under the eviction policies Redis implements.

The simulator asks one question per request: is the key there?  The answer depends on the
eviction policy, on memory accounting and on expiry, reproduced the way Redis does them,
request by request, one file per policy family (as libCacheSim keeps one per algorithm):

* cache_exact.py: ``lru`` and ``fifo``, the exact textbook policies (libCacheSim's
  ``LRU``/``FIFO`` to the last request when ``per_key_overhead_bytes=0``);
* cache_redis.py: Redis's sampled ``maxmemory-policy`` values (``allkeys-*``, ``volatile-*``,
  ``noeviction``), with the arithmetic of engine/evict_math.py;
* cache_memory.py: what every policy shares: counters, memory accounting (Redis 7's per-key
  overhead), TTLs, lazy and active expiry.

This module is the front door: :func:`make_cache` picks the policy, :func:`replay_trace` runs
a trace, and the public names of the three modules (and of engine/evict_math.py's LFU
helpers) are re-exported so that ``from simlab.model.cache import ...`` keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.evict_math import (
    EVPOOL_SIZE,
    LFU_INIT_VAL,
    LRU_CLOCK_MAX,
    EvictionPool,
    lfu_decr_and_return,
    lfu_log_incr,
    lfu_time_elapsed,
    lfu_time_in_minutes,
    lru_clock,
)
from simlab.model.cache_exact import EXACT_POLICIES, ExactCache
from simlab.model.cache_memory import (
    ACTIVE_EXPIRE_ACCEPTABLE_STALE_PCT,
    ACTIVE_EXPIRE_KEYS_PER_LOOP,
    ACTIVE_EXPIRE_MAX_LOOPS,
    REDIS_EXPIRE_OVERHEAD_BYTES,
    REDIS_KEY_OVERHEAD_BYTES,
    CacheModel,
)
from simlab.model.cache_redis import REDIS_POLICIES, RedisCache

if TYPE_CHECKING:
    from simlab.workload.traces import Trace

__all__ = [
    "POLICIES",
    "REDIS_KEY_OVERHEAD_BYTES",
    "REDIS_EXPIRE_OVERHEAD_BYTES",
    "EVPOOL_SIZE",
    "EvictionPool",
    "LRU_CLOCK_MAX",
    "LFU_INIT_VAL",
    "ACTIVE_EXPIRE_KEYS_PER_LOOP",
    "ACTIVE_EXPIRE_ACCEPTABLE_STALE_PCT",
    "ACTIVE_EXPIRE_MAX_LOOPS",
    "CacheModel",
    "ExactCache",
    "RedisCache",
    "make_cache",
    "replay_trace",
    "lru_clock",
    "lfu_time_in_minutes",
    "lfu_time_elapsed",
    "lfu_log_incr",
    "lfu_decr_and_return",
]

POLICIES: tuple[str, ...] = EXACT_POLICIES + REDIS_POLICIES


def make_cache(
    policy: str,
    maxmemory_bytes: int,
    *,
    samples: int = 5,
    seed: int = 0,
    lfu_log_factor: int = 10,
    lfu_decay_time: int = 1,
    per_key_overhead_bytes: int = REDIS_KEY_OVERHEAD_BYTES,
    expire_overhead_bytes: int = REDIS_EXPIRE_OVERHEAD_BYTES,
    hz: int = 10,
) -> CacheModel:
    """A cache-content model for ``policy`` (one of :data:`POLICIES`).

    ``samples``, ``lfu_log_factor``, ``lfu_decay_time`` and ``hz`` are Redis's
    ``maxmemory-samples``, ``lfu-log-factor``, ``lfu-decay-time`` and ``hz``.  Pass
    ``per_key_overhead_bytes=0, expire_overhead_bytes=0`` to count payload bytes only (as
    libCacheSim does); with unit sizes ``maxmemory_bytes`` is then a capacity in objects.
    """
    common: dict[str, Any] = {
        "seed": seed,
        "per_key_overhead_bytes": per_key_overhead_bytes,
        "expire_overhead_bytes": expire_overhead_bytes,
        "hz": hz,
    }
    if policy in EXACT_POLICIES:
        return ExactCache(policy, maxmemory_bytes, **common)
    if policy in POLICIES:
        return RedisCache(
            policy,
            maxmemory_bytes,
            samples=samples,
            lfu_log_factor=lfu_log_factor,
            lfu_decay_time=lfu_decay_time,
            **common,
        )
    raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")


def replay_trace(cache: CacheModel, trace: Trace) -> np.ndarray:
    """Run a :class:`~simlab.workload.traces.Trace` through ``cache``; hits as a bool array.

    Reads (get/gets) are cache-aside lookups that fill on a miss with the request's TTL;
    writes (set, add, ..., incr) store the value; ``delete`` removes the key (its entry in
    the result is whether the key existed).  Runs between deletes go through
    :meth:`CacheModel.access_many`.
    """
    from simlab.workload.traces import OPS

    out = np.zeros(len(trace), dtype=bool)
    writes = trace.writes
    dels = np.nonzero(trace.ops == OPS.index("delete"))[0]
    start = 0
    for stop in [*dels.tolist(), len(trace)]:
        if stop > start:
            part = slice(start, stop)
            out[part] = cache.access_many(
                trace.keys[part], trace.sizes[part], trace.times_s[part], trace.ttls_s[part], writes[part]
            )
        if stop < len(trace):
            out[stop] = cache.delete(int(trace.keys[stop]), float(trace.times_s[stop]))
        start = stop + 1
    return out
