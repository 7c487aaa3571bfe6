"""Active expiry (expire.c activeExpireCycle): keys whose TTL passed are freed even if no
client touches them again.

Each cron tick samples up to 20 keys with a TTL per database (ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP)
and deletes the stale ones, repeating while more than 10% of a sample was stale
(ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE), within 25% of the tick's time
(ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC); ``active-expire-effort`` raises both as in Redis.
"""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.server import Server

__all__ = ["active_expire_cycle", "KEYS_PER_LOOP", "ACCEPTABLE_STALE_PERC"]

KEYS_PER_LOOP = 20
ACCEPTABLE_STALE_PERC = 10
SLOW_TIME_PERC = 25


def active_expire_cycle(server: Server) -> int:
    """Run one slow cycle; return how many keys were expired."""
    effort = server.config["active-expire-effort"] - 1
    per_loop = KEYS_PER_LOOP + KEYS_PER_LOOP // 4 * effort
    stale_perc = ACCEPTABLE_STALE_PERC - effort
    budget_s = (SLOW_TIME_PERC + 2 * effort) / 100 / server.hz
    start = perf_counter()
    deadline = start + budget_s
    expired_total = 0
    for db in server.dbs:
        while db.expires:
            now = server.now_ms()
            sample = db.volatile.sample(per_loop)
            expired = 0
            for key in sample:
                when = db.expires.get(key)
                if when is not None and when < now:
                    server.expire_key(db, key)
                    expired += 1
            expired_total += expired
            if not sample or expired * 100 <= len(sample) * stale_perc or perf_counter() > deadline:
                break
        if perf_counter() > deadline:
            break
    latency = server.latency
    if latency.threshold_ms:
        # activeExpireCycle: latencyAddSampleIfNeeded("expire-cycle", elapsed ms)
        latency.add_event("expire-cycle", int((perf_counter() - start) * 1000))
    return expired_total
