"""Redis's sampled eviction policies (``maxmemory-policy``), request by request.

* ``allkeys-lru``, ``volatile-lru``, ``allkeys-lfu``, ``volatile-lfu``, ``volatile-ttl``:
  Redis's approximated policies (evict.c ``performEvictions``/``evictionPoolPopulate``):
  ``maxmemory-samples`` keys are sampled per round into an eviction pool of 16 candidates
  (``EVPOOL_SIZE``) kept sorted by "idle" score and kept across calls; the best candidate
  that still exists is evicted.  LRU idle time comes from a 24-bit clock with 1 s resolution
  (``LRU_CLOCK_MAX``, ``LRU_CLOCK_RESOLUTION``); LFU keeps Morris-style 8-bit logarithmic
  counters (object.c/evict.c ``LFULogIncr``, ``LFUDecrAndReturn``; see
  https://redis.io/docs/latest/develop/reference/eviction/).
* ``allkeys-random``, ``volatile-random``: one uniformly random key per eviction.
* ``noeviction``: over ``maxmemory`` the filling write is refused (an OOM error in Redis),
  so the request stays a miss and nothing is stored.

The LRU clock, the LFU counter and decay and the eviction pool are engine/evict_math.py, the
module the engine's evict.py runs too (one source for Redis's arithmetic); memory accounting,
TTLs and active expiry are the shared model in cache_memory.py.

``performEvictions`` in Redis also stops after a time budget (``maxmemory-eviction-tenacity``)
and finishes in a background timer; we always evict to below ``maxmemory`` at once.

Sampling differs in one documented way: Redis samples with ``dictGetSomeKeys`` (distinct
keys from a walk of adjacent hash buckets), we sample uniformly at random (distinct keys
for small keyspaces, independent draws for large ones).  Redis's own documentation treats its
sample as random, and with a well-mixed hash table the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.evict_math import (
    LRU_CLOCK_MAX,
    EvictionPool,
    lfu_decr_and_return,
    lfu_initial_field,
    lfu_time_in_minutes,
    lfu_touch_field,
    lru_clock,
    lru_idle,
)
from simlab.model.cache_memory import CacheModel, as_list

__all__ = ["REDIS_POLICIES", "RedisCache"]

REDIS_POLICIES: tuple[str, ...] = (
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "noeviction",
)

# dictGetSomeKeys returns distinct keys; below this many keys we sample without replacement,
# above it independent draws repeat a key with probability <= samples**2 / (2 n) (1.3 % for 5).
_DISTINCT_SAMPLE_BELOW = 1000

_LRU, _LFU, _TTL, _RANDOM, _NONE = range(5)


class RedisCache(CacheModel):
    """Redis's ``maxmemory-policy`` family, sampled as evict.c samples.

    Per key we keep a slot in parallel lists (key, charged bytes, ``robj.lru`` field); a dict
    maps key -> slot and deletion swaps the last slot in, so a uniform random key is O(1).
    ``robj.lru`` holds the 24-bit LRU clock for LRU policies and ``ldt << 8 | counter`` for
    LFU ones, exactly as in Redis.
    """

    def __init__(
        self,
        policy: str,
        maxmemory_bytes: int,
        *,
        samples: int = 5,
        lfu_log_factor: int = 10,
        lfu_decay_time: int = 1,
        **kwargs: Any,
    ) -> None:
        if policy not in REDIS_POLICIES:
            raise ValueError(f"unknown maxmemory-policy {policy!r}")
        if samples < 1:
            raise ValueError("samples (maxmemory-samples) must be >= 1")
        super().__init__(maxmemory_bytes, **kwargs)
        self.policy = policy
        self.samples = samples
        self.lfu_log_factor = lfu_log_factor
        self.lfu_decay_time = lfu_decay_time
        self._volatile = policy.startswith("volatile-")
        kind = policy.split("-", 1)[-1]
        self._kind = {"lru": _LRU, "lfu": _LFU, "ttl": _TTL, "random": _RANDOM, "noeviction": _NONE}[kind]
        self._is_lfu = self._kind == _LFU
        self._slot: dict[int, int] = {}
        self._keys: list[int] = []
        self._charged: list[int] = []
        self._lru: list[int] = []
        self._pool: EvictionPool[int] = EvictionPool()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._slot

    def lfu_counter(self, key: int, now_s: float) -> int:
        """The key's LFU counter as OBJECT FREQ reports it (decayed, not written back)."""
        return lfu_decr_and_return(
            self._lru[self._slot[key]], lfu_time_in_minutes(now_s), self.lfu_decay_time
        )

    def access(
        self, key: int, size_bytes: int, now_s: float, ttl_s: float | None = None, write: bool = False
    ) -> bool:
        if self._when and now_s >= self._next_cron_s:
            self._cron(now_s)
        if self.used_memory_bytes > self.maxmemory_bytes:
            self._perform_evictions(now_s)
        slot = self._slot.get(key)
        if slot is not None:
            when = self._when
            if when and key in when and now_s > when[key]:
                self._delete(key)
                self.expirations += 1
            else:
                if self._is_lfu:
                    self._lru[slot] = self._lfu_touch(self._lru[slot], now_s)
                else:
                    self._lru[slot] = lru_clock(now_s)
                if write:
                    self._overwrite(key, slot, size_bytes, now_s, ttl_s)
                self.hits += 1
                return True
        self.misses += 1
        if self.used_memory_bytes > self.maxmemory_bytes:
            self.rejected_writes += 1  # performEvictions failed: the fill gets -OOM
            return False
        charged = size_bytes + self.per_key_overhead_bytes
        self._slot[key] = len(self._keys)
        self._keys.append(key)
        self._charged.append(charged)
        if self._is_lfu:
            self._lru.append(lfu_initial_field(lfu_time_in_minutes(now_s)))
        else:
            self._lru.append(lru_clock(now_s))
        self.used_memory_bytes += charged
        if ttl_s is not None:
            self._set_expire(key, now_s + ttl_s)
        return False

    def access_many(
        self,
        keys: Sequence[int] | np.ndarray,
        sizes: Sequence[int] | np.ndarray,
        times_s: Sequence[float] | np.ndarray,
        ttls_s: Sequence[float] | np.ndarray | None = None,
        writes: Sequence[bool] | np.ndarray | None = None,
    ) -> np.ndarray:
        """As :meth:`CacheModel.access_many`, with the read-hit path inlined.

        A read of a live key only refreshes ``robj.lru``; that is done here without a call.
        Everything else (misses, writes, expiry, evictions) goes through :meth:`access`, so
        the semantics are those of :meth:`access` (``test_cache`` checks identical hits).
        """
        k = as_list(keys)
        s = as_list(sizes)
        t = as_list(times_s)
        n = len(k)
        if len(s) != n or len(t) != n:
            raise ValueError("keys, sizes and times_s must have the same length")
        ttl = [None] * n if ttls_s is None else [None if x != x else x for x in as_list(ttls_s)]
        w = [False] * n if writes is None else [bool(x) for x in as_list(writes)]
        if len(ttl) != n or len(w) != n:
            raise ValueError("ttls_s and writes must match keys in length")
        access = self.access
        slot_get = self._slot.get
        lru = self._lru
        when = self._when
        is_lfu = self._is_lfu
        lfu_touch = self._lfu_touch
        maxmemory = self.maxmemory_bytes
        out = bytearray(n)
        fast_hits = 0
        for i in range(n):
            key = k[i]
            now = t[i]
            if (
                not w[i]
                and self.used_memory_bytes <= maxmemory
                and not (when and now >= self._next_cron_s)
                and (slot := slot_get(key)) is not None
                and not (when and key in when and now > when[key])
            ):
                # lru_clock(now) inlined: the one copy of engine/evict_math.py kept for speed;
                # test_fast_path_evicts_the_same_victims runs both paths and compares victims
                lru[slot] = lfu_touch(lru[slot], now) if is_lfu else int(now) & LRU_CLOCK_MAX
                fast_hits += 1
                out[i] = 1
            elif access(key, s[i], now, ttl[i], w[i]):
                out[i] = 1
        self.hits += fast_hits
        return np.frombuffer(bytes(out), dtype=bool).copy()

    def _lfu_touch(self, field: int, now_s: float) -> int:
        """db.c ``updateLFU``: decay, then a logarithmic increment, then stamp the minute."""
        return lfu_touch_field(
            field, lfu_time_in_minutes(now_s), self.lfu_log_factor, self.lfu_decay_time, self._rng.random()
        )

    def _overwrite(self, key: int, slot: int, size_bytes: int, now_s: float, ttl_s: float | None) -> None:
        """SET on an existing key: new size; a TTL replaces the old one, no TTL clears it."""
        charged = size_bytes + self.per_key_overhead_bytes
        self.used_memory_bytes += charged - self._charged[slot]
        self._charged[slot] = charged
        if ttl_s is None:
            self._clear_expire(key)
        else:
            self._set_expire(key, now_s + ttl_s)

    def _delete(self, key: int) -> None:
        slot = self._slot.pop(key)
        keys = self._keys
        charged = self._charged
        lru = self._lru
        self.used_memory_bytes -= charged[slot]
        last_key = keys.pop()
        last_charged = charged.pop()
        last_lru = lru.pop()
        if last_key != key:
            keys[slot] = last_key
            charged[slot] = last_charged
            lru[slot] = last_lru
            self._slot[last_key] = slot
        if self._when:
            self._clear_expire(key)

    # --- evict.c --------------------------------------------------------------------------

    def _perform_evictions(self, now_s: float) -> bool:
        """evict.c ``performEvictions``: evict until ``used_memory <= maxmemory``.

        Returns False (EVICT_FAIL) when nothing can be evicted: ``noeviction``, or a
        ``volatile-*`` policy with no key that has a TTL.
        """
        if self._kind == _NONE:
            return False
        while self.used_memory_bytes > self.maxmemory_bytes:
            key = self._random_victim() if self._kind == _RANDOM else self._pool_victim(now_s)
            if key is None:
                return False
            self._delete(key)
            self.evictions += 1
        return True

    def _random_victim(self) -> int | None:
        space = self._vkeys if self._volatile else self._keys
        if not space:
            return None
        return space[int(self._rng.random() * len(space))]

    def _pool_victim(self, now_s: float) -> int | None:
        """Populate the pool until its best entry is a key that still exists, then pop it."""
        live = self._when if self._volatile else self._slot
        pop_best = self._pool.pop_best
        while True:
            if not live:
                return None
            self._populate_pool(now_s)
            key = pop_best(live.__contains__)
            if key is not None:
                return key

    def _populate_pool(self, now_s: float) -> None:
        """evict.c ``evictionPoolPopulate``: sample keys and insert them by idle score."""
        space = self._vkeys if self._volatile else self._keys
        n = len(space)
        rnd = self._rng.random
        insert = self._pool.insert
        kind = self._kind
        slot_of = self._slot
        lru = self._lru
        when = self._when
        clock = lru_clock(now_s)
        now_min = lfu_time_in_minutes(now_s)
        if n <= self.samples:
            picks = list(space)
        elif n < _DISTINCT_SAMPLE_BELOW:
            picks = [space[i] for i in self._rng.sample(range(n), self.samples)]
        else:
            picks = [space[int(rnd() * n)] for _ in range(self.samples)]
        for key in picks:
            if kind == _LRU:
                insert(lru_idle(clock, lru[slot_of[key]]), key)
            elif kind == _LFU:
                insert(255 - lfu_decr_and_return(lru[slot_of[key]], now_min, self.lfu_decay_time), key)
            else:  # volatile-ttl: sooner expiry = better candidate
                insert(-when[key], key)
