"""Set commands through redis-py (sync and asyncio, RESP2 and RESP3), keyspace events against
a real redis-server, SPOP's AOF form, encodings."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio as aredis

from engine.server import EmbeddedServer
from tests.engine.conftest import aof_commands
from tests.engine.test_lists import assert_same_events
from tests.support.redis_real import RealRedis


def test_membership(r: redis.Redis) -> None:
    assert r.sadd("s", "a", "b", "c", "a") == 3
    assert r.sadd("s", "a") == 0
    assert r.smembers("s") == {b"a", b"b", b"c"}
    assert r.sismember("s", "a") == 1 and r.sismember("s", "z") == 0
    assert r.smismember("s", ["a", "z"]) == [1, 0]
    assert r.scard("s") == 3 and r.scard("none") == 0
    assert r.srem("s", "a", "z") == 1
    assert r.srem("s", "b", "c") == 2
    assert r.exists("s") == 0  # emptied sets are deleted


def test_algebra_and_store(r: redis.Redis) -> None:
    r.sadd("a", "1", "2", "3")
    r.sadd("b", "2", "3", "4")
    assert r.sinter("a", "b") == {b"2", b"3"}
    assert r.sunion("a", "b", "none") == {b"1", b"2", b"3", b"4"}
    assert r.sdiff("a", "b") == {b"1"}
    assert r.sinter("a", "none") == set()
    assert r.sinterstore("d", ["a", "b"]) == 2 and r.smembers("d") == {b"2", b"3"}
    assert r.sdiffstore("d", ["a", "a"]) == 0 and r.exists("d") == 0
    assert r.sintercard(2, ["a", "b"]) == 2
    assert r.sintercard(2, ["a", "b"], limit=1) == 1
    assert r.smove("a", "b", "1") is True
    assert r.smembers("b") == {b"1", b"2", b"3", b"4"}
    with pytest.raises(redis.ResponseError, match="^numkeys should be greater than 0$"):
        r.execute_command("SINTERCARD", 0, "a")


def test_random_members(r: redis.Redis) -> None:
    r.sadd("s", *[str(i) for i in range(20)])
    members = {str(i).encode() for i in range(20)}
    assert r.srandmember("s") in members
    picks = r.srandmember("s", 5)
    assert len(picks) == 5 and len(set(picks)) == 5 and set(picks) <= members
    repeated = r.srandmember("s", -50)
    assert len(repeated) == 50 and set(repeated) <= members
    popped = r.spop("s", 5)
    assert len(popped) == 5 and r.scard("s") == 15
    assert r.spop("s", 100) is not None and r.exists("s") == 0


def test_sscan_collects_everything(r: redis.Redis) -> None:
    r.sadd("s", *[f"m{i}" for i in range(300)])
    seen = set(r.sscan_iter("s", match="m1*", count=7))
    assert seen == {f"m{i}".encode() for i in range(300) if str(i).startswith("1")}


def test_encoding(r: redis.Redis) -> None:
    r.sadd("ints", "1", "2", "-3")
    r.sadd("mixed", "1", "x")
    assert r.object("encoding", "ints") == b"intset"
    assert r.object("encoding", "mixed") == b"hashtable"


def test_spop_propagates_as_srem() -> None:
    """What SPOP appends to the AOF is SREM of the members it popped (or DEL)."""
    with EmbeddedServer(appendonly="yes", appendfsync="always") as srv:
        r = redis.Redis(port=srv.port)
        r.sadd("s", "a", "b", "c")
        popped = r.spop("s")
        r.spop("s", 5)
        r.close()
        assert aof_commands(srv) == [[b"SADD", b"s", b"a", b"b", b"c"], [b"SREM", b"s", popped], [b"DEL", b"s"]]


def test_asyncio_client(srv: EmbeddedServer) -> None:
    async def scenario() -> None:
        c = aredis.Redis(port=srv.port, protocol=3)
        await c.delete("as")
        assert await c.sadd("as", "x", "y") == 2
        assert await c.smembers("as") == {b"x", b"y"}
        await c.aclose()

    asyncio.run(scenario())


def test_keyspace_events_match_redis(srv: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    commands = [line.split() for line in """sadd s a b c
sadd s a
srem s a
spop s
sadd t 1 2 3
smove t s 1
smove t u 3
sinterstore d s t
sunionstore d s u
sdiffstore d s u
sinterstore d s nokey
sadd p 1
spop p 5""".splitlines()]
    assert_same_events(srv.port, redis_real_shared.port, commands)


def test_spop_is_random(r: redis.Redis) -> None:
    """Each of 3 members comes out of 150 single pops; a fixed pick fails this with certainty,
    a uniform one with probability 3 * (2/3)^150 < 1e-25."""
    counts: dict[bytes, int] = {}
    for _ in range(150):
        r.sadd("s", "a", "b", "c")
        m = r.spop("s")
        counts[m] = counts.get(m, 0) + 1
    assert set(counts) == {b"a", b"b", b"c"}
