"""Redis's eviction arithmetic, once: the LRU clock, the LFU log counter and its decay, the
eviction pool (evict.c, object.c and server.h of Redis 7.0).

Pure functions and one small container, no I/O, no clock reads and no server state, so the
engine (engine/evict.py, engine/commands/keys.py for OBJECT FREQ) and the simulator
(simlab/model/redis_policies.py) run the same code: a change here changes both, and the
simulator cannot drift from the server it models.  The engine never imports simlab; simlab
imports this module.

The current time is always passed in (seconds or minutes), and so is the uniform draw of
:func:`lfu_log_incr`, so that callers choose their clock and random stream (the engine: wall
time and its own ``random.Random``; the simulator: simulated time and a seeded stream).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = [
    "EVPOOL_SIZE",
    "LFU_INIT_VAL",
    "LRU_CLOCK_MAX",
    "EvictionPool",
    "lru_clock",
    "lru_idle",
    "lfu_time_in_minutes",
    "lfu_time_elapsed",
    "lfu_log_incr",
    "lfu_decr_and_return",
    "lfu_initial_field",
    "lfu_touch_field",
]

EVPOOL_SIZE = 16  # evict.c EVPOOL_SIZE
LFU_INIT_VAL = 5  # server.h LFU_INIT_VAL
LRU_CLOCK_MAX = (1 << 24) - 1  # server.h: 24-bit robj.lru, LRU_CLOCK_RESOLUTION 1000 ms

T = TypeVar("T")


def lru_clock(now_s: float) -> int:
    """``getLRUClock``: seconds modulo 2**24 (1 s resolution)."""
    return int(now_s) & LRU_CLOCK_MAX


def lru_idle(clock: int, lru: int) -> int:
    """``estimateObjectIdleTime`` in clock ticks: the distance from ``lru`` to ``clock`` on the
    24-bit LRU clock, allowing one wrap."""
    return clock - lru if clock >= lru else LRU_CLOCK_MAX - lru + clock


def lfu_time_in_minutes(now_s: float) -> int:
    """``LFUGetTimeInMinutes``: the low 16 bits of Unix time in minutes."""
    return (int(now_s) // 60) & 65535


def lfu_time_elapsed(ldt: int, now_min: int) -> int:
    """``LFUTimeElapsed``: minutes since ``ldt``, allowing one wrap of 16 bits."""
    if now_min >= ldt:
        return now_min - ldt
    return 65535 - ldt + now_min


def lfu_log_incr(counter: int, lfu_log_factor: int, r: float) -> int:
    """``LFULogIncr``: add one with probability 1 / ((counter - LFU_INIT_VAL) * factor + 1).

    ``r`` is the uniform draw in [0, 1), passed in so that callers own the random stream and
    tests can pin it.  Saturates at 255.
    """
    if counter == 255:
        return 255
    baseval = counter - LFU_INIT_VAL
    if baseval < 0:
        baseval = 0
    if r < 1.0 / (baseval * lfu_log_factor + 1):
        return counter + 1
    return counter


def lfu_decr_and_return(lru_field: int, now_min: int, lfu_decay_time: int) -> int:
    """``LFUDecrAndReturn``: the counter after one decrement per elapsed decay period.

    ``lru_field`` is Redis's 24-bit ``robj.lru`` in LFU mode: 16 bits of last-decrement time
    in minutes, then the 8-bit counter.  Nothing is written back, as in Redis.
    """
    ldt = lru_field >> 8
    counter = lru_field & 255
    if lfu_decay_time:
        num_periods = lfu_time_elapsed(ldt, now_min) // lfu_decay_time
        if num_periods:
            counter = 0 if num_periods > counter else counter - num_periods
    return counter


def lfu_initial_field(now_min: int) -> int:
    """``robj.lru`` of a new object under an LFU policy (``createObject``): the minute, then
    ``LFU_INIT_VAL``."""
    return (now_min << 8) | LFU_INIT_VAL


def lfu_touch_field(lru_field: int, now_min: int, lfu_log_factor: int, lfu_decay_time: int, r: float) -> int:
    """``updateLFU``: decay, then one logarithmic increment with draw ``r``, then stamp the
    minute; returns the new ``robj.lru``."""
    counter = lfu_decr_and_return(lru_field, now_min, lfu_decay_time)
    return (now_min << 8) | lfu_log_incr(counter, lfu_log_factor, r)


class EvictionPool(Generic[T]):
    """``EvictionPoolLRU``: up to :data:`EVPOOL_SIZE` candidates sorted by ascending idle score.

    Redis keeps the pool in a fixed array, filled from the left and emptied from the right, so
    it is always a sorted prefix; we keep that prefix as two lists and find the insertion point
    with ``bisect_left`` (Redis's linear scan stops at the first entry whose idle is not
    smaller, which is the same index).  Entries may be stale or duplicated, as in Redis: a
    pooled key's idle score is not refreshed when the key is touched.  An entry is whatever
    names a key for the caller (the engine: ``(db id, key)``; the simulator: an int key).
    """

    __slots__ = ("idles", "entries")

    def __init__(self) -> None:
        self.idles: list[float] = []
        self.entries: list[T] = []

    def __len__(self) -> int:
        return len(self.idles)

    def insert(self, idle: float, entry: T) -> None:
        """Insert as ``evictionPoolPopulate`` does for one sampled key."""
        idles = self.idles
        k = bisect_left(idles, idle)
        if len(idles) < EVPOOL_SIZE:
            idles.insert(k, idle)
            self.entries.insert(k, entry)
        elif k > 0:
            # full: discard the smallest idle (index 0), the new entry lands at k-1
            del idles[0]
            del self.entries[0]
            idles.insert(k - 1, idle)
            self.entries.insert(k - 1, entry)
        # else: full and worse than everything in it

    def pop_best(self, is_live: Callable[[T], bool]) -> T | None:
        """Take entries from the best (right) end until one ``is_live`` (the others are ghosts
        of keys deleted since they were pooled, dropped as ``performEvictions`` drops them)."""
        entries = self.entries
        idles = self.idles
        while entries:
            entry = entries.pop()
            idles.pop()
            if is_live(entry):
                return entry
        return None
