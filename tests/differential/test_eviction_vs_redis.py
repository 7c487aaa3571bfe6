"""Hit ratio under a memory limit: the engine against redis-server with the same policy.

A seeded Zipf(0.9) workload over 30 000 keys with 100-byte values runs as cache-aside
(GET; SET on a miss) in batches of 200 (a pipeline of GETs, then one of SETs for the
misses) against both servers with ``maxmemory 2mb`` (about 5 500 keys fit).

:func:`test_hit_ratio_matches_redis` runs 60 000 requests against each server in turn.  Its
tolerance, from the first eviction issue, is 2 percentage points for allkeys-lru, allkeys-lfu
and allkeys-random; the keys each server holds at the end must agree within 10 %.

:func:`test_full_speed_matches_redis` is the full-speed case: 150 000 requests sent as fast as
the client can, to both servers batch by batch (a batch to redis-server, the same batch to the
engine).  Redis's LRU clock ticks once a second (LRU_CLOCK_RESOLUTION 1000 ms, read by
serverCron), so what allkeys-lru knows of recency is which keys were touched in an earlier
second than the others: the fewer requests a second holds, the more it knows.  A server run
alone at full speed is therefore judged by its own throughput and the machine's load, not by
its algorithm: redis-server alone gave 0.6382 in 2.2 s and 0.6460 in 3.4 s on this machine,
and paced to 10 s and 20 s it gave 0.6631 and 0.6705 (its allkeys-random stays at 0.632): a
server that needs several times Redis's time for the same requests reaches the issue's 0.6731
with Redis's own algorithm.  Sending each batch to both servers back to back gives both the
same requests in the same seconds, so the comparison measures the eviction algorithm only
(benchmarks/bench_eviction.py runs each server alone and prints both).
Tolerances, from the issue: hit ratio within 1 percentage point and keys held within 1 % for
every allkeys policy (the workload sets no TTL, so the volatile policies would only refuse
writes).  The comparison does see hidden recency: an engine whose LRU clock ticked every
100 ms instead of every second gave 0.6728 against redis-server's 0.6575 (+1.5 points).

Keys held depend on more than the per-key estimate (which is exact for these keys: MEMORY
USAGE 168 on both, and used_memory grows by the same bytes per key): every command a server
has executed once holds a 24 688-byte latency histogram (about 140 keys, 2.4 % of this cache).
Both servers are therefore sent the same commands: a PING first (the real server's start-up
check sends one), then redis-py's ``CLIENT SETINFO`` on connect, which Redis 7.0 refuses
without a histogram and the engine answers as 7.2 does but leaves out of used_memory (counting
it held 140 keys fewer than Redis).  ``DBSIZE`` is the first command after the load on both: both evict
before every command when over the limit, and a new histogram from a read-only command makes
the next command evict.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import redis

from engine.server import EmbeddedServer
from tests.support.redis_real import real_redis

pytestmark = pytest.mark.redis_server

N_KEYS = 30_000
N_OPS = 60_000
BATCH = 200
VALUE = b"v" * 100
MAXMEMORY = "2mb"

FULL_SPEED_OPS = 150_000
#: Wall-clock bound of one full-speed policy run; both servers stop at the same batch, so a
#: slower machine compares a shorter common prefix of the same sequence.
FULL_SPEED_BUDGET_S = 60.0


def _workload(seed: int = 42, n_ops: int = N_OPS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, N_KEYS + 1, dtype=float)
    p = ranks ** -0.9
    p /= p.sum()
    return rng.choice(N_KEYS, size=n_ops, p=p)


def _batch(r: redis.Redis, batch: list[bytes]) -> int:
    """One cache-aside batch: pipelined GETs, then pipelined SETs of the misses; the hits."""
    p = r.pipeline(transaction=False)
    for k in batch:
        p.get(k)
    replies = p.execute()
    p = r.pipeline(transaction=False)
    hits = 0
    for k, v in zip(batch, replies, strict=True):
        if v is None:
            p.set(k, VALUE)
        else:
            hits += 1
    p.execute()
    return hits


def _run(r: redis.Redis, keys: np.ndarray) -> tuple[float, int]:
    hits = 0
    for start in range(0, len(keys), BATCH):
        hits += _batch(r, [b"key:%d" % k for k in keys[start:start + BATCH]])
    return hits / len(keys), int(r.dbsize())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_hit_ratio_matches_redis(policy: str) -> None:
    keys = _workload()
    with real_redis("--maxmemory", MAXMEMORY, "--maxmemory-policy", policy) as real:
        real_ratio, real_keys = _run(real.client(), keys)
        evicted_real = int(real.client().info("stats")["evicted_keys"])
    with EmbeddedServer(maxmemory=MAXMEMORY, **{"maxmemory-policy": policy}) as srv:
        eng = redis.Redis(port=srv.port)
        eng.ping()  # real_redis's start-up PING gave redis-server that latency histogram
        eng_ratio, eng_keys = _run(eng, keys)
        assert srv.server is not None
        evicted_eng = srv.server.stats.evicted_keys
    print(f"{policy}: hit ratio redis {real_ratio:.4f} engine {eng_ratio:.4f}; "
          f"keys held redis {real_keys} engine {eng_keys}; evicted redis {evicted_real} engine {evicted_eng}")
    assert evicted_eng > 0 and evicted_real > 0
    assert abs(eng_keys - real_keys) <= 0.10 * real_keys
    assert abs(eng_ratio - real_ratio) <= 0.02


@pytest.mark.timeout(180)
@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_full_speed_matches_redis(policy: str) -> None:
    keys = _workload(n_ops=FULL_SPEED_OPS)
    with (
        real_redis("--maxmemory", MAXMEMORY, "--maxmemory-policy", policy) as real,
        EmbeddedServer(maxmemory=MAXMEMORY, **{"maxmemory-policy": policy}) as srv,
    ):
        rc, ec = real.client(), redis.Redis(host="127.0.0.1", port=srv.port)
        ec.ping()  # the same command history as redis-server after real_redis's start-up PING
        real_hits = eng_hits = sent = 0
        deadline = time.monotonic() + FULL_SPEED_BUDGET_S
        t0 = time.perf_counter()
        while sent < len(keys) and time.monotonic() < deadline:
            batch = [b"key:%d" % k for k in keys[sent:sent + BATCH]]
            real_hits += _batch(rc, batch)
            eng_hits += _batch(ec, batch)
            sent += len(batch)
        elapsed = time.perf_counter() - t0
        real_keys, eng_keys = int(rc.dbsize()), int(ec.dbsize())
        evicted_real = int(rc.info("stats")["evicted_keys"])
        assert srv.server is not None
        evicted_eng = srv.server.stats.evicted_keys
    real_ratio, eng_ratio = real_hits / sent, eng_hits / sent
    print(f"{policy} full speed, {sent:,} requests in {elapsed:.1f} s: hit ratio redis {real_ratio:.4f} "
          f"engine {eng_ratio:.4f} ({100 * (eng_ratio - real_ratio):+.2f} points); keys held redis "
          f"{real_keys} engine {eng_keys} ({100 * (eng_keys - real_keys) / real_keys:+.2f} %); "
          f"evicted redis {evicted_real} engine {evicted_eng}")
    assert sent >= 30_000, f"only {sent} requests in {FULL_SPEED_BUDGET_S} s: too few to fill the cache and evict"
    assert evicted_real > 0 and evicted_eng > 0
    assert abs(eng_keys - real_keys) <= 0.01 * real_keys
    assert abs(eng_ratio - real_ratio) <= 0.01
