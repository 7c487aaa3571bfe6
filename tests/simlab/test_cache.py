"""Cache-content model: policy semantics, Redis's sampled eviction, LFU counters, expiry.

Hit-ratio tolerances below come from binomial standard errors of the measured ratio over
the counted requests (stated at each test); exact comparisons are exact.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simlab.model.cache import (
    EVPOOL_SIZE,
    LFU_INIT_VAL,
    POLICIES,
    REDIS_EXPIRE_OVERHEAD_BYTES,
    REDIS_KEY_OVERHEAD_BYTES,
    EvictionPool,
    RedisCache,
    lfu_decr_and_return,
    lfu_log_incr,
    make_cache,
)
from simlab.workload.traces import write_oracle_general, zipf_trace

BARE = {"per_key_overhead_bytes": 0, "expire_overhead_bytes": 0}


def _run(cache, trace) -> float:
    hits = cache.access_many(trace.keys, trace.sizes, trace.times_s)
    return float(hits.mean())


@pytest.fixture(scope="module")
def zipf_small():
    return zipf_trace(200_000, 20_000, 1.0, seed=11, rate_rps=2000.0)


# --- interface -------------------------------------------------------------------------


@pytest.mark.parametrize("policy", POLICIES)
def test_make_cache_every_policy(policy: str) -> None:
    cache = make_cache(policy, 10_000)
    assert cache.access(1, 100, 0.0) is False
    assert cache.access(1, 100, 0.5) is True
    assert (cache.hits, cache.misses) == (1, 1)
    assert cache.used_memory_bytes == 100 + REDIS_KEY_OVERHEAD_BYTES


def test_unknown_policy_rejected() -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        make_cache("allkeys-mru", 100)


def test_exact_lru_order() -> None:
    c = make_cache("lru", 3, **BARE)
    for key in (1, 2, 3):
        c.access(key, 1, 0.0)
    c.access(1, 1, 0.0)  # 1 becomes most recent; 2 is now least
    c.access(4, 1, 0.0)
    assert 2 not in c and all(k in c for k in (1, 3, 4))
    assert c.evictions == 1


def test_fifo_ignores_hits() -> None:
    c = make_cache("fifo", 3, **BARE)
    for key in (1, 2, 3, 1):
        c.access(key, 1, 0.0)
    c.access(4, 1, 0.0)
    assert 1 not in c and 2 in c


def test_object_larger_than_memory_not_stored() -> None:
    c = make_cache("lru", 10, **BARE)
    c.access(1, 5, 0.0)
    assert c.access(2, 11, 0.0) is False
    assert 2 not in c and 1 in c and c.used_memory_bytes == 5


@pytest.mark.parametrize("policy", ["lru", "fifo", "allkeys-lru", "allkeys-lfu", "volatile-ttl"])
def test_access_many_equals_access_loop(policy: str, zipf_small) -> None:
    tr = zipf_small.head(30_000)
    ttls = np.where(tr.keys % 3 == 0, 5.0, np.nan)
    a = make_cache(policy, 2_000, seed=3, **BARE)
    b = make_cache(policy, 2_000, seed=3, **BARE)
    ha = a.access_many(tr.keys, tr.sizes, tr.times_s)
    hb = np.array(
        [b.access(int(k), int(s), float(t)) for k, s, t in zip(tr.keys, tr.sizes, tr.times_s, strict=True)]
    )
    assert np.array_equal(ha, hb)
    d = make_cache(policy, 2_000, seed=3, **BARE)
    no_ttl = np.full(len(tr), np.nan)
    hd = d.access_many(tr.keys, tr.sizes, tr.times_s, ttls_s=no_ttl, writes=np.zeros(len(tr), dtype=bool))
    assert np.array_equal(ha, hd)
    c = make_cache(policy, 2_000, seed=3, **BARE)
    hc = c.access_many(tr.keys, tr.sizes, tr.times_s, ttls_s=ttls)
    assert c.hits == int(hc.sum()) and c.misses == len(tr) - c.hits


# --- against libCacheSim -----------------------------------------------------------------


@pytest.mark.parametrize("policy", ["lru", "fifo"])
def test_exact_policies_equal_libcachesim(policy: str, tmp_path) -> None:
    """Same trace through libCacheSim's C reader and cache: hit ratios agree to 4 decimals
    (in fact exactly: both are deterministic and make room the same way)."""
    lcs = pytest.importorskip("libcachesim")
    rng = np.random.default_rng(5)
    tr = zipf_trace(150_000, 30_000, 0.9, seed=5, size_bytes=rng.integers(1, 200, 30_000))
    path = tmp_path / "z.oracleGeneral"
    write_oracle_general(path, tr)
    for cap in (50_000, 400_000):
        reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
        ref = {"lru": lcs.LRU, "fifo": lcs.FIFO}[policy](cap)
        miss_ratio, _ = ref.process_trace(reader)
        ours = _run(make_cache(policy, cap, **BARE), tr)
        assert round(ours, 4) == round(1.0 - miss_ratio, 4)
        assert abs(ours - (1.0 - miss_ratio)) < 1e-9


# --- Redis sampled policies ----------------------------------------------------------------


def test_sampled_lru_close_to_but_not_exact_lru(zipf_small) -> None:
    """Redis's docs show sampled LRU (5 samples + pool) tracks exact LRU closely.  With
    ~190k counted requests the binomial standard error of each ratio is <= 0.0012, so a
    2-point gap would be a real difference; we require |diff| < 0.02 and diff != 0."""
    exact = _run(make_cache("lru", 2_000, **BARE), zipf_small)
    sampled = _run(make_cache("allkeys-lru", 2_000, **BARE), zipf_small)
    assert sampled != exact
    assert abs(sampled - exact) < 0.02
    assert sampled > _run(make_cache("allkeys-random", 2_000, **BARE), zipf_small) - 0.005


def test_more_samples_approach_exact_lru(zipf_small) -> None:
    exact = _run(make_cache("lru", 2_000, **BARE), zipf_small)
    gaps = [
        abs(_run(make_cache("allkeys-lru", 2_000, samples=s, **BARE), zipf_small) - exact) for s in (1, 10)
    ]
    assert gaps[1] < gaps[0]


def test_allkeys_lfu_beats_lru_under_irm(zipf_small) -> None:
    """Under the independent reference model frequency is the right signal (LFU is optimal
    among online policies for IRM), so Redis LFU should not lose to LRU."""
    lru = _run(make_cache("allkeys-lru", 2_000, **BARE), zipf_small)
    lfu = _run(make_cache("allkeys-lfu", 2_000, **BARE), zipf_small)
    assert lfu > lru


def test_eviction_pool_persists_across_calls() -> None:
    c = make_cache("allkeys-lru", 50, **BARE)
    assert isinstance(c, RedisCache)
    for i in range(200):
        c.access(i, 1, float(i))
    assert len(c._pool) > 0
    assert c.used_memory_bytes <= 51


def _redis_pool_insert(pool_key: list, pool_idle: list, key: int, idle: float) -> None:
    """evictionPoolPopulate's insertion, transcribed line by line from evict.c."""
    k = 0
    while k < EVPOOL_SIZE and pool_key[k] is not None and pool_idle[k] < idle:
        k += 1
    if k == 0 and pool_key[EVPOOL_SIZE - 1] is not None:
        return
    if k < EVPOOL_SIZE and pool_key[k] is None:
        pass
    elif pool_key[EVPOOL_SIZE - 1] is None:
        pool_key[k + 1 :] = pool_key[k : EVPOOL_SIZE - 1]
        pool_idle[k + 1 :] = pool_idle[k : EVPOOL_SIZE - 1]
    else:
        k -= 1
        pool_key[0:k] = pool_key[1 : k + 1]
        pool_idle[0:k] = pool_idle[1 : k + 1]
    pool_key[k] = key
    pool_idle[k] = idle


def test_eviction_pool_matches_evict_c() -> None:
    rng = np.random.default_rng(4)
    ours: EvictionPool[int] = EvictionPool()
    ref_key: list = [None] * EVPOOL_SIZE
    ref_idle: list = [0] * EVPOOL_SIZE
    for step in range(5_000):
        if rng.random() < 0.15:
            live = {int(k): 1 for k in rng.integers(0, 50, 30)}
            got = ours.pop_best(live.__contains__)
            want = None
            for k in range(EVPOOL_SIZE - 1, -1, -1):  # evict.c's backward scan
                if ref_key[k] is None:
                    continue
                cand = ref_key[k]
                ref_key[k] = None
                ref_idle[k] = 0
                if cand in live:
                    want = cand
                    break
            assert got == want, step
        else:
            key, idle = int(rng.integers(0, 50)), int(rng.integers(0, 40))
            ours.insert(idle, key)
            _redis_pool_insert(ref_key, ref_idle, key, idle)
        filled = [k for k in ref_key if k is not None]
        assert ours.entries == filled and ours.idles == ref_idle[: len(filled)], step


def test_memory_overshoot_then_evict_before_next_command() -> None:
    """processCommand runs performEvictions before the command: a fill may overshoot."""
    c = make_cache("allkeys-lru", 10, **BARE)
    for i in range(10):
        c.access(i, 1, 0.0)
    c.access(100, 5, 1.0)
    assert c.used_memory_bytes == 15 and c.evictions == 0
    c.access(100, 5, 2.0)
    assert c.used_memory_bytes <= 10 and c.evictions == 5


def test_noeviction_refuses_fill() -> None:
    c = make_cache("noeviction", 3, **BARE)
    for i in range(5):
        c.access(i, 1, 0.0)
    assert len(c) == 4 and c.rejected_writes == 1 and c.evictions == 0


def test_volatile_policies_evict_only_keys_with_ttl() -> None:
    for policy in ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"):
        c = make_cache(policy, 10, **BARE)
        for i in range(5):
            c.access(i, 1, 0.0)  # persistent
        for i in range(5, 10):
            c.access(i, 1, 0.0, ttl_s=1000.0 + i)
        for i in range(10, 20):
            c.access(i, 1, 1.0, ttl_s=1000.0)
        assert all(i in c for i in range(5)), policy
        assert c.evictions > 0


def test_volatile_ttl_evicts_soonest_expiry() -> None:
    c = make_cache("volatile-ttl", 4, samples=10, **BARE)
    for i, ttl in enumerate((400.0, 100.0, 300.0, 200.0)):
        c.access(i, 1, 0.0, ttl_s=ttl)
    c.access(9, 1, 0.0, ttl_s=500.0)
    c.access(9, 1, 0.0)
    assert 1 not in c and len(c) == 4


def test_volatile_without_ttl_keys_fails_like_noeviction() -> None:
    c = make_cache("volatile-lru", 3, **BARE)
    for i in range(6):
        c.access(i, 1, 0.0)
    assert len(c) == 4 and c.rejected_writes == 2


def test_redis_overhead_charged() -> None:
    c = make_cache("allkeys-lru", 10**6)
    c.access(1, 10, 0.0, ttl_s=5.0)
    assert c.used_memory_bytes == 10 + REDIS_KEY_OVERHEAD_BYTES + REDIS_EXPIRE_OVERHEAD_BYTES
    c.access(1, 20, 1.0, write=True)  # SET without EX clears the TTL
    assert c.used_memory_bytes == 20 + REDIS_KEY_OVERHEAD_BYTES


# --- LFU counter (evict.c LFULogIncr / LFUDecrAndReturn) ----------------------------------


def test_lfu_new_key_starts_at_init_val() -> None:
    c = make_cache("allkeys-lfu", 1000, **BARE)
    assert isinstance(c, RedisCache)
    c.access(7, 1, 0.0)
    assert c.lfu_counter(7, 0.0) == LFU_INIT_VAL == 5


def test_lfu_log_incr_probability() -> None:
    # below/at LFU_INIT_VAL the increment is certain: baseval clamps to 0, p = 1
    assert lfu_log_incr(0, 10, 0.999) == 1
    assert lfu_log_incr(5, 10, 0.999) == 6
    # counter 15, factor 10: p = 1/((15-5)*10+1) = 1/101
    assert lfu_log_incr(15, 10, 1 / 101 - 1e-9) == 16
    assert lfu_log_incr(15, 10, 1 / 101 + 1e-9) == 15
    assert lfu_log_incr(255, 10, 0.0) == 255


def test_lfu_counter_growth_matches_redis_table() -> None:
    """Redis's redis.conf table (factor 10): ~100 hits -> 10, ~1k hits -> 18, ~100k -> 142.

    The counter is a random walk; from 5, reaching c needs sum_{k=5}^{c-1} ((k-5)*10+1)
    expected hits.  We check the expected-hit formula's inverse within +-2 counts at 1000
    hits (the standard deviation of the count of trials to climb from 5 to 18 is ~15 % of
    its mean, i.e. about one counter step here).
    """
    rng = np.random.default_rng(0)
    counter = LFU_INIT_VAL
    for r in rng.random(1000):
        counter = lfu_log_incr(counter, 10, float(r))
    expected_hits = np.cumsum([(k - 5) * 10 + 1 for k in range(5, 60)])
    c_expected = 5 + int(np.searchsorted(expected_hits, 1000))
    assert abs(counter - c_expected) <= 2, (counter, c_expected)
    assert 16 <= counter <= 20  # redis.conf: 1K hits -> 18


def test_lfu_decay_one_per_minute() -> None:
    field = (100 << 8) | 20  # ldt = minute 100, counter 20
    assert lfu_decr_and_return(field, 100, 1) == 20
    assert lfu_decr_and_return(field, 103, 1) == 17
    assert lfu_decr_and_return(field, 103, 2) == 19  # decay time 2: one per 2 minutes
    assert lfu_decr_and_return(field, 200, 1) == 0
    assert lfu_decr_and_return(field, 200, 0) == 20  # lfu-decay-time 0: never decays
    wrap = (65530 << 8) | 20
    assert lfu_decr_and_return(wrap, 4, 1) == 11  # 16-bit minute clock wrapped: 65535-65530+4


def test_lfu_decay_in_cache() -> None:
    c = make_cache("allkeys-lfu", 1000, **BARE)
    assert isinstance(c, RedisCache)
    c.access(1, 1, 0.0)
    for t in range(1, 30):
        c.access(1, 1, float(t) * 0.01)
    high = c.lfu_counter(1, 1.0)
    assert high > LFU_INIT_VAL
    assert c.lfu_counter(1, 1.0 + 60 * 3) == max(high - 3, 0)


# --- expiry -------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["lru", "allkeys-lru"])
def test_lazy_expiry_counts(policy: str) -> None:
    c = make_cache(policy, 10_000, hz=1)
    c.access(1, 1, 0.0, ttl_s=10.0)
    assert c.access(1, 1, 10.0) is True  # Redis: expired only when now > when
    assert c.access(1, 1, 10.5) is False  # before the next cron tick: lazy expiry
    assert c.expirations == 1


@pytest.mark.parametrize("policy", ["lru", "allkeys-lru", "allkeys-lfu"])
def test_active_expire_cycle_removes_unread_keys(policy: str) -> None:
    """20 keys sampled per loop at hz=10, repeated while >10 % stale: keys that are never
    read again still leave memory.  After all 1000 expire, a few ticks clear them; the cycle
    stops once a sample is <= 10 % stale, so a remainder below ~10 % may stay."""
    c = make_cache(policy, 10**7, **BARE)
    for i in range(1000):
        c.access(i, 10, 0.0, ttl_s=1.0)
    for j in range(30):  # 3 s of other traffic, ticks every 0.1 s
        c.access(10_000 + j, 10, 1.0 + 0.1 * j)
    assert c.expirations >= 900
    assert len(c) <= 30 + 100
    assert c.stats()["expired_keys"] == c.expirations


def test_write_updates_size_and_ttl() -> None:
    c = make_cache("allkeys-lru", 10_000, **BARE)
    c.access(1, 10, 0.0)
    assert c.access(1, 30, 1.0, ttl_s=5.0, write=True) is True
    assert c.used_memory_bytes == 30
    assert c.access(1, 30, 7.0) is False and c.expirations == 1


def test_sampled_lru_hit_ratio_is_reproducible(zipf_small) -> None:
    a = _run(make_cache("allkeys-lru", 2_000, seed=1, **BARE), zipf_small)
    b = _run(make_cache("allkeys-lru", 2_000, seed=1, **BARE), zipf_small)
    assert a == b and not math.isnan(a)


def test_lfu_decayed_hot_key_is_evicted_first() -> None:
    """A key hot an hour ago decays by one per minute (lfu-decay-time 1) to 0, below the
    LFU_INIT_VAL of fresh keys, so the pool (samples >= keys: it sees every key) picks it."""
    c = make_cache("allkeys-lfu", 10, samples=16, **BARE)
    assert isinstance(c, RedisCache)
    for i in range(300):
        c.access(0, 1, i * 0.01)
    assert c.lfu_counter(0, 3.0) > 10
    for k in range(1, 10):
        c.access(k, 1, 3600.0)
    c.access(10, 1, 3600.0)  # overshoot by one
    c.access(10, 1, 3601.0)  # performEvictions before this command
    assert 0 not in c and all(k in c for k in range(1, 11))


def test_lru_clock_wraps_at_24_bits() -> None:
    """estimateObjectIdleTime: an lru stamped just before the 2**24 s wrap is older than one
    stamped after it, though its raw clock value is larger."""
    c = make_cache("allkeys-lru", 2, samples=16, **BARE)
    wrap = float(1 << 24)
    c.access(1, 1, wrap - 10)
    c.access(2, 1, wrap + 5)
    c.access(3, 1, wrap + 20)
    c.access(3, 1, wrap + 21)
    assert 1 not in c and 2 in c and 3 in c


def test_delete_and_replay_trace(tmp_path) -> None:
    from simlab.model.cache import replay_trace
    from simlab.workload.traces import read_twitter_csv

    path = tmp_path / "t.csv"
    path.write_text(
        "0,a,1,9,1,get,0\n"  # miss, filled
        "1,a,1,9,1,get,0\n"  # hit
        "2,a,1,9,1,delete,0\n"  # existed
        "3,a,1,9,1,get,0\n"  # miss again
        "4,b,1,19,1,set,2\n"  # write of a new key with TTL 2 s
        "5,b,1,19,1,get,0\n"  # hit
        "9,b,1,19,1,delete,0\n"  # expired by now: not a delete
    )
    tr = read_twitter_csv(path)
    c = make_cache("allkeys-lru", 10_000, **BARE)
    assert replay_trace(c, tr).tolist() == [False, True, True, False, False, True, False]
    assert c.expirations == 1 and len(c) == 1
    assert c.delete(12345, 10.0) is False


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "volatile-lru", "volatile-lfu", "volatile-ttl"])
def test_fast_path_evicts_the_same_victims(policy: str) -> None:
    """RedisCache.access_many inlines the read-hit path (the LRU clock stamp and the LFU
    touch); run it and the per-request :meth:`access` on the same sequence and require the
    same victims in the same order: the slot list (which records every eviction's swap) and
    every ``robj.lru`` word are compared after each chunk.  Tolerance: none (same seed, same
    draws)."""
    rng = np.random.default_rng(14)
    n = 6_000
    keys = rng.zipf(1.1, n) % 400
    sizes = rng.integers(50, 300, n)
    times = np.cumsum(rng.exponential(0.7, n))  # ~70 min: LFU decays, the LRU clock moves
    ttls = np.where(rng.random(n) < 0.7, rng.uniform(30, 600, n), np.nan)
    writes = rng.random(n) < 0.1
    fast = make_cache(policy, 20_000, seed=3)
    ref = make_cache(policy, 20_000, seed=3)
    assert isinstance(fast, RedisCache) and isinstance(ref, RedisCache)
    for start in range(0, n, 250):
        part = slice(start, start + 250)
        fast.access_many(keys[part], sizes[part], times[part], ttls[part], writes[part])
        for i in range(start, min(n, start + 250)):
            ttl = None if np.isnan(ttls[i]) else float(ttls[i])
            ref.access(int(keys[i]), int(sizes[i]), float(times[i]), ttl, bool(writes[i]))
        assert fast._keys == ref._keys and fast._lru == ref._lru, start
    assert fast.evictions == ref.evictions > 100
