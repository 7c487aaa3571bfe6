"""Sorted-set commands through redis-py (sync and asyncio, RESP2 and RESP3 reply shapes),
keyspace events against a real redis-server, score formatting, and the O(log n) range path."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
import redis.asyncio as aredis

from engine.server import EmbeddedServer
from tests.engine.test_lists import assert_same_events
from tests.support.redis_real import RealRedis


def pairs(reply: list[object]) -> list[tuple[object, object]]:
    """redis-py shapes WITHSCORES replies per protocol (tuples, lists, flat); the wire shape is
    checked in test_wire_shapes and tests/differential, so here only the content counts."""
    if reply and not isinstance(reply[0], (list, tuple)):
        return list(zip(reply[::2], reply[1::2], strict=True))
    return [tuple(p) for p in reply]  # type: ignore[misc]




def test_zadd_options(r: redis.Redis) -> None:
    assert r.zadd("z", {"a": 1, "b": 2}) == 2
    assert r.zadd("z", {"a": 5, "c": 3}, xx=True, ch=True) == 1
    assert r.zadd("z", {"a": 4}, gt=True, ch=True) == 0
    assert r.zadd("z", {"a": 4}, lt=True, ch=True) == 1
    assert r.zadd("z", {"a": 2.5}, incr=True) == 6.5
    assert r.zadd("z", {"new": 1}, xx=True, incr=True) is None
    assert r.zincrby("z", -0.5, "b") == 1.5
    with pytest.raises(redis.ResponseError, match="^XX and NX options at the same time are not compatible$"):
        r.execute_command("ZADD", "z", "NX", "XX", 1, "a")
    with pytest.raises(redis.ResponseError, match="^GT, LT, and/or NX options at the same time are not compatible$"):
        r.execute_command("ZADD", "z", "GT", "NX", 1, "a")
    with pytest.raises(redis.ResponseError, match="^INCR option supports a single increment-element pair$"):
        r.execute_command("ZADD", "z", "INCR", 1, "a", 2, "b")
    with pytest.raises(redis.ResponseError, match="^value is not a valid float$"):
        r.execute_command("ZADD", "z", "nan", "a")
    r.zadd("inf", {"x": float("inf")})
    with pytest.raises(redis.ResponseError, match=r"^resulting score is not a number \(NaN\)$"):
        r.zincrby("inf", float("-inf"), "x")


def test_ranges_and_ranks(r: redis.Redis) -> None:
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert r.zrange("z", 0, -1) == [b"a", b"b", b"c", b"d"]
    assert pairs(r.zrange("z", 0, 1, withscores=True)) == [(b"a", 1.0), (b"b", 2.0)]
    assert r.zrange("z", "(1", 3, byscore=True) == [b"b", b"c"]
    assert r.zrange("z", "+inf", "-inf", byscore=True, desc=True, offset=1, num=2) == [b"c", b"b"]
    assert r.zrangebyscore("z", "-inf", "(3") == [b"a", b"b"]
    assert pairs(r.zrevrangebyscore("z", 4, 2, withscores=True)) == [(b"d", 4.0), (b"c", 3.0), (b"b", 2.0)]
    assert r.zrevrange("z", 0, 0) == [b"d"]
    assert r.zrank("z", "c") == 2 and r.zrevrank("z", "c") == 1 and r.zrank("z", "zz") is None
    assert r.zcount("z", "(1", "+inf") == 3
    assert r.zscore("z", "b") == 2.0 and r.zmscore("z", ["a", "zz"]) == [1.0, None]
    with pytest.raises(redis.ResponseError, match="^min or max is not a float$"):
        r.zcount("z", "x", 1)
    with pytest.raises(redis.ResponseError, match="^syntax error, LIMIT is only supported"):
        r.execute_command("ZRANGE", "z", 0, 1, "LIMIT", 0, 1)


def test_lex(r: redis.Redis) -> None:
    r.zadd("l", {m: 0 for m in "abcdef"})
    assert r.zrangebylex("l", "[b", "(e") == [b"b", b"c", b"d"]
    assert r.zrevrangebylex("l", "+", "(d") == [b"f", b"e"]
    assert r.zlexcount("l", "-", "+") == 6
    assert r.zremrangebylex("l", "[a", "[b") == 2
    with pytest.raises(redis.ResponseError, match="^min or max not valid string range item$"):
        r.zrangebylex("l", "b", "c")


def test_wire_shapes(srv: EmbeddedServer) -> None:
    """RESP2 flattens WITHSCORES with bulk scores, RESP3 nests [member, double] pairs, as Redis 7.0."""
    from tests.differential.harness import RawClient, Reply

    c2, c3 = RawClient(srv.port, resp=2), RawClient(srv.port, resp=3)
    c2.call("DEL", "w")
    c2.call("ZADD", "w", "0.1", "a", "2", "b")
    assert c2.call("ZRANGE", "w", 0, -1, "WITHSCORES") == Reply(
        "*", (Reply("$", b"a"), Reply("$", b"0.10000000000000001"), Reply("$", b"b"), Reply("$", b"2")))
    assert c3.call("ZRANGE", "w", 0, -1, "WITHSCORES") == Reply(
        "*", (Reply("*", (Reply("$", b"a"), Reply(",", b"0.10000000000000001"))),
              Reply("*", (Reply("$", b"b"), Reply(",", b"2")))))
    assert c3.call("ZSCORE", "w", "a") == Reply(",", b"0.10000000000000001")
    assert c3.call("ZPOPMIN", "w") == Reply("*", (Reply("$", b"a"), Reply(",", b"0.10000000000000001")))
    assert c3.call("ZPOPMIN", "w", 1) == Reply("*", (Reply("*", (Reply("$", b"b"), Reply(",", b"2"))),))
    c2.close()
    c3.close()


def test_removals_and_pops(r: redis.Redis) -> None:
    r.zadd("z", {c: i for i, c in enumerate("abcdef")})
    assert r.zremrangebyrank("z", 0, 1) == 2
    assert r.zremrangebyscore("z", 4, "+inf") == 2
    assert pairs(r.zpopmax("z")) == [(b"d", 3.0)]
    key, popped = r.zmpop(2, ["none", "z"], min=True, count=9)
    assert key == b"z" and [(m, float(sc)) for m, sc in popped] == [(b"c", 2.0)]
    assert r.exists("z") == 0
    assert r.zmpop(1, ["z"], min=True) is None


def test_set_algebra(r: redis.Redis) -> None:
    r.zadd("a", {"x": 1, "y": 2})
    r.zadd("b", {"y": 3, "z": 4})
    r.sadd("s", "y", "w")
    assert pairs(r.zunion(["a", "b"], withscores=True)) == [(b"x", 1.0), (b"z", 4.0), (b"y", 5.0)]
    assert pairs(r.zinter({"a": 2, "b": 1, "s": 10}, withscores=True)) == [(b"y", 17.0)]
    assert pairs(r.zinter(["a", "b"], aggregate="MAX", withscores=True)) == [(b"y", 3.0)]
    assert r.zdiff(["a", "b"]) == [b"x"]
    assert r.zunionstore("o", ["a", "b"], aggregate="MIN") == 3
    assert pairs(r.zrange("o", 0, -1, withscores=True)) == [(b"x", 1.0), (b"y", 2.0), (b"z", 4.0)]
    assert r.zintercard(2, ["a", "b"]) == 1
    assert r.zrangestore("o2", "o", 1, 2) == 2
    with pytest.raises(redis.ResponseError, match="^at least 1 input key is needed for 'zunionstore' command$"):
        r.execute_command("ZUNIONSTORE", "o", 0, "a")
    with pytest.raises(redis.ResponseError, match="^weight value is not a float$"):
        r.execute_command("ZUNION", 2, "a", "b", "WEIGHTS", 1, "x")


def test_random_and_scan(r: redis.Redis) -> None:
    r.zadd("z", {f"m{i}": i for i in range(50)})
    assert r.zrandmember("z") is not None
    picks = r.zrandmember("z", 5, withscores=True)
    assert len(picks) == (5 if r.get_connection_kwargs().get("protocol") == 3 else 10)
    assert len(r.zrandmember("z", -80)) == 80
    assert dict(r.zscan_iter("z", match="m4*")) == {f"m{i}".encode(): float(i) for i in (4, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49)}


def test_encodings(r: redis.Redis) -> None:
    r.zadd("small", {"a": 1})
    r.zadd("big", {f"m{i}": i for i in range(200)})
    r.zadd("long", {"x" * 65: 1})
    assert [r.object("encoding", k) for k in ("small", "big", "long")] == [b"listpack", b"skiplist", b"skiplist"]


def test_range_is_logarithmic(srv: EmbeddedServer) -> None:
    """ZRANGEBYSCORE with LIMIT on 200k members costs about what it costs on 2k members; a
    linear scan would be ~100x slower.  Tolerance: 10x, for a loaded shared machine."""
    c = redis.Redis(port=srv.port)
    timings = []
    for n in (2_000, 200_000):
        c.delete("big")
        for start in range(0, n, 10_000):
            c.zadd("big", {f"m{i}": i for i in range(start, min(n, start + 10_000))})
        t0 = time.perf_counter()
        for _ in range(200):
            c.zrangebyscore("big", n // 2, "+inf", start=0, num=5)
            c.zrank("big", f"m{n // 3}")
        timings.append(time.perf_counter() - t0)
    c.delete("big")
    c.close()
    assert timings[1] < timings[0] * 10, timings


def test_asyncio_client(srv: EmbeddedServer) -> None:
    async def scenario() -> None:
        c = aredis.Redis(port=srv.port, protocol=3)
        await c.delete("az")
        await c.zadd("az", {"a": 1, "b": 2})
        assert pairs(await c.zrange("az", 0, -1, withscores=True)) == [(b"a", 1.0), (b"b", 2.0)]
        assert pairs(await c.zpopmin("az")) == [(b"a", 1.0)]
        await c.aclose()

    asyncio.run(scenario())


def test_keyspace_events_match_redis(srv: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    commands = [line.split() for line in """zadd z 1 a 2 b 3 c
zadd z 1 a
zadd z xx 5 a
zadd z incr 1 b
zincrby z 1 c
zrem z a nope
zadd r 1 a 2 b 3 c 4 d 5 e 6 f
zremrangebyscore r 1 1
zremrangebyrank r 0 0
zadd lx 0 a 0 b
zremrangebylex lx - +
zpopmin r
zpopmax r 2
zmpop 1 r min count 10
zadd u 1 a
zunionstore o 2 z u
zinterstore o 2 z u
zdiffstore o 2 z u
zrangestore o2 z 0 0
zrangestore o2 z 5 6
zadd b 1 x
bzpopmin b 0""".splitlines()]
    assert_same_events(srv.port, redis_real_shared.port, commands)
