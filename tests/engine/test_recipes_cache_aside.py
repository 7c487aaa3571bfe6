"""Cache-aside on both servers: one computation per stampede, jittered TTLs, failure paths.

The stampede tests count computations exactly (no tolerance): the point of single flight is
that a burst of misses for one key reaches the backend once.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from typing import TYPE_CHECKING

import pytest
import redis

from engine.recipes.cache_aside import CacheAside, CacheFillTimeout

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

    from tests.support.servers import ServerHandle

pytest_plugins = ["tests.support.servers"]


def run_threads(n: int, target: object) -> list[object]:
    results: list[object] = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)  # type: ignore[operator]
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_twenty_threads_one_computation(server: ServerHandle) -> None:
    cache: CacheAside[dict] = CacheAside(server.client(), ttl_s=60)
    calls = []

    def compute() -> dict:
        calls.append(1)
        time.sleep(0.2)
        return {"user": 42}

    results = run_threads(20, lambda i: cache.get_or_compute("profile:42", compute))
    assert len(calls) == 1
    assert results == [{"user": 42}] * 20
    assert cache.get("profile:42") == {"user": 42}


def test_twenty_clients_one_computation_through_the_lock_key(server: ServerHandle) -> None:
    # One CacheAside per thread: no shared in-process flight, only the Redis lock key.
    caches: list[CacheAside[str]] = [CacheAside(server.client(), ttl_s=60, poll_initial_ms=2) for _ in range(20)]
    calls = []

    def compute() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "v"

    results = run_threads(20, lambda i: caches[i].get_or_compute("k", compute))
    assert results == ["v"] * 20
    assert len(calls) == 1
    assert sum(c.stats.waits > 0 for c in caches) >= 1
    assert not server.client().exists("cache:k:lock")  # released


def _process_fill(url: str, queue: Queue) -> None:
    client = redis.Redis.from_url(url)
    cache: CacheAside[str] = CacheAside(client, ttl_s=60, poll_initial_ms=2)

    def compute() -> str:
        client.incr("computations")
        time.sleep(0.3)
        return "shared"

    out: list[str] = []
    threads = [
        threading.Thread(target=lambda: out.append(cache.get_or_compute("px", compute))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    queue.put(out)


def test_processes_one_computation(server: ServerHandle) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue: Queue = ctx.Queue()
    procs = [ctx.Process(target=_process_fill, args=(server.url, queue)) for _ in range(3)]
    for p in procs:
        p.start()
    try:
        results = [v for _ in procs for v in queue.get(timeout=60)]
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
    assert results == ["shared"] * 12
    assert server.client().get("computations") == b"1"


def test_ttl_is_jittered_within_bounds(server: ServerHandle) -> None:
    r = server.client()
    cache: CacheAside[int] = CacheAside(r, ttl_s=100, jitter_fraction=0.2)
    for i in range(40):
        cache.get_or_compute(f"j{i}", lambda: 0)
    ttls = [r.pttl(f"cache:j{i}") for i in range(40)]
    assert all(80_000 - 1000 <= t <= 100_000 for t in ttls)  # 1 s slack for the test's own run
    assert len(set(ttls)) > 20  # spread out, not synchronised


def test_hit_skips_compute_and_invalidate_recomputes(server: ServerHandle) -> None:
    cache: CacheAside[list] = CacheAside(server.client(), ttl_s=60)
    calls: list[int] = []

    def compute() -> list:
        calls.append(1)
        return [1, 2]

    assert cache.get_or_compute("k", compute) == [1, 2]
    assert cache.get_or_compute("k", compute) == [1, 2]
    assert len(calls) == 1 and cache.stats.hits == 1
    cache.invalidate("k")
    assert cache.get_or_compute("k", compute) == [1, 2]
    assert len(calls) == 2


def test_errors_reach_every_waiter_and_free_the_lock(server: ServerHandle) -> None:
    cache: CacheAside[str] = CacheAside(server.client(), ttl_s=60)
    calls = []

    def compute() -> str:
        calls.append(1)
        time.sleep(0.1)
        raise RuntimeError("backend down")

    results = run_threads(8, lambda i: cache.get_or_compute("e", compute))
    assert all(isinstance(r, RuntimeError) for r in results)
    assert len(calls) == 1
    assert not server.client().exists("cache:e:lock")
    assert cache.get_or_compute("e", lambda: "recovered") == "recovered"


def test_dead_lock_holder_expires(server: ServerHandle) -> None:
    r = server.client()
    r.set("cache:d:lock", "crashed-holder", px=300)  # a holder that died mid-fill
    cache: CacheAside[str] = CacheAside(r, ttl_s=60, wait_timeout_s=5)
    t0 = time.monotonic()
    assert cache.get_or_compute("d", lambda: "fresh") == "fresh"
    assert 0.2 <= time.monotonic() - t0 < 3.0  # waited for the lock's 300 ms PX, not for the timeout
    assert cache.stats.computations == 1 and cache.stats.timeouts == 0


def test_hung_holder_times_out(server: ServerHandle) -> None:
    r = server.client()
    r.set("cache:h:lock", "hung-holder", px=60_000)
    strict: CacheAside[str] = CacheAside(r, ttl_s=60, wait_timeout_s=0.2, compute_on_timeout=False)
    with pytest.raises(CacheFillTimeout):
        strict.get_or_compute("h", lambda: "never")
    lenient: CacheAside[str] = CacheAside(r, ttl_s=60, wait_timeout_s=0.2)
    assert lenient.get_or_compute("h", lambda: "degraded") == "degraded"
    assert lenient.stats.timeouts == 1
