"""Distributed locks: Redlock over N independent servers.

For one server, redis-py's own :class:`redis.lock.Lock` (``client.lock(name, timeout=...)``)
is the lock to use: ``SET name token NX PX ttl`` to acquire and Lua compare-and-delete /
compare-and-extend to release or extend, so only the owner can do either.  It is re-exported
here as :data:`Lock` so the service imports its locks from one place.

One server is a single point of failure, so this module also implements Redlock, the
algorithm of the Redis documentation (https://redis.io/docs/manual/patterns/distributed-locks/):

1. take the time, then try ``SET resource token NX PX ttl`` on every one of N servers with a
   short network timeout, so a dead server costs milliseconds, not the lease;
2. the lock is held if a majority (``N // 2 + 1``) said OK and the *validity time*
   ``ttl - elapsed - drift`` is positive, where ``drift = ttl * 0.01 + 2 ms`` allows for the
   servers' clocks running at slightly different rates;
3. otherwise release on all servers and retry after a random delay, so that competing clients
   desynchronise instead of splitting the votes again;
4. release sends the compare-and-delete script to every server, also those that did not answer
   OK (the SET may have succeeded with the reply lost).

Safety assumes a restarted server comes back without the keys it lost only after the longest
TTL has passed ("delayed restarts" in the same document), or with fsync'd persistence.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import redis
from redis.lock import Lock

__all__ = [
    "CLOCK_DRIFT_FACTOR",
    "CLOCK_DRIFT_MIN_MS",
    "Lock",
    "LockNotAcquired",
    "Redlock",
    "RedlockLease",
]

#: Redis's suggested drift allowance: 1% of the TTL plus 2 ms of timer granularity.
CLOCK_DRIFT_FACTOR = 0.01
CLOCK_DRIFT_MIN_MS = 2

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# A server that is down or slow counts as a "no" vote; nothing else is swallowed.
_UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError)


class LockNotAcquired(Exception):
    """Redlock could not win a majority within its retries."""


@dataclass(frozen=True, slots=True)
class RedlockLease:
    """A held Redlock.  Trust it only while ``time.monotonic() < valid_until_monotonic``."""

    resource: str
    token: str
    validity_ms: int
    valid_until_monotonic: float
    votes: int

    @property
    def remaining_ms(self) -> float:
        return (self.valid_until_monotonic - time.monotonic()) * 1000.0


class Redlock:
    """Redlock over ``clients``, each a connection to an independent Redis server.

    Give the clients short ``socket_timeout`` / ``socket_connect_timeout`` (see
    :meth:`from_urls`): a vote must cost far less than the TTL.
    """

    def __init__(
        self,
        clients: Sequence[redis.Redis],
        *,
        retry_count: int = 3,
        retry_delay_ms: int = 200,
        clock_drift_factor: float = CLOCK_DRIFT_FACTOR,
    ) -> None:
        if not clients:
            raise ValueError("Redlock needs at least one server")
        self.clients = list(clients)
        self.quorum = len(self.clients) // 2 + 1
        self.retry_count = retry_count
        self.retry_delay_ms = retry_delay_ms
        self.clock_drift_factor = clock_drift_factor
        self._unlock = [c.register_script(_UNLOCK) for c in self.clients]
        self._extend = [c.register_script(_EXTEND) for c in self.clients]

    @classmethod
    def from_urls(cls, urls: Sequence[str], *, timeout_ms: int = 50, **kw: int | float) -> Redlock:
        """Clients for ``urls`` with network timeouts of ``timeout_ms``."""
        timeout_s = timeout_ms / 1000.0
        clients = [
            redis.Redis.from_url(u, socket_timeout=timeout_s, socket_connect_timeout=timeout_s) for u in urls
        ]
        return cls(clients, **kw)  # type: ignore[arg-type]

    def _drift_ms(self, ttl_ms: int) -> float:
        return ttl_ms * self.clock_drift_factor + CLOCK_DRIFT_MIN_MS

    def _try_once(self, resource: str, token: str, ttl_ms: int) -> RedlockLease | None:
        start = time.monotonic()
        votes = 0
        for client in self.clients:
            try:
                if client.set(resource, token, nx=True, px=ttl_ms):
                    votes += 1
            except _UNAVAILABLE:
                pass
        elapsed_ms = (time.monotonic() - start) * 1000.0
        validity_ms = ttl_ms - elapsed_ms - self._drift_ms(ttl_ms)
        if votes >= self.quorum and validity_ms > 0:
            return RedlockLease(
                resource=resource,
                token=token,
                validity_ms=int(validity_ms),
                valid_until_monotonic=start + validity_ms / 1000.0,
                votes=votes,
            )
        self._release_all(resource, token)
        return None

    def acquire(self, resource: str, ttl_ms: int, *, retry_count: int | None = None) -> RedlockLease | None:
        """Try up to ``1 + retry_count`` rounds; the lease, or ``None`` if no round won."""
        if ttl_ms <= 0:
            raise ValueError(f"ttl_ms must be positive, got {ttl_ms}")
        token = secrets.token_hex(16)
        rounds = 1 + (self.retry_count if retry_count is None else retry_count)
        for attempt in range(rounds):
            lease = self._try_once(resource, token, ttl_ms)
            if lease is not None:
                return lease
            if attempt + 1 < rounds:
                time.sleep(random.uniform(0, self.retry_delay_ms) / 1000.0)
        return None

    def extend(self, lease: RedlockLease, ttl_ms: int) -> RedlockLease | None:
        """Reset the TTL where ``lease`` still holds; a new lease if a majority agreed in time."""
        start = time.monotonic()
        votes = 0
        for script in self._extend:
            try:
                votes += int(script(keys=[lease.resource], args=[lease.token, ttl_ms]))
            except _UNAVAILABLE:
                pass
        validity_ms = ttl_ms - (time.monotonic() - start) * 1000.0 - self._drift_ms(ttl_ms)
        if votes >= self.quorum and validity_ms > 0:
            return RedlockLease(lease.resource, lease.token, int(validity_ms), start + validity_ms / 1000.0, votes)
        return None

    def _release_all(self, resource: str, token: str) -> int:
        released = 0
        for script in self._unlock:
            try:
                released += int(script(keys=[resource], args=[token]))
            except _UNAVAILABLE:
                pass
        return released

    def release(self, lease: RedlockLease) -> int:
        """Compare-and-delete on every server; how many still held it."""
        return self._release_all(lease.resource, lease.token)

    @contextmanager
    def lock(self, resource: str, ttl_ms: int) -> Iterator[RedlockLease]:
        """``with redlock.lock("r", 1000) as lease:``; raises :class:`LockNotAcquired`."""
        lease = self.acquire(resource, ttl_ms)
        if lease is None:
            raise LockNotAcquired(resource)
        try:
            yield lease
        finally:
            self.release(lease)
