"""Exact eviction policies: the textbook LRU and FIFO over an ``OrderedDict``.

* ``lru`` and ``fifo``: exact policies over an ``OrderedDict`` (the textbook algorithms,
  identical in hit ratio to libCacheSim's ``LRU``/``FIFO`` when ``per_key_overhead_bytes=0``).

These make room *before* inserting, as libCacheSim does (one file per eviction algorithm
there too), so that their hit ratios can be compared with it to the last request.  Memory
accounting, TTLs and active expiry are the shared model in cache_memory.py.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from simlab.model.cache_memory import CacheModel, as_list

__all__ = ["EXACT_POLICIES", "ExactCache"]

EXACT_POLICIES: tuple[str, ...] = ("lru", "fifo")


class ExactCache(CacheModel):
    """Exact LRU (``lru``) or FIFO (``fifo``) over an ``OrderedDict`` of key -> charged bytes.

    Room is made before inserting and an object larger than ``maxmemory_bytes`` is not
    stored, as in libCacheSim, so with ``per_key_overhead_bytes=0`` the hit ratio equals
    libCacheSim's ``LRU``/``FIFO`` on the same trace.
    """

    def __init__(self, policy: str, maxmemory_bytes: int, **kwargs: Any) -> None:
        if policy not in EXACT_POLICIES:
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
        k = as_list(keys)
        s = as_list(sizes)
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
