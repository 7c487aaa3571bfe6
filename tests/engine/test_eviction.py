"""maxmemory and the eight maxmemory-policy values (engine/evict.py)."""

from __future__ import annotations

import time

import pytest
import redis

from engine import evict, memory
from engine.server import EmbeddedServer
from tests.engine.test_memory import on_loop

OOM = "command not allowed when used memory > 'maxmemory'."


def _fill_until_evicting(r: redis.Redis, srv: EmbeddedServer, prefix: str, ttl: int | None = None, n: int = 20_000) -> int:
    """Write keys (100-byte values) until the first eviction; return how many were written."""
    assert srv.server is not None
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set(f"{prefix}{i}", b"v" * 100, ex=ttl)
    p.execute()
    return n


def test_noeviction_refuses_denyoom_commands_with_redis_text() -> None:
    with EmbeddedServer(maxmemory="1mb") as srv:
        r = redis.Redis(port=srv.port)
        with pytest.raises(redis.ResponseError) as e:
            for i in range(20_000):
                r.set(f"k{i}", b"v" * 100)
        assert str(e.value) == OOM
        assert r.get("k0") == b"v" * 100  # reads still served
        assert r.delete("k0") == 1  # DEL is not denyoom
        assert srv.server is not None and srv.server.stats.evicted_keys == 0


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_allkeys_policies_stay_under_maxmemory(policy: str) -> None:
    with EmbeddedServer(maxmemory="2mb", **{"maxmemory-policy": policy}) as srv:
        assert srv.server is not None
        r = redis.Redis(port=srv.port)
        _fill_until_evicting(r, srv, "k")
        server = srv.server
        used = on_loop(srv, lambda: memory.used_memory(server))
        # Evictions run before each write (performEvictions), so the last SET may overshoot
        # by one key (~200 B), as in Redis.
        assert used <= 2 * 1024 * 1024 + 1024
        assert srv.server.stats.evicted_keys > 0
        assert r.dbsize() + srv.server.stats.evicted_keys == 20_000


def test_volatile_policies_evict_only_keys_with_ttl_then_fail() -> None:
    with EmbeddedServer(maxmemory="2mb", **{"maxmemory-policy": "volatile-lru"}) as srv:
        r = redis.Redis(port=srv.port)
        p = r.pipeline(transaction=False)
        for i in range(2000):
            p.set(f"persistent{i}", b"v" * 100)
        for i in range(4000):
            p.set(f"volatile{i}", b"v" * 100, ex=1000)
        p.execute()
        assert all(r.exists(f"persistent{i}") for i in range(0, 2000, 97))
        with pytest.raises(redis.ResponseError, match="^command not allowed when used memory"):
            for i in range(20_000):
                r.set(f"more{i}", b"v" * 100)
        assert r.dbsize() >= 2000
        assert all(r.exists(f"persistent{i}") for i in range(2000))


def test_allkeys_lru_prefers_idle_keys() -> None:
    """Keys whose LRU clock is 100 s older are the ones the pool picks (evictionPoolPopulate)."""
    with EmbeddedServer(maxmemory="2mb", **{"maxmemory-policy": "allkeys-lru"}) as srv:
        assert srv.server is not None
        r = redis.Redis(port=srv.port)
        p = r.pipeline(transaction=False)
        for i in range(4000):
            p.set(f"old{i}", b"v" * 100)
        p.execute()
        db = srv.server.dbs[0]
        clock = srv.server.lru_clock

        def age() -> None:
            for i in range(4000):
                db.lru[f"old{i}".encode()] = (clock - 100) & evict.LRU_CLOCK_MAX

        on_loop(srv, age)
        p = r.pipeline(transaction=False)
        for i in range(3000):
            p.set(f"new{i}", b"v" * 100)
        p.execute()
        evicted = srv.server.stats.evicted_keys
        assert evicted > 500
        new_lost = sum(1 for i in range(3000) if not r.exists(f"new{i}"))
        # With 5 samples per round and 16 pool slots a fresh key is almost never the best candidate.
        assert new_lost <= 0.02 * evicted, (new_lost, evicted)


def test_volatile_ttl_evicts_soonest_expiring_first() -> None:
    with EmbeddedServer(maxmemory="2mb", **{"maxmemory-policy": "volatile-ttl"}) as srv:
        assert srv.server is not None
        r = redis.Redis(port=srv.port)
        p = r.pipeline(transaction=False)
        for i in range(3000):
            p.set(f"soon{i}", b"v" * 100, ex=100)
            p.set(f"late{i}", b"v" * 100, ex=100_000)
        p.execute()
        p = r.pipeline(transaction=False)
        for i in range(2000):
            p.set(f"late-extra{i}", b"v" * 100, ex=100_000)
        p.execute()
        soon_left = sum(1 for i in range(3000) if r.exists(f"soon{i}"))
        late_left = sum(1 for i in range(3000) if r.exists(f"late{i}"))
        assert srv.server.stats.evicted_keys > 0
        assert soon_left < late_left


def test_lfu_counter_and_object_freq() -> None:
    """New keys start at LFU_INIT_VAL (5); hits raise the counter logarithmically.

    lfu-decay-time 0 (never decay, as in Redis): otherwise a wall-clock minute turning during
    the test takes 1 off the cold key's counter."""
    with EmbeddedServer(**{"maxmemory-policy": "allkeys-lfu", "lfu-decay-time": "0"}) as srv:
        r = redis.Redis(port=srv.port)
        r.set("hot", "1")
        r.set("cold", "1")
        assert r.object("freq", "cold") == 5
        for _ in range(2000):
            r.get("hot")
        freq = r.object("freq", "hot")
        # P(increment) = 1/((c-5)*10+1): 2000 hits reach about 5 + sqrt(2*2000/10) ~ 25.
        assert 15 <= freq <= 40, freq
        assert r.object("freq", "cold") == 5


def test_lfu_decay() -> None:
    assert evict.lfu_decr_and_return((100 << 8) | 20, 103, 1) == 17
    assert evict.lfu_decr_and_return((100 << 8) | 20, 110, 2) == 15
    assert evict.lfu_decr_and_return((100 << 8) | 2, 200, 1) == 0
    assert evict.lfu_decr_and_return((65530 << 8) | 20, 4, 1) == 11  # 16-bit minute wrap
    assert evict.lfu_log_incr(5, 10, 0.99) == 6  # baseval 0: always
    assert evict.lfu_log_incr(6, 10, 0.5) == 6  # p = 1/11
    assert evict.lfu_log_incr(255, 10, 0.0) == 255


def test_eviction_notifies_watch_and_keyspace_events() -> None:
    with EmbeddedServer(maxmemory="2mb", **{"maxmemory-policy": "allkeys-random", "notify-keyspace-events": "Ee"}) as srv:
        r = redis.Redis(port=srv.port)
        r.set("watched", "x")
        pubsub = r.pubsub()
        pubsub.subscribe("__keyevent@0__:evicted")
        assert pubsub.get_message(timeout=1)["type"] == "subscribe"  # type: ignore[index]
        w = redis.Redis(port=srv.port)
        pipe = w.pipeline(transaction=True)
        pipe.watch("watched")
        _fill_until_evicting(r, srv, "k", n=20_000)
        evicted_watched = not r.exists("watched")
        pipe.multi()
        pipe.set("other", "1")
        if evicted_watched:
            with pytest.raises(redis.WatchError):
                pipe.execute()
        msg = None
        deadline = time.monotonic() + 5
        while msg is None and time.monotonic() < deadline:
            msg = pubsub.get_message(timeout=0.5)
        assert msg is not None and msg["channel"] == b"__keyevent@0__:evicted"
        pubsub.close()


def test_policy_switch_at_runtime() -> None:
    with EmbeddedServer(maxmemory="2mb") as srv:
        assert srv.server is not None
        r = redis.Redis(port=srv.port)
        r.config_set("maxmemory-policy", "allkeys-lfu")
        r.set("a", "1")
        assert r.object("freq", "a") == 5
        r.config_set("maxmemory-policy", "allkeys-lru")
        _fill_until_evicting(r, srv, "k")
        assert srv.server.stats.evicted_keys > 0


def test_eviction_propagates_del_to_aof(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with EmbeddedServer(maxmemory="2mb", appendonly="yes", appendfsync="always", dir=str(tmp_path),
                        **{"maxmemory-policy": "allkeys-random"}) as srv:
        assert srv.server is not None
        r = redis.Redis(port=srv.port)
        _fill_until_evicting(r, srv, "k", n=15_000)
        assert srv.server.stats.evicted_keys > 0
    text = b"".join(p.read_bytes() for p in tmp_path.rglob("*.incr.aof"))
    assert b"$3\r\nDEL\r\n" in text


def test_engine_and_simlab_share_one_eviction_arithmetic() -> None:
    """engine/evict.py and simlab's cache model run engine/evict_math.py's functions and pool
    (one source for Redis's arithmetic), not copies of them."""
    from engine import evict_math
    from simlab.model import cache as sim

    for name in ("lfu_decr_and_return", "lfu_log_incr", "EvictionPool", "EVPOOL_SIZE", "LFU_INIT_VAL", "LRU_CLOCK_MAX"):
        assert getattr(evict, name) is getattr(evict_math, name), name
        assert getattr(sim, name) is getattr(evict_math, name), name


def test_oom_reply_matches_redis_server() -> None:
    """The same refusal, byte for byte, from the engine and redis-server under noeviction."""
    from tests.support.redis_real import real_redis

    with real_redis("--maxmemory", "1mb") as real, EmbeddedServer(maxmemory="1mb") as srv:
        texts = []
        for r in (real.client(), redis.Redis(port=srv.port)):
            try:
                for i in range(20_000):
                    r.set(f"k{i}", b"v" * 100)
                texts.append(None)
            except redis.ResponseError as e:
                texts.append(str(e))
            assert r.get("k0") == b"v" * 100
        assert texts[0] == texts[1] == OOM


def test_lowering_maxmemory_evicts_without_a_write() -> None:
    """CONFIG SET maxmemory below used memory evicts from the cron (updateMaxmemory)."""
    with EmbeddedServer(**{"maxmemory-policy": "allkeys-random"}) as srv:
        assert srv.server is not None
        r = redis.Redis(port=srv.port)
        _fill_until_evicting(r, srv, "k", n=10_000)
        r.config_set("maxmemory", "1500kb")
        deadline = time.monotonic() + 10
        while r.info("memory")["used_memory"] > 1500 * 1024 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert srv.server.stats.evicted_keys > 0
        assert r.info("memory")["used_memory"] <= 1500 * 1024


def _evict_c_insert(pool: list[tuple[int, int] | None], idle: int, key: int) -> None:
    """evictionPoolPopulate's insertion of one sampled key, on evict.c's fixed array."""
    size = evict.EVPOOL_SIZE
    k = 0
    while k < size and pool[k] is not None and pool[k][0] < idle:  # type: ignore[index]
        k += 1
    if k == 0 and pool[size - 1] is not None:
        return  # worse than everything in a full pool
    if not (k < size and pool[k] is None):
        if pool[size - 1] is None:
            pool[k + 1:] = pool[k:size - 1]  # free space on the right: shift right
        else:
            k -= 1
            pool[0:k] = pool[1:k + 1]  # full: drop the smallest idle, shift left
    pool[k] = (idle, key)


def _evict_c_pop(pool: list[tuple[int, int] | None]) -> int | None:
    """performEvictions takes the rightmost entry."""
    for k in range(evict.EVPOOL_SIZE - 1, -1, -1):
        entry = pool[k]
        if entry is not None:
            pool[k] = None
            return entry[1]
    return None


def test_pool_breaks_idle_ties_as_evict_c() -> None:
    """The eviction pool orders candidates of equal idle time as evict.c does: a newly sampled
    key goes left of (is evicted after) the pooled keys with the same idle, so among ties the
    earliest pooled is evicted first.  With Redis's 1 s LRU clock most sampled keys tie at full
    speed, so a different rule (newest first, say) would give the engine recency Redis lacks.
    Seeded sequences with idles in 0..2 (ties everywhere) against a transcription of the C."""
    import random

    rng = random.Random(12)
    for _ in range(200):
        ours: evict.EvictionPool[int] = evict.EvictionPool()
        ref: list[tuple[int, int] | None] = [None] * evict.EVPOOL_SIZE
        key = 0
        for _ in range(300):
            if rng.random() < 0.7:
                key += 1
                idle = rng.randrange(3)
                ours.insert(idle, key)
                _evict_c_insert(ref, idle, key)
            else:
                assert ours.pop_best(lambda e: True) == _evict_c_pop(ref)
            assert ours.entries == [e[1] for e in ref if e is not None]
