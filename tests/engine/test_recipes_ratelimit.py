"""Rate limiters against both servers, in simulated time (explicit ``now_ms``, no sleeping).

Tolerances: none for the exact algorithms (fixed window, sliding log, token bucket, GCRA), whose
counts follow from integer arithmetic; the sliding-window counter is an estimate, bounded by
the exact counts of the two windows it blends.
"""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING

import pytest

from engine.recipes.gcra import NS_PER_S, gcra
from engine.recipes.ratelimit import (
    FixedWindow,
    Gcra,
    InvalidRateLimit,
    RateLimiter,
    SlidingLog,
    SlidingWindow,
    TokenBucket,
)

if TYPE_CHECKING:
    from tests.support.servers import ServerHandle

pytest_plugins = ["tests.support.servers"]  # the server / server_kind fixtures

T0_MS = 1_700_000_000_000  # a simulated epoch, aligned to every window used here


def make(kind: str, server: ServerHandle, window_ms: int = 1000) -> RateLimiter:
    """A limiter of ``kind`` admitting 10 per ``window_ms`` (bursts of 10 for bucket and GCRA)."""
    client = server.client()
    if kind == "fixed":
        return FixedWindow(client, limit=10, window_ms=window_ms)
    if kind == "log":
        return SlidingLog(client, limit=10, window_ms=window_ms)
    if kind == "window":
        return SlidingWindow(client, limit=10, window_ms=window_ms)
    if kind == "bucket":
        return TokenBucket(client, capacity=10, rate_per_s=10_000 / window_ms)
    if kind == "gcra":
        return Gcra(client, max_burst=9, count=10, period_ms=window_ms)
    raise AssertionError(kind)


ALL = ["fixed", "log", "window", "bucket", "gcra"]


def drive(limiter: RateLimiter, times_ms: list[int], key: str = "k") -> list[int]:
    """Hit once at each simulated time; return the times that were allowed."""
    return [t for t in times_ms if limiter.hit(key, now_ms=T0_MS + t).allowed]


def test_fixed_window_counts(server: ServerHandle) -> None:
    allowed = drive(make("fixed", server), list(range(0, 3000, 10)))
    for w in range(3):
        in_window = [t for t in allowed if w * 1000 <= t < (w + 1) * 1000]
        assert in_window == list(range(w * 1000, w * 1000 + 100, 10))  # the first 10 of each


def test_fixed_window_admits_double_at_the_boundary(server: ServerHandle) -> None:
    allowed = drive(make("fixed", server), [990] * 15 + [1000] * 15)
    assert len(allowed) == 20  # the known weakness the sliding variants fix


def test_sliding_log_is_exact(server: ServerHandle) -> None:
    times = sorted(random.Random(7).sample(range(0, 5000), 400))
    allowed = drive(make("log", server), times)
    for t in times:  # any window (t - 1000, t] holds at most 10 admitted requests
        assert sum(1 for a in allowed if t - 1000 < a <= t) <= 10
    # and it is work-conserving: a request is denied only when its window is full
    for t in set(times) - set(allowed):
        assert sum(1 for a in allowed if t - 1000 < a <= t) == 10


def test_sliding_window_is_bounded_by_its_two_windows(server: ServerHandle) -> None:
    allowed = drive(make("window", server), list(range(0, 4000, 5)))
    for w in range(4):
        assert len([t for t in allowed if w * 1000 <= t < (w + 1) * 1000]) <= 10
    for t in range(1000, 4000, 50):
        assert len([a for a in allowed if t - 1000 < a <= t]) <= 20
    assert len(allowed) >= 3 * 10  # steady demand gets at least the long-run rate


@pytest.mark.parametrize("kind", ["bucket", "gcra"])
def test_bucket_and_gcra_burst_then_rate(server: ServerHandle, kind: str) -> None:
    limiter = make(kind, server)
    allowed = drive(limiter, list(range(0, 3000, 10)))
    assert allowed[:10] == list(range(0, 100, 10))  # the burst
    # after the burst: one per 100 ms emission interval
    assert allowed[10:] == list(range(100, 3000, 100))


@pytest.mark.parametrize("kind", ALL)
def test_retry_after_is_exact(server: ServerHandle, kind: str) -> None:
    limiter = make(kind, server)
    now = T0_MS + 250
    for _ in range(10):
        assert limiter.hit("r", now_ms=now).allowed
    denied = limiter.hit("r", now_ms=now)
    assert not denied.allowed and denied.remaining == 0 and denied.retry_after_ms > 0
    retry = denied.retry_after_ms
    assert not limiter.hit("r", now_ms=now + retry - 1).allowed
    assert limiter.hit("r", now_ms=now + retry).allowed


@pytest.mark.parametrize("kind", ALL)
def test_remaining_counts_down_and_oversized_never_passes(server: ServerHandle, kind: str) -> None:
    limiter = make(kind, server)
    assert [limiter.hit("c", now_ms=T0_MS).remaining for _ in range(3)] == [9, 8, 7]
    big = limiter.hit("c", cost=11, now_ms=T0_MS)
    assert (big.allowed, big.retry_after_ms, big.limit) == (False, -1, 10)
    assert limiter.hit("c", cost=7, now_ms=T0_MS).allowed  # denials consumed nothing
    assert not limiter.hit("c", now_ms=T0_MS).allowed


@pytest.mark.parametrize("kind", ALL)
def test_atomic_under_threads(server: ServerHandle, kind: str) -> None:
    limiter = make(kind, server)
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            ok = limiter.hit("hot", now_ms=T0_MS + 500).allowed
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 60 and sum(results) == 10


@pytest.mark.parametrize("kind", ALL)
def test_server_clock(server: ServerHandle, kind: str) -> None:
    limiter = make(kind, server, window_ms=600_000)  # slow enough that no refill lands mid-test
    results = [limiter.hit("live") for _ in range(12)]
    assert [r.allowed for r in results] == [True] * 10 + [False] * 2
    assert results[0].reset_after_ms > 0 and results[-1].retry_after_ms > 0


def test_gcra_script_agrees_with_redis_cell_core(server: ServerHandle) -> None:
    limiter = Gcra(server.client(), max_burst=3, count=4, period_ms=1000)  # 250 ms interval
    rng = random.Random(11)
    tat: int | None = None
    now = T0_MS
    for _ in range(200):
        now += rng.choice([0, 0, 50, 100, 250, 700])
        quantity = rng.choice([1, 1, 1, 2, 5])
        got = limiter.hit("x", cost=quantity, now_ms=now)
        want = gcra(tat, now * 1_000_000, max_burst=3, count=4, period_s=1, quantity=quantity)
        if want.new_tat_ns is not None and want.ttl_ns > 0:
            tat = want.new_tat_ns
        elif want.new_tat_ns is not None:
            tat = None
        assert got.allowed == (not want.limited)
        assert got.remaining == want.remaining
        assert got.reset_after_ms * 1_000_000 == want.reset_after_ns
        if want.limited and want.retry_after_ns > 0:
            assert got.retry_after_ms * 1_000_000 == want.retry_after_ns
    assert NS_PER_S == 1_000_000_000


def test_survives_script_flush(server: ServerHandle) -> None:
    limiter = make("gcra", server)
    assert limiter.hit("f", now_ms=T0_MS).allowed
    server.client().script_flush()
    assert limiter.hit("f", now_ms=T0_MS).remaining == 8  # EVALSHA -> NOSCRIPT -> EVAL


def test_invalid_configuration() -> None:
    with pytest.raises(InvalidRateLimit):
        FixedWindow(None, limit=0, window_ms=1000)  # type: ignore[arg-type]
    with pytest.raises(InvalidRateLimit):
        TokenBucket(None, capacity=5, rate_per_s=0)  # type: ignore[arg-type]


class ReferenceModels:
    """Plain-Python statements of the exact algorithms, decided one request at a time."""

    def __init__(self) -> None:
        self.fixed: dict[int, int] = {}
        self.log: list[int] = []
        self.tokens = 10.0
        self.ts: int | None = None

    def fixed_window(self, now: int, cost: int) -> bool:
        window = now - now % 1000
        if self.fixed.get(window, 0) + cost > 10:
            return False
        self.fixed[window] = self.fixed.get(window, 0) + cost
        return True

    def sliding_log(self, now: int, cost: int) -> bool:
        self.log = [t for t in self.log if t > now - 1000]
        if len(self.log) + cost > 10:
            return False
        self.log += [now] * cost
        return True

    def token_bucket(self, now: int, cost: int) -> bool:
        elapsed = 0 if self.ts is None else max(0, now - self.ts)
        self.tokens, self.ts = min(10.0, self.tokens + elapsed * 0.01), now
        if cost <= self.tokens + 1e-9:
            self.tokens = max(0.0, self.tokens - cost)
            return True
        return False


@pytest.mark.parametrize(
    ("kind", "model"), [("fixed", "fixed_window"), ("log", "sliding_log"), ("bucket", "token_bucket")]
)
def test_matches_reference_model(server: ServerHandle, kind: str, model: str) -> None:
    limiter, reference = make(kind, server), ReferenceModels()
    rng = random.Random(3)
    now = 0
    for _ in range(300):
        now += rng.choice([0, 1, 7, 40, 90, 333])
        cost = rng.choice([1, 1, 1, 2, 4])
        assert limiter.hit("m", cost=cost, now_ms=T0_MS + now).allowed == getattr(reference, model)(now, cost), now
