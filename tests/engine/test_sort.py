"""SORT and SORT_RO through redis-py: numeric and ALPHA order, BY keys and hash fields, GET,
LIMIT, STORE, the conversion error, and the sortstore event as redis-server sends it."""

from __future__ import annotations

import pytest
import redis

from engine.server import EmbeddedServer
from tests.engine.test_lists import assert_same_events
from tests.support.redis_real import RealRedis


def test_numeric_and_alpha(r: redis.Redis) -> None:
    r.rpush("l", "3", "1", "10", "2", "1.5")
    assert r.sort("l") == [b"1", b"1.5", b"2", b"3", b"10"]
    assert r.sort("l", desc=True, start=1, num=2) == [b"3", b"2"]
    assert r.sort("l", alpha=True) == [b"1", b"1.5", b"10", b"2", b"3"]
    assert r.sort_ro("l", start=0, num=1) == [b"1"]
    r.rpush("bad", "a", "1")
    with pytest.raises(redis.ResponseError, match="^One or more scores can't be converted into double$"):
        r.sort("bad")
    assert r.sort("missing") == []


def test_by_get_store(r: redis.Redis) -> None:
    r.sadd("ids", "1", "2", "3")
    r.mset({"w_1": "30", "w_2": "10", "w_3": "20", "name_1": "one", "name_2": "two"})
    r.hset("h_3", "f", "three")
    assert r.sort("ids", by="w_*") == [b"2", b"3", b"1"]
    assert r.sort("ids", by="w_*", get=["#", "name_*", "h_*->f"]) == [
        b"2", b"two", None, b"3", None, b"three", b"1", b"one", None]
    assert r.sort("ids", by="w_*", get="name_*", store="out") == 3
    assert r.lrange("out", 0, -1) == [b"two", b"", b"one"]  # missing GETs are stored as ""
    assert r.sort("ids", by="nosort", store="out2") == 3
    assert r.lrange("out2", 0, -1) == [b"1", b"2", b"3"]  # a stored set is sorted ALPHA anyway
    assert r.sort("missing", store="out") == 0 and r.exists("out") == 0
    r.zadd("z", {"c": 1, "a": 2, "b": 3})
    assert r.sort("z", by="nosort") == [b"c", b"a", b"b"]
    assert r.sort("z", alpha=True) == [b"a", b"b", b"c"]
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("SORT_RO", "ids", "STORE", "x")
    r.set("str", "x")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        r.sort("str")


def test_keyspace_events_match_redis(srv: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    commands = [c.split() for c in ("rpush l 3 1 2", "sort l store d", "sort nokey store d", "sort l store d2")]
    assert_same_events(srv.port, redis_real_shared.port, commands)
