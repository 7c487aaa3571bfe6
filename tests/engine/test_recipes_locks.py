"""Locks on both servers: redis-py's own Lock unchanged, mutual exclusion across threads and
processes, and Redlock over five servers while a minority is stopped and restarted.

Mutual exclusion is checked two ways: a lost-update counter (GET, pause, SET under the lock
must count every increment) and the holders' ``[start, end)`` intervals on the monotonic clock,
which is system-wide on Linux (CLOCK_MONOTONIC), so intervals from different processes
compare.  No tolerance: one overlap fails the test.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from typing import TYPE_CHECKING

import pytest
import redis
from redis.exceptions import LockError, LockNotOwnedError

from engine.recipes.locks import LockNotAcquired, Redlock

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

    from tests.support.servers import ServerHandle

pytest_plugins = ["tests.support.servers"]

Interval = tuple[int, int]


def assert_disjoint(intervals: list[Interval]) -> None:
    ordered = sorted(intervals)
    for (s1, e1), (s2, e2) in zip(ordered, ordered[1:], strict=False):
        assert e1 <= s2, f"overlap: [{s1}, {e1}) and [{s2}, {e2})"


# --- redis-py's Lock, unchanged ------------------------------------------------------------


def test_lock_acquire_is_exclusive(server: ServerHandle) -> None:
    r = server.client()
    a, b = r.lock("L", timeout=5), r.lock("L", timeout=5)
    assert a.acquire(blocking=False)
    assert not b.acquire(blocking=False)
    assert a.locked() and a.owned() and not b.owned()
    a.release()
    assert b.acquire(blocking=False)
    b.release()
    assert not r.exists("L")


def test_lock_blocking_timeout(server: ServerHandle) -> None:
    r = server.client()
    holder = r.lock("L", timeout=5, thread_local=False)  # released from a timer thread below
    assert holder.acquire()
    t0 = time.monotonic()
    assert not r.lock("L", timeout=5, blocking_timeout=0.3, sleep=0.02).acquire()
    waited = time.monotonic() - t0
    assert 0.25 <= waited < 2.0  # blocking_timeout, plus polling and scheduling slack
    threading.Timer(0.2, holder.release).start()
    waiter = r.lock("L", timeout=5, blocking_timeout=3, sleep=0.02)
    assert waiter.acquire()  # gets it once the holder lets go
    waiter.release()


def test_lock_expires_and_release_is_owner_only(server: ServerHandle) -> None:
    r = server.client()
    a = r.lock("L", timeout=0.2)
    assert a.acquire(blocking=False)
    intruder = r.lock("L", timeout=5)
    intruder.local.token = b"not-the-owner"
    with pytest.raises(LockNotOwnedError):
        intruder.release()
    assert r.exists("L")
    time.sleep(0.3)  # past the 200 ms TTL
    b = r.lock("L", timeout=5)
    assert b.acquire(blocking=False)
    with pytest.raises(LockNotOwnedError):
        a.release()  # a's lease ran out; it must not delete b's lock
    assert b.owned()
    b.release()


def test_lock_extend_and_reacquire(server: ServerHandle) -> None:
    r = server.client()
    lock = r.lock("L", timeout=1)
    assert lock.acquire(blocking=False)
    assert 0 < r.pttl("L") <= 1000
    assert lock.extend(2)  # adds 2 s to the remaining TTL
    assert 1000 < r.pttl("L") <= 3000
    assert lock.extend(10, replace_ttl=True)
    assert 9000 < r.pttl("L") <= 10000
    assert lock.reacquire()  # back to the lock's own timeout
    assert 0 < r.pttl("L") <= 1000
    other = r.lock("L", timeout=1)
    other.local.token = b"someone-else"
    with pytest.raises(LockNotOwnedError):
        other.extend(5)
    lock.release()
    with pytest.raises(LockError):
        lock.release()  # not held any more


def test_lock_as_context_manager(server: ServerHandle) -> None:
    r = server.client()
    with r.lock("L", timeout=5, blocking_timeout=1):
        assert r.exists("L")
        assert not r.lock("L", blocking_timeout=0.05, sleep=0.01).acquire()
    assert not r.exists("L")


# --- mutual exclusion: threads and processes ------------------------------------------------

ITERATIONS = 12
THREADS_PER_PROCESS = 2
PROCESSES = 3


def _critical_sections(url: str, iterations: int, out: list[Interval]) -> None:
    r = redis.Redis.from_url(url)
    for _ in range(iterations):
        with r.lock("mx", timeout=10, blocking_timeout=30, sleep=0.002):
            start = time.monotonic_ns()
            value = int(r.get("counter") or 0)  # a lost update if two are inside at once
            time.sleep(0.002)
            r.set("counter", value + 1)
            out.append((start, time.monotonic_ns()))


def _process_main(url: str, iterations: int, threads: int, queue: Queue) -> None:
    intervals: list[Interval] = []
    workers = [
        threading.Thread(target=_critical_sections, args=(url, iterations, intervals)) for _ in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    queue.put(intervals)


def test_mutual_exclusion_threads_and_processes(server: ServerHandle) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue: Queue = ctx.Queue()
    procs = [
        ctx.Process(target=_process_main, args=(server.url, ITERATIONS, THREADS_PER_PROCESS, queue))
        for _ in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    try:
        local: list[Interval] = []
        _process_main_local = [
            threading.Thread(target=_critical_sections, args=(server.url, ITERATIONS, local)) for _ in range(2)
        ]
        for t in _process_main_local:
            t.start()
        for t in _process_main_local:
            t.join(timeout=60)
        intervals = list(local)
        for _ in procs:
            intervals.extend(queue.get(timeout=60))
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
    total = (PROCESSES * THREADS_PER_PROCESS + 2) * ITERATIONS
    assert len(intervals) == total
    assert server.client().get("counter") == str(total).encode()
    assert_disjoint(intervals)


# --- Redlock over five servers ---------------------------------------------------------------


def test_redlock_majority(five_servers: list[ServerHandle]) -> None:
    lock = Redlock.from_urls([h.url for h in five_servers], timeout_ms=100)
    other = Redlock.from_urls([h.url for h in five_servers], timeout_ms=100, retry_count=0)
    lease = lock.acquire("res", ttl_ms=2000)
    assert lease is not None and lease.votes == 5 and lease.validity_ms <= 2000 - 22
    assert other.acquire("res", ttl_ms=2000) is None
    assert lock.release(lease) == 5
    five_servers[0].stop()
    five_servers[1].stop()
    lease = other.acquire("res", ttl_ms=2000)
    assert lease is not None and lease.votes == 3  # 3 of 5 is a majority
    other.release(lease)
    five_servers[2].stop()
    assert other.acquire("res", ttl_ms=2000) is None  # 2 of 5 is not
    with pytest.raises(LockNotAcquired):
        with other.lock("res", 2000):
            pass


def test_redlock_extend(five_servers: list[ServerHandle]) -> None:
    lock = Redlock.from_urls([h.url for h in five_servers], timeout_ms=100)
    lease = lock.acquire("res", ttl_ms=500)
    assert lease is not None
    longer = lock.extend(lease, ttl_ms=5000)
    assert longer is not None and longer.validity_ms > 4000
    assert all(4000 < h.client().pttl("res") <= 5000 for h in five_servers)
    lock.release(longer)
    assert lock.extend(longer, ttl_ms=5000) is None  # released: nothing to extend


CHAOS_SECONDS = 8.0
TTL_MS = 1000
# A holder starts its critical section only with this much validity left, as a Redlock client
# must (the work has to fit in the validity time).  The margin covers scheduling stalls on a
# loaded machine: the embedded engines share the test's process and GIL.
MIN_WORK_MS = 300


def test_redlock_no_overlap_while_minority_restarts(five_servers: list[ServerHandle]) -> None:
    """4 threads compete for one resource for ~8 s while 2 of the 5 servers are repeatedly
    stopped and, after more than the TTL ("delayed restart"), started again empty."""
    urls = [h.url for h in five_servers]
    deadline = time.monotonic() + CHAOS_SECONDS
    stop = threading.Event()
    intervals: list[Interval] = []
    late: list[int] = []
    errors: list[BaseException] = []
    votes_seen: dict[int, int] = {}
    short = [0]
    guard = threading.Lock()
    restarts = 0

    def holder(seed: int) -> None:
        rng = random.Random(seed)
        lock = Redlock.from_urls(urls, timeout_ms=50, retry_count=2, retry_delay_ms=30)
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                lease = lock.acquire("chaos", ttl_ms=TTL_MS)
                if lease is None:
                    continue
                if lease.remaining_ms < MIN_WORK_MS:  # too little validity left for the work
                    lock.release(lease)
                    with guard:
                        short[0] += 1
                    continue
                start = time.monotonic_ns()
                time.sleep(rng.uniform(0.002, 0.012))
                end = time.monotonic_ns()
                valid = end <= lease.valid_until_monotonic * 1e9
                lock.release(lease)
                with guard:
                    intervals.append((start, end))
                    votes_seen[lease.votes] = votes_seen.get(lease.votes, 0) + 1
                    if not valid:
                        late.append(end)
        except BaseException as exc:  # reported by the main thread
            with guard:
                errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=holder, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    rng = random.Random(5)
    try:
        while not stop.is_set() and time.monotonic() < deadline - 1.5:
            time.sleep(0.5)
            down = rng.sample(five_servers, 2)
            for h in down:
                h.stop()
            time.sleep(TTL_MS / 1000 + 0.3)  # longer than any lease: a safe, delayed restart
            for h in down:
                h.start()
                restarts += 1
        while not stop.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)  # all five up for the last stretch
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not errors, errors[0]
    print(
        f"redlock: acquisitions={len(intervals)} votes={votes_seen} restarts={restarts} "
        f"short_leases={short[0]} late={len(late)}"
    )
    assert len(intervals) >= 50
    assert restarts >= 4
    assert votes_seen.get(3, 0) > 0  # some leases were won with the minority down
    assert not late  # every critical section ended inside its validity time
    assert_disjoint(intervals)
