"""Keys loaded from an RDB at start are visible to RANDOMKEY, SCAN and eviction sampling."""

from __future__ import annotations

import redis

from engine.server import EmbeddedServer


def test_keys_loaded_from_rdb_are_sampled_scanned_and_evictable(tmp_path) -> None:
    with EmbeddedServer(dir=str(tmp_path)) as srv:
        r = redis.Redis.from_url(srv.url)
        r.mset({f"k{i}": "v" * 50 for i in range(500)})
        r.set("ttl", "x", ex=1000)
        r.save()
    with EmbeddedServer(dir=str(tmp_path), maxmemory_policy="allkeys-random") as srv:
        r = redis.Redis.from_url(srv.url)
        assert r.dbsize() == 501
        assert r.randomkey() is not None
        assert len(set(r.scan_iter(count=100))) == 501
        assert r.ttl("ttl") > 0
        used = r.info("memory")["used_memory"]
        r.config_set("maxmemory", used - 10_000)
        r.set("new", "y")  # must evict loaded keys rather than answer OOM
        assert r.info("stats")["evicted_keys"] > 0
