"""Cache-aside (read-through by the caller) with jittered TTLs and single-flight fills.

The service reads a key; on a miss it computes the value from the backend and stores it with a
TTL (https://redis.io/docs/manual/client-side-caching/ describes the pattern's trade-offs).
Two failure modes come with the naive version, and this module guards against both:

* **synchronised expiry**: values written together with the same TTL expire together and send
  a burst of misses to the backend.  Each write's TTL is drawn from
  ``[ttl * (1 - jitter_fraction), ttl]`` so expiries spread out.
* **cache stampede** (dog-piling): when a hot key expires, every concurrent reader misses and
  recomputes.  Fills are single-flight at two levels:

  - across processes, a short lock key ``<key>:lock`` taken with ``SET NX PX``: its holder
    computes and writes the value; everyone else polls the value key with exponential
    back-off (and jitter) until it appears or the lock vanishes, and then either reads the
    value or competes for the lock again.  The lock expires by itself if its holder dies,
    and is released with a compare-and-delete script so a slow holder never deletes a
    successor's lock;
  - within a process, threads asking for the same key share one in-flight fill (Go's
    ``singleflight``), so one process sends one lock attempt, not one per thread.

If no value appears within ``wait_timeout_s`` (a holder that hangs without dying), the waiter
computes anyway, or raises :class:`CacheFillTimeout` when ``compute_on_timeout`` is off.
Threads sharing an in-process fill wait for it at most ``wait_timeout_s`` plus the lock TTL
and then raise :class:`CacheFillTimeout`: a computation slower than its own lock is a bug to
surface, not to hide.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import redis

__all__ = ["CacheAside", "CacheFillTimeout", "CacheStats"]

T = TypeVar("T")

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class CacheFillTimeout(TimeoutError):
    """No value appeared for the key within ``wait_timeout_s`` and waiting was not to be cut short."""


@dataclass
class CacheStats:
    """Counters for one :class:`CacheAside` in this process (unlocked, so approximate under threads)."""

    hits: int = 0
    misses: int = 0
    computations: int = 0
    waits: int = 0
    shared_fills: int = 0
    timeouts: int = 0


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


def _json_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _json_loads(data: bytes) -> Any:
    return json.loads(data)


class CacheAside(Generic[T]):
    """``get_or_compute(key, compute)`` over any Redis, values serialised with ``dumps``/``loads``
    (JSON by default)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl_s: float,
        jitter_fraction: float = 0.1,
        lock_ttl_ms: int = 5000,
        wait_timeout_s: float = 5.0,
        poll_initial_ms: float = 5.0,
        poll_max_ms: float = 100.0,
        compute_on_timeout: bool = True,
        prefix: str = "cache",
        dumps: Callable[[T], bytes] = _json_dumps,
        loads: Callable[[bytes], T] = _json_loads,
    ) -> None:
        if ttl_s <= 0 or lock_ttl_ms <= 0:
            raise ValueError("ttl_s and lock_ttl_ms must be positive")
        if not 0 <= jitter_fraction < 1:
            raise ValueError(f"jitter_fraction must be in [0, 1), got {jitter_fraction}")
        self.client = client
        self.ttl_s = ttl_s
        self.jitter_fraction = jitter_fraction
        self.lock_ttl_ms = lock_ttl_ms
        self.wait_timeout_s = wait_timeout_s
        self.poll_initial_ms = poll_initial_ms
        self.poll_max_ms = poll_max_ms
        self.compute_on_timeout = compute_on_timeout
        self.prefix = prefix
        self.dumps = dumps
        self.loads = loads
        self.stats = CacheStats()
        self._release = client.register_script(_RELEASE)
        self._flights: dict[str, _Flight] = {}
        self._mutex = threading.Lock()

    def value_key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def lock_key(self, key: str) -> str:
        return f"{self.prefix}:{key}:lock"

    def _loads(self, data: bytes | str) -> T:
        # A client made with decode_responses=True hands back str.
        return self.loads(data if isinstance(data, bytes) else data.encode())

    def jittered_ttl_ms(self, ttl_s: float | None = None) -> int:
        """A TTL drawn uniformly from ``[ttl * (1 - jitter_fraction), ttl]``, in ms (>= 1)."""
        ttl_ms = (self.ttl_s if ttl_s is None else ttl_s) * 1000.0
        return max(1, int(ttl_ms * (1.0 - self.jitter_fraction * random.random())))

    def get(self, key: str) -> T | None:
        """The cached value, or ``None`` on a miss."""
        data = self.client.get(self.value_key(key))
        return None if data is None else self._loads(data)

    def set(self, key: str, value: T, *, ttl_s: float | None = None) -> None:
        """Store ``value`` with a jittered TTL (a write-through update)."""
        self.client.set(self.value_key(key), self.dumps(value), px=self.jittered_ttl_ms(ttl_s))

    def invalidate(self, key: str) -> None:
        """Drop the cached value; the next read recomputes it."""
        self.client.delete(self.value_key(key))

    def get_or_compute(self, key: str, compute: Callable[[], T], *, ttl_s: float | None = None) -> T:
        """The cached value of ``key``; on a miss, one fill across threads and processes."""
        data = self.client.get(self.value_key(key))
        if data is not None:
            self.stats.hits += 1
            return self._loads(data)
        self.stats.misses += 1
        with self._mutex:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            self.stats.shared_fills += 1
            if not flight.done.wait(self.wait_timeout_s + self.lock_ttl_ms / 1000.0):
                raise CacheFillTimeout(key)
            if flight.error is not None:
                raise flight.error
            return flight.value  # type: ignore[no-any-return]
        try:
            flight.value = self._fill(key, compute, ttl_s)
            return flight.value  # type: ignore[no-any-return]
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._mutex:
                del self._flights[key]
            flight.done.set()

    def _fill(self, key: str, compute: Callable[[], T], ttl_s: float | None) -> T:
        vkey, lkey = self.value_key(key), self.lock_key(key)
        deadline = time.monotonic() + self.wait_timeout_s
        delay_ms = self.poll_initial_ms
        while True:
            token = secrets.token_hex(16)
            if self.client.set(lkey, token, nx=True, px=self.lock_ttl_ms):
                try:
                    data = self.client.get(vkey)  # filled between our miss and our lock?
                    if data is not None:
                        return self._loads(data)
                    return self._compute_and_store(key, compute, ttl_s)
                finally:
                    self._release(keys=[lkey], args=[token])
            self.stats.waits += 1
            if time.monotonic() >= deadline:
                self.stats.timeouts += 1
                if not self.compute_on_timeout:
                    raise CacheFillTimeout(key)
                return self._compute_and_store(key, compute, ttl_s)
            time.sleep(random.uniform(0.5, 1.0) * delay_ms / 1000.0)
            delay_ms = min(delay_ms * 2, self.poll_max_ms)
            data = self.client.get(vkey)
            if data is not None:
                return self._loads(data)

    def _compute_and_store(self, key: str, compute: Callable[[], T], ttl_s: float | None) -> T:
        self.stats.computations += 1
        value = compute()
        self.set(key, value, ttl_s=ttl_s)
        return value
