"""Cache content: which request hits, under the eviction policies Redis implements.

The simulator asks one question per request: is the key there?  The answer depends on the
eviction policy, on memory accounting and on expiry, so this module reproduces those three
mechanisms the way Redis does them, request by request:

* ``lru`` and ``fifo``: exact policies over an ``OrderedDict`` (the textbook algorithms,
  identical in hit ratio to libCacheSim's ``LRU``/``FIFO`` when ``per_key_overhead_bytes=0``).
* ``allkeys-lru``, ``volatile-lru``, ``allkeys-lfu``, ``volatile-lfu``, ``volatile-ttl``:
  Redis's approximated policies (evict.c ``performEvictions``/``evictionPoolPopulate``):
  ``maxmemory-samples`` keys are sampled per round into an eviction pool of 16 candidates
  (``EVPOOL_SIZE``) kept sorted by "idle" score and kept across calls; the best candidate
  that still exists is evicted.  LRU idle time comes from a 24-bit clock with 1 s resolution
  (``LRU_CLOCK_MAX``, ``LRU_CLOCK_RESOLUTION``); LFU keeps Morris-style 8-bit logarithmic
  counters (object.c/evict.c ``LFULogIncr``, ``LFUDecrAndReturn``; see
  https://redis.io/docs/latest/develop/reference/eviction/).  That arithmetic and the pool
  are engine/evict_math.py, the module the engine's evict.py runs too.
* ``allkeys-random``, ``volatile-random``: one uniformly random key per eviction.
* ``noeviction``: over ``maxmemory`` the filling write is refused (an OOM error in Redis),
  so the request stays a miss and nothing is stored.

Order of operations follows ``processCommand``: evictions run *before* a command when
``used_memory`` exceeds ``maxmemory`` (so a fill may overshoot until the next request, as in
Redis), then the lookup expires the key lazily (db.c ``expireIfNeeded``: expired when
``now > when``), then a miss stores the key (cache-aside fill).  The exact ``lru``/``fifo``
policies instead make room before inserting, as libCacheSim does, so that their hit
ratios can be compared with it to the last request.

Active expiry (expire.c ``activeExpireCycle``, slow cycle) runs at ``hz`` ticks of simulated
time: 20 keys sampled from the keys with a TTL per loop, loops repeated while more than 10 %
of the sample was stale.  Redis also stops a cycle after 25 % of CPU time (25 ms at hz=10);
we cannot see CPU time, so a cycle stops after ``ACTIVE_EXPIRE_MAX_LOOPS`` loops (25 000
keys, about what 25 ms examine at ~1 us per key).  The fast cycle run from ``beforeSleep``
is not modelled.  Redis >= 6 walks the ``expires`` table with a cursor rather than drawing
keys at random; hash order is unrelated to expiry time, so each loop's 20 keys are
statistically a random sample, which is what we draw.

``performEvictions`` in Redis also stops after a time budget (``maxmemory-eviction-tenacity``)
and finishes in a background timer; we always evict to below ``maxmemory`` at once.

Sampling differs in one documented way: Redis samples with ``dictGetSomeKeys`` (distinct
keys from a walk of adjacent hash buckets), we sample uniformly at random (distinct keys
for small keyspaces, independent draws for large ones).  Redis's own documentation treats its
sample as random, and with a well-mixed hash table the two agree.

Memory accounting charges ``size_bytes`` (key plus value payload) plus a per-key overhead;
``used_memory_bytes`` is the keyspace only (Redis's ``used_memory`` also has a ~1 MB
baseline, client buffers and replication backlog, which ``maxmemory`` counts too).
``REDIS_KEY_OVERHEAD_BYTES`` is Redis 7's layout on 64-bit Linux with jemalloc: a
``dictEntry`` (3 pointers, 24 B, jemalloc size class 32 B) + its hash-table bucket pointer
(8 B at load factor 1) + the value ``robj`` (16 B) + the key's ``sdshdr8`` header and NUL
(4 B) + the value's ``sdshdr8`` header and NUL (4 B) = 64 B.  A key with a TTL also has an
entry in the ``expires`` dict: ``REDIS_EXPIRE_OVERHEAD_BYTES`` = 32 B entry + 8 B bucket.
jemalloc rounding of the payloads themselves (up to ~25 % of small strings) is not counted.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.evict_math import (
    EVPOOL_SIZE,
    LFU_INIT_VAL,
    LRU_CLOCK_MAX,
    EvictionPool,
    lfu_decr_and_return,
    lfu_initial_field,
    lfu_log_incr,
    lfu_time_elapsed,
    lfu_time_in_minutes,
    lfu_touch_field,
    lru_clock,
    lru_idle,
)

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

POLICIES: tuple[str, ...] = (
    "lru",
    "fifo",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "noeviction",
)

REDIS_KEY_OVERHEAD_BYTES = 32 + 8 + 16 + 4 + 4
REDIS_EXPIRE_OVERHEAD_BYTES = 32 + 8

ACTIVE_EXPIRE_KEYS_PER_LOOP = 20  # expire.c ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP
ACTIVE_EXPIRE_ACCEPTABLE_STALE_PCT = 10  # expire.c ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE
ACTIVE_EXPIRE_MAX_LOOPS = 1250  # stands in for the 25 ms time limit, see module docstring
_MAX_CRON_TICKS_PER_ACCESS = 100  # bounds catch-up work after a long idle gap
# dictGetSomeKeys returns distinct keys; below this many keys we sample without replacement,
# above it independent draws repeat a key with probability <= samples**2 / (2 n) (1.3 % for 5).
_DISTINCT_SAMPLE_BELOW = 1000


class CacheModel:
    """Counters, TTL bookkeeping and active expiry shared by every policy.

    Subclasses implement :meth:`access` (the hot path) and ``_delete``.  Keys with a TTL are
    kept in ``_when`` (key -> absolute expire time in seconds) and in ``_vkeys``/``_vpos``, a
    list with positions so that a uniformly random volatile key costs O(1).
    """

    policy: str

    def __init__(
        self,
        maxmemory_bytes: int,
        *,
        seed: int = 0,
        per_key_overhead_bytes: int = REDIS_KEY_OVERHEAD_BYTES,
        expire_overhead_bytes: int = REDIS_EXPIRE_OVERHEAD_BYTES,
        hz: int = 10,
    ) -> None:
        if maxmemory_bytes <= 0:
            raise ValueError("maxmemory_bytes must be positive")
        if hz <= 0:
            raise ValueError("hz must be positive")
        self.maxmemory_bytes = int(maxmemory_bytes)
        self.per_key_overhead_bytes = int(per_key_overhead_bytes)
        self.expire_overhead_bytes = int(expire_overhead_bytes)
        self.hz = hz
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.expirations = 0
        self.rejected_writes = 0
        self.used_memory_bytes = 0
        self._rng = random.Random(seed)
        self._when: dict[int, float] = {}
        self._vkeys: list[int] = []
        self._vpos: dict[int, int] = {}
        self._cron_period_s = 1.0 / hz
        self._next_cron_s = float("-inf")

    # --- public -------------------------------------------------------------------------

    def access(
        self, key: int, size_bytes: int, now_s: float, ttl_s: float | None = None, write: bool = False
    ) -> bool:
        """One request for ``key``; True on a hit.  A miss stores the key (cache-aside fill)
        with ``ttl_s`` (None: no TTL).  A ``write`` (SET) stores ``size_bytes`` and replaces
        the TTL (None clears it) whether or not the key existed; it counts as a hit when the
        key was present.  A read hit leaves the TTL alone, as GET does."""
        raise NotImplementedError

    def access_many(
        self,
        keys: Sequence[int] | np.ndarray,
        sizes: Sequence[int] | np.ndarray,
        times_s: Sequence[float] | np.ndarray,
        ttls_s: Sequence[float] | np.ndarray | None = None,
        writes: Sequence[bool] | np.ndarray | None = None,
    ) -> np.ndarray:
        """:meth:`access` over arrays; returns a boolean array of hits.

        ``ttls_s`` may hold NaN (or be None) for "no TTL".  Arrays are turned into Python
        lists once, so the loop touches only Python ints and floats.
        """
        k = _as_list(keys)
        s = _as_list(sizes)
        t = _as_list(times_s)
        n = len(k)
        if len(s) != n or len(t) != n:
            raise ValueError("keys, sizes and times_s must have the same length")
        acc = self.access
        if ttls_s is None and writes is None:
            out = [acc(k[i], s[i], t[i]) for i in range(n)]
        else:
            ttl = [None] * n if ttls_s is None else [None if x != x else x for x in _as_list(ttls_s)]
            w = [False] * n if writes is None else [bool(x) for x in _as_list(writes)]
            if len(ttl) != n or len(w) != n:
                raise ValueError("ttls_s and writes must match keys in length")
            out = [acc(k[i], s[i], t[i], ttl[i], w[i]) for i in range(n)]
        return np.array(out, dtype=bool)

    def delete(self, key: int, now_s: float) -> bool:
        """DEL: remove ``key``; True if it existed (an expired key counts as expired, not
        deleted, as ``expireIfNeeded`` runs first in Redis)."""
        if key not in self:
            return False
        when = self._when.get(key)
        self._delete(key)
        if when is not None and now_s > when:
            self.expirations += 1
            return False
        return True

    def __len__(self) -> int:
        raise NotImplementedError

    def __contains__(self, key: object) -> bool:
        raise NotImplementedError

    @property
    def hit_ratio(self) -> float:
        """Hits over all accesses so far (0.0 before the first access)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def stats(self) -> dict[str, Any]:
        """The counters, named after Redis's INFO fields where one exists."""
        return {
            "policy": self.policy,
            "keyspace_hits": self.hits,
            "keyspace_misses": self.misses,
            "evicted_keys": self.evictions,
            "expired_keys": self.expirations,
            "rejected_writes": self.rejected_writes,
            "used_memory": self.used_memory_bytes,
            "maxmemory": self.maxmemory_bytes,
            "keys": len(self),
            "expires": len(self._when),
        }

    # --- TTL bookkeeping (not on the hot path unless TTLs are used) ----------------------

    def _delete(self, key: int) -> None:
        raise NotImplementedError

    def _set_expire(self, key: int, when_s: float) -> None:
        if key not in self._when:
            self._vpos[key] = len(self._vkeys)
            self._vkeys.append(key)
            self.used_memory_bytes += self.expire_overhead_bytes
        self._when[key] = when_s

    def _clear_expire(self, key: int) -> None:
        if self._when.pop(key, None) is None:
            return
        pos = self._vpos.pop(key)
        last = self._vkeys.pop()
        if last != key:
            self._vkeys[pos] = last
            self._vpos[last] = pos
        self.used_memory_bytes -= self.expire_overhead_bytes

    def _cron(self, now_s: float) -> None:
        """Run the ``hz`` ticks that fell due up to ``now_s`` (serverCron -> activeExpireCycle)."""
        period = self._cron_period_s
        tick = self._next_cron_s
        if tick == float("-inf") or now_s - tick > _MAX_CRON_TICKS_PER_ACCESS * period:
            tick = now_s - (now_s % period) if tick == float("-inf") else now_s - (now_s - tick) % period
        while tick <= now_s:
            if self._when:
                self._active_expire_cycle(tick)
            tick += period
        self._next_cron_s = tick

    def _active_expire_cycle(self, now_s: float) -> None:
        """expire.c ``activeExpireCycle`` (slow): sample 20, repeat while >10 % were stale."""
        when = self._when
        vkeys = self._vkeys
        rnd = self._rng.random
        for _ in range(ACTIVE_EXPIRE_MAX_LOOPS):
            n = len(vkeys)
            if n == 0:
                return
            sampled = min(n, ACTIVE_EXPIRE_KEYS_PER_LOOP)
            expired = 0
            for _ in range(sampled):
                if not vkeys:
                    break
                key = vkeys[int(rnd() * len(vkeys))]
                if now_s > when[key]:
                    self._delete(key)
                    self.expirations += 1
                    expired += 1
            if expired * 100 <= sampled * ACTIVE_EXPIRE_ACCEPTABLE_STALE_PCT:
                return


def _as_list(a: Sequence[Any] | np.ndarray) -> list[Any]:
    return a.tolist() if isinstance(a, np.ndarray) else list(a)


class ExactCache(CacheModel):
    """Exact LRU (``lru``) or FIFO (``fifo``) over an ``OrderedDict`` of key -> charged bytes.

    Room is made before inserting and an object larger than ``maxmemory_bytes`` is not
    stored, as in libCacheSim, so with ``per_key_overhead_bytes=0`` the hit ratio equals
    libCacheSim's ``LRU``/``FIFO`` on the same trace.
    """

    def __init__(self, policy: str, maxmemory_bytes: int, **kwargs: Any) -> None:
        if policy not in ("lru", "fifo"):
            raise ValueError(f"ExactCache handles 'lru' and 'fifo', not {policy!r}")
        super().__init__(maxmemory_bytes, **kwargs)
        self.policy = policy
        self._move_on_hit = policy == "lru"
        self._entries: OrderedDict[int, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def access(
        self, key: int, size_bytes: int, now_s: float, ttl_s: float | None = None, write: bool = False
    ) -> bool:
        if self._when and now_s >= self._next_cron_s:
            self._cron(now_s)
        entries = self._entries
        charged = entries.get(key)
        if charged is not None:
            when = self._when
            if when and key in when and now_s > when[key]:
                self._delete(key)
                self.expirations += 1
            else:
                if self._move_on_hit:
                    entries.move_to_end(key)
                if write:
                    self._overwrite(key, charged, size_bytes, now_s, ttl_s)
                self.hits += 1
                return True
        self.misses += 1
        charged = size_bytes + self.per_key_overhead_bytes
        if charged > self.maxmemory_bytes:
            return False
        used = self.used_memory_bytes + charged
        if ttl_s is not None:
            used += self.expire_overhead_bytes
        if used > self.maxmemory_bytes:
            self._make_room(used - self.maxmemory_bytes)
        entries[key] = charged
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
        """As :meth:`CacheModel.access_many`; batches with no TTL and no write (and a cache
        holding no TTL) take an inlined loop.

        The inlined loop is the same algorithm as :meth:`access` with the per-call attribute
        lookups hoisted out; ``test_cache`` checks that both give identical hits.
        """
        no_ttl = ttls_s is None or bool(np.isnan(np.asarray(ttls_s, dtype=np.float64)).all())
        no_write = writes is None or not np.any(writes)
        if not (no_ttl and no_write) or self._when:
            return super().access_many(keys, sizes, times_s, ttls_s, writes)
        k = _as_list(keys)
        s = _as_list(sizes)
        n = len(k)
        if len(s) != n or len(times_s) != n:
            raise ValueError("keys, sizes and times_s must have the same length")
        entries = self._entries
        move = entries.move_to_end if self._move_on_hit else None
        popitem = entries.popitem
        maxmemory = self.maxmemory_bytes
        overhead = self.per_key_overhead_bytes
        used = self.used_memory_bytes
        out = bytearray(n)
        hits = 0
        evictions = 0
        for i in range(n):
            key = k[i]
            if key in entries:
                if move is not None:
                    move(key)
                out[i] = 1
                hits += 1
                continue
            charged = s[i] + overhead
            if charged > maxmemory:
                continue
            used += charged
            while used > maxmemory:
                used -= popitem(False)[1]
                evictions += 1
            entries[key] = charged
        self.hits += hits
        self.misses += n - hits
        self.evictions += evictions
        self.used_memory_bytes = used
        return np.frombuffer(bytes(out), dtype=bool).copy()

    def _make_room(self, need_bytes: int) -> None:
        entries = self._entries
        when = self._when
        freed = 0
        while freed < need_bytes and entries:
            key, charged = entries.popitem(last=False)
            freed += charged
            self.used_memory_bytes -= charged
            if when and key in when:
                self._clear_expire(key)
                freed += self.expire_overhead_bytes
            self.evictions += 1

    def _overwrite(self, key: int, charged: int, size_bytes: int, now_s: float, ttl_s: float | None) -> None:
        new = size_bytes + self.per_key_overhead_bytes
        self._entries[key] = new
        self.used_memory_bytes += new - charged
        if ttl_s is None:
            self._clear_expire(key)
        else:
            self._set_expire(key, now_s + ttl_s)
        if self.used_memory_bytes > self.maxmemory_bytes:
            # LRU: the key is already the most recent; FIFO: it keeps its place in the queue
            self._make_room(self.used_memory_bytes - self.maxmemory_bytes)

    def _delete(self, key: int) -> None:
        self.used_memory_bytes -= self._entries.pop(key)
        if self._when:
            self._clear_expire(key)


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
        if policy not in POLICIES or policy in ("lru", "fifo"):
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
        k = _as_list(keys)
        s = _as_list(sizes)
        t = _as_list(times_s)
        n = len(k)
        if len(s) != n or len(t) != n:
            raise ValueError("keys, sizes and times_s must have the same length")
        ttl = [None] * n if ttls_s is None else [None if x != x else x for x in _as_list(ttls_s)]
        w = [False] * n if writes is None else [bool(x) for x in _as_list(writes)]
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
    if policy in ("lru", "fifo"):
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
