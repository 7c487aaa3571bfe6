"""Five rate limiters, each one atomic Lua script, for any Redis URL.

A limiter is a read-decide-write on shared state; done as separate commands, two clients can
read the same count and both pass.  Each limiter here is therefore a single Lua script
registered with redis-py's ``register_script`` (EVALSHA, falling back to EVAL on NOSCRIPT),
which Redis runs atomically (https://redis.io/docs/interact/programmability/eval-intro/).

Time comes from the server (``redis.call('TIME')``) so that clients with skewed clocks agree,
or from an explicit ``now_ms`` so that tests drive simulated time without sleeping.  Since
Redis 5 scripts replicate their effects, not the script, so reading TIME before writing is
allowed.  Expiry (PEXPIRE) only collects idle state: every decision reads timestamps stored in
the state itself, so simulated time and real time may differ.

=======================  ====================================================================
:class:`FixedWindow`     counter per aligned window (the INCR + EXPIRE pattern of the INCR
                         page, https://redis.io/commands/incr/#pattern-rate-limiter-1)
:class:`SlidingLog`      one sorted-set member per admitted unit; exact, O(limit) memory
:class:`SlidingWindow`   current and previous window counters, the previous one weighted by
                         its overlap (Cloudflare, "How we built rate limiting capable of
                         scaling to millions of domains", 2017)
:class:`TokenBucket`     tokens refilled continuously at ``rate_per_s`` up to ``capacity``
:class:`Gcra`            Generic Cell Rate Algorithm, the arithmetic of redis-cell's
                         CL.THROTTLE (see :mod:`engine.recipes.gcra`) in milliseconds
=======================  ====================================================================

Every ``hit`` returns a :class:`RateLimitResult`.  Denied requests consume nothing.  A request
whose ``cost`` exceeds the limit can never pass; its ``retry_after_ms`` is ``-1`` (as
redis-cell answers), the same value an allowed request carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

__all__ = [
    "FixedWindow",
    "Gcra",
    "InvalidRateLimit",
    "RateLimitResult",
    "RateLimiter",
    "SlidingLog",
    "SlidingWindow",
    "TokenBucket",
]


class InvalidRateLimit(ValueError):
    """A limiter configured with a non-positive limit, window, rate or cost."""


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    """One decision.

    ``remaining`` is how many more unit-cost requests would pass right now; ``retry_after_ms``
    how long until this request would pass (``-1`` when it passed or never can);
    ``reset_after_ms`` how long until the key is back to its empty state.
    """

    allowed: bool
    limit: int
    remaining: int
    retry_after_ms: int
    reset_after_ms: int


# Shared prologue: ARGV[1] is now in ms, or negative for the server clock.
_NOW = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

_FIXED_WINDOW = _NOW + """
local limit, window, cost = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local start = now - (now % window)
local reset = start + window - now
local count = 0
if tonumber(redis.call('HGET', KEYS[1], 'w')) == start then
  count = tonumber(redis.call('HGET', KEYS[1], 'n'))
end
if count + cost > limit then
  local retry = reset
  if cost > limit then retry = -1 end
  return {0, limit - count, retry, reset}
end
if count == 0 then redis.call('HSET', KEYS[1], 'w', start, 'n', 0) end
count = redis.call('HINCRBY', KEYS[1], 'n', cost)
redis.call('PEXPIRE', KEYS[1], reset)
return {1, limit - count, -1, reset}
"""

_SLIDING_LOG = _NOW + """
local limit, window, cost = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local function reset_after()
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if newest[2] == nil then return 0 end
  return tonumber(newest[2]) + window - now
end
if count + cost > limit then
  if cost > limit then return {0, limit - count, -1, reset_after()} end
  local oldest = redis.call('ZRANGE', KEYS[1], count + cost - limit - 1, count + cost - limit - 1, 'WITHSCORES')
  return {0, limit - count, tonumber(oldest[2]) + window - now, reset_after()}
end
local seq = redis.call('INCRBY', KEYS[2], cost)
for i = 1, cost do
  redis.call('ZADD', KEYS[1], now, now .. ':' .. (seq - cost + i))
end
redis.call('PEXPIRE', KEYS[1], window)
redis.call('PEXPIRE', KEYS[2], window)
return {1, limit - count - cost, -1, reset_after()}
"""

_SLIDING_WINDOW = _NOW + """
local limit, window, cost = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local start = now - (now % window)
local elapsed = now - start
local stored = tonumber(redis.call('HGET', KEYS[1], 'w'))
local cur, prev = 0, 0
if stored == start then
  cur = tonumber(redis.call('HGET', KEYS[1], 'cur'))
  prev = tonumber(redis.call('HGET', KEYS[1], 'prev'))
elseif stored == start - window then
  prev = tonumber(redis.call('HGET', KEYS[1], 'cur'))
end
local estimate = prev * (window - elapsed) / window + cur
local reset = 0
if cur > 0 then reset = 2 * window - elapsed elseif prev > 0 then reset = window - elapsed end
if estimate + cost > limit then
  local retry
  if cost > limit then
    retry = -1
  elseif cur + cost <= limit then
    retry = math.ceil(window * (1 - (limit - cost - cur) / prev)) - elapsed
  else
    retry = (window - elapsed) + math.ceil(window * (1 - (limit - cost) / cur))
  end
  if retry == 0 then retry = 1 end
  return {0, math.max(0, math.floor(limit - estimate)), retry, reset}
end
cur = cur + cost
redis.call('HSET', KEYS[1], 'w', start, 'cur', cur, 'prev', prev)
redis.call('PEXPIRE', KEYS[1], 2 * window - elapsed)
return {1, math.max(0, math.floor(limit - estimate - cost)), -1, 2 * window - elapsed}
"""

_TOKEN_BUCKET = _NOW + """
local capacity, rate, cost = tonumber(ARGV[2]), tonumber(ARGV[3]) / 1000, tonumber(ARGV[4])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
local ts = tonumber(redis.call('HGET', KEYS[1], 'ts'))
if tokens == nil or ts == nil then tokens, ts = capacity, now end
-- EPS absorbs the rounding of repeated binary refills (ten 0.1-token refills must make 1 token)
local EPS = 1e-9
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
if tokens > capacity - EPS then tokens = capacity end
local allowed, retry = 0, -1
if cost <= tokens + EPS then
  tokens = math.max(0, tokens - cost)
  allowed = 1
elseif cost <= capacity then
  retry = math.ceil((cost - tokens) / rate)
end
local reset = math.ceil((capacity - tokens) / rate)
if reset > 0 then
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', now)
  redis.call('PEXPIRE', KEYS[1], reset)
else
  redis.call('DEL', KEYS[1])
end
return {allowed, math.floor(tokens + EPS), retry, reset}
"""

_GCRA = _NOW + """
local burst, count, period, cost = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local interval = period / count
local dvt = interval * (burst + 1)
local increment = interval * cost
local tat = tonumber(redis.call('GET', KEYS[1])) or now
local new_tat = math.max(tat, now) + increment
local diff = now - (new_tat - dvt)
local allowed, retry, ttl = 1, -1, 0
if diff < 0 then
  allowed = 0
  if increment <= dvt then retry = math.ceil(-diff) end
  ttl = tat - now
else
  ttl = new_tat - now
  if ttl > 0 then
    redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', math.ceil(ttl))
  else
    redis.call('DEL', KEYS[1])
  end
end
local remaining = 0
local nxt = dvt - ttl
if nxt > -interval then remaining = nxt / interval end
if remaining >= 0 then remaining = math.floor(remaining) else remaining = math.ceil(remaining) end
return {allowed, remaining, retry, math.ceil(ttl)}
"""


def _positive(**values: float) -> None:
    for name, value in values.items():
        if value <= 0:
            raise InvalidRateLimit(f"{name} must be positive, got {value!r}")


class RateLimiter:
    """Common shape: a prefix, one registered script, and ``hit(key, cost, now_ms)``."""

    _source: str = ""
    limit: int

    def __init__(self, client: redis.Redis, *, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(self._source)

    def _keys(self, key: str) -> list[str]:
        return [f"{self.prefix}:{key}"]

    def _args(self, cost: int) -> list[Any]:
        raise NotImplementedError

    def hit(self, key: str, cost: int = 1, now_ms: int | None = None) -> RateLimitResult:
        """Try to spend ``cost`` units for ``key`` at ``now_ms`` (server time when ``None``)."""
        _positive(cost=cost)
        now = -1 if now_ms is None else int(now_ms)
        allowed, remaining, retry_ms, reset_ms = self._script(
            keys=self._keys(key), args=[now, *self._args(int(cost))]
        )[:4]
        return RateLimitResult(
            allowed=bool(allowed),
            limit=self.limit,
            remaining=int(remaining),
            retry_after_ms=int(retry_ms),
            reset_after_ms=int(reset_ms),
        )

    def reset(self, key: str) -> None:
        """Forget ``key``'s state (an operator's unblock)."""
        self.client.delete(*self._keys(key))


class FixedWindow(RateLimiter):
    """At most ``limit`` units per aligned window of ``window_ms``.

    The INCR + EXPIRE pattern, with the counter (HINCRBY) kept in a hash next to the start of
    its window: a counter whose window has passed is reset by the next hit rather than only by
    its expiry, so decisions depend on the caller's ``now`` and not on when the key expires.
    Cheap, but admits up to ``2 * limit`` across a window boundary.
    """

    _source = _FIXED_WINDOW

    def __init__(self, client: redis.Redis, *, limit: int, window_ms: int, prefix: str = "rl:fw") -> None:
        _positive(limit=limit, window_ms=window_ms)
        self.limit, self.window_ms = int(limit), int(window_ms)
        super().__init__(client, prefix=prefix)

    def _args(self, cost: int) -> list[Any]:
        return [self.limit, self.window_ms, cost]


class SlidingLog(RateLimiter):
    """At most ``limit`` units in any interval ``(now - window_ms, now]``, exactly."""

    _source = _SLIDING_LOG

    def __init__(self, client: redis.Redis, *, limit: int, window_ms: int, prefix: str = "rl:log") -> None:
        _positive(limit=limit, window_ms=window_ms)
        self.limit, self.window_ms = int(limit), int(window_ms)
        super().__init__(client, prefix=prefix)

    def _keys(self, key: str) -> list[str]:
        base = f"{self.prefix}:{{{key}}}"
        return [base, base + ":seq"]

    def _args(self, cost: int) -> list[Any]:
        return [self.limit, self.window_ms, cost]


class SlidingWindow(RateLimiter):
    """Approximately ``limit`` units per sliding ``window_ms``: two counters, the previous
    window's weighted by how much of it still overlaps the sliding window."""

    _source = _SLIDING_WINDOW

    def __init__(self, client: redis.Redis, *, limit: int, window_ms: int, prefix: str = "rl:sw") -> None:
        _positive(limit=limit, window_ms=window_ms)
        self.limit, self.window_ms = int(limit), int(window_ms)
        super().__init__(client, prefix=prefix)

    def _args(self, cost: int) -> list[Any]:
        return [self.limit, self.window_ms, cost]


class TokenBucket(RateLimiter):
    """A bucket of ``capacity`` tokens refilled at ``rate_per_s``; a request takes ``cost``."""

    _source = _TOKEN_BUCKET

    def __init__(
        self, client: redis.Redis, *, capacity: int, rate_per_s: float, prefix: str = "rl:tb"
    ) -> None:
        _positive(capacity=capacity, rate_per_s=rate_per_s)
        self.limit, self.rate_per_s = int(capacity), float(rate_per_s)
        super().__init__(client, prefix=prefix)

    def _args(self, cost: int) -> list[Any]:
        return [self.limit, repr(self.rate_per_s), cost]


class Gcra(RateLimiter):
    """GCRA with redis-cell's parameters: ``count`` per ``period_ms`` with bursts of
    ``max_burst`` beyond the first request, so ``limit = max_burst + 1``."""

    _source = _GCRA

    def __init__(
        self, client: redis.Redis, *, max_burst: int, count: int, period_ms: int, prefix: str = "rl:gcra"
    ) -> None:
        _positive(count=count, period_ms=period_ms)
        if max_burst < 0:
            raise InvalidRateLimit(f"max_burst must be >= 0, got {max_burst!r}")
        self.max_burst, self.count, self.period_ms = int(max_burst), int(count), int(period_ms)
        self.limit = self.max_burst + 1
        super().__init__(client, prefix=prefix)

    def _args(self, cost: int) -> list[Any]:
        return [self.max_burst, self.count, self.period_ms, cost]
