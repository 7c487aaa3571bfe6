"""Client-side patterns of the modelled service, for any Redis URL (redis-py only).

The service (``../shared/seeds/redis-cache-service.txt``) uses Redis for caching, sessions,
rate limiting and distributed locks.  These recipes are its patterns written once, atomic on
the server (Lua scripts, ``SET NX PX``), and tested against both real redis-server and the
engine (``tests/engine/test_recipes_*.py``):

* :mod:`.sessions`    -- hash-backed sessions with sliding idle and absolute timeouts
* :mod:`.ratelimit`   -- fixed window, sliding log, sliding window, token bucket, GCRA
* :mod:`.gcra`        -- redis-cell's GCRA as a pure function (the engine's ``CL.THROTTLE``)
* :mod:`.locks`       -- redis-py's ``Lock`` for one server, Redlock for N
* :mod:`.cache_aside` -- get-or-compute with jittered TTLs and single-flight fills

Nothing here imports the engine: the recipes reach a server only through a Redis client.
"""

from engine.recipes.cache_aside import CacheAside, CacheFillTimeout, CacheStats
from engine.recipes.gcra import GcraDecision, GcraError, gcra, throttle_reply
from engine.recipes.locks import Lock, LockNotAcquired, Redlock, RedlockLease
from engine.recipes.ratelimit import (
    FixedWindow,
    Gcra,
    InvalidRateLimit,
    RateLimiter,
    RateLimitResult,
    SlidingLog,
    SlidingWindow,
    TokenBucket,
)
from engine.recipes.sessions import Session, SessionError, SessionNotFound, SessionStore

__all__ = [
    "CacheAside",
    "CacheFillTimeout",
    "CacheStats",
    "FixedWindow",
    "Gcra",
    "GcraDecision",
    "GcraError",
    "InvalidRateLimit",
    "Lock",
    "LockNotAcquired",
    "RateLimitResult",
    "RateLimiter",
    "Redlock",
    "RedlockLease",
    "Session",
    "SessionError",
    "SessionNotFound",
    "SessionStore",
    "SlidingLog",
    "SlidingWindow",
    "TokenBucket",
    "gcra",
    "throttle_reply",
]
