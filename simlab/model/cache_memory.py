"""The memory model every cache policy shares: counters, memory accounting, TTLs and
active expiry, as Redis keeps them (the policies themselves are cache_exact.py and
cache_redis.py; simlab/model/cache.py is the facade that picks one).

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
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "REDIS_KEY_OVERHEAD_BYTES",
    "REDIS_EXPIRE_OVERHEAD_BYTES",
    "ACTIVE_EXPIRE_KEYS_PER_LOOP",
    "ACTIVE_EXPIRE_ACCEPTABLE_STALE_PCT",
    "ACTIVE_EXPIRE_MAX_LOOPS",
    "CacheModel",
    "as_list",
]

REDIS_KEY_OVERHEAD_BYTES = 32 + 8 + 16 + 4 + 4
REDIS_EXPIRE_OVERHEAD_BYTES = 32 + 8

ACTIVE_EXPIRE_KEYS_PER_LOOP = 20  # expire.c ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP
ACTIVE_EXPIRE_ACCEPTABLE_STALE_PCT = 10  # expire.c ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE
ACTIVE_EXPIRE_MAX_LOOPS = 1250  # stands in for the 25 ms time limit, see module docstring
_MAX_CRON_TICKS_PER_ACCESS = 100  # bounds catch-up work after a long idle gap


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
        k = as_list(keys)
        s = as_list(sizes)
        t = as_list(times_s)
        n = len(k)
        if len(s) != n or len(t) != n:
            raise ValueError("keys, sizes and times_s must have the same length")
        acc = self.access
        if ttls_s is None and writes is None:
            out = [acc(k[i], s[i], t[i]) for i in range(n)]
        else:
            ttl = [None] * n if ttls_s is None else [None if x != x else x for x in as_list(ttls_s)]
            w = [False] * n if writes is None else [bool(x) for x in as_list(writes)]
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


def as_list(a: Sequence[Any] | np.ndarray) -> list[Any]:
    """An array or sequence as a Python list, so hot loops touch only Python ints/floats."""
    return a.tolist() if isinstance(a, np.ndarray) else list(a)
