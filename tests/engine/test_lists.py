"""List commands through redis-py (sync and asyncio, RESP2 and RESP3), their keyspace events
compared with a real redis-server's, and the write bookkeeping (dirty counter, empty keys).

:func:`keyevents` is shared by the set, sorted-set and SORT tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest
import redis
import redis.asyncio as aredis

from engine.server import EmbeddedServer
from tests.support.redis_real import RealRedis

__all__ = ["keyevents", "assert_same_events"]




def keyevents(port: int, commands: Sequence[Sequence[str]]) -> list[tuple[bytes, bytes]]:
    """(event, key) pairs published on __keyevent@0__:* while ``commands`` run (errors ignored).
    A marker PUBLISH ends the collection, so no sleep-based guess is needed."""
    c = redis.Redis(port=port, socket_timeout=5)
    c.flushall()
    c.config_set("notify-keyspace-events", "KEA")
    p = c.pubsub()
    p.psubscribe("__keyevent@0__:*")
    assert p.get_message(timeout=2)["type"] == "psubscribe"  # type: ignore[index]
    for cmd in commands:
        try:
            c.execute_command(*cmd)
        except redis.ResponseError:
            pass
    c.publish("__keyevent@0__:zz-end", "end")
    events: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        m = p.get_message(timeout=1)
        if m is None or m["type"] != "pmessage":
            continue
        event = m["channel"].split(b":", 1)[1]
        if event == b"zz-end":
            break
        events.append((event, m["data"]))
    else:
        raise AssertionError("end marker never arrived")
    c.config_set("notify-keyspace-events", "")
    p.close()
    c.close()
    return events


def assert_same_events(engine_port: int, redis_port: int, commands: Sequence[Sequence[str]]) -> None:
    got, want = keyevents(engine_port, commands), keyevents(redis_port, commands)
    assert got == want


def test_push_pop_range(r: redis.Redis) -> None:
    assert r.rpush("l", "a", "b", "c") == 3
    assert r.lpush("l", "z", "y") == 5
    assert r.lrange("l", 0, -1) == [b"y", b"z", b"a", b"b", b"c"]
    assert r.lpushx("nolist", "a") == 0 and r.exists("nolist") == 0
    assert r.rpushx("l", "d") == 6
    assert r.lpop("l") == b"y"
    assert r.rpop("l", 2) == [b"d", b"c"]
    assert r.lpop("l", 0) == []
    assert r.lpop("missing", 2) is None
    assert r.llen("l") == 3
    assert r.lindex("l", -1) == b"b" and r.lindex("l", 9) is None
    assert r.lrange("l", -100, 100) == [b"z", b"a", b"b"]
    with pytest.raises(redis.ResponseError, match="^value is out of range, must be positive$"):
        r.lpop("l", -1)


def test_edit_commands(r: redis.Redis) -> None:
    r.rpush("l", "a", "b", "a", "c", "a")
    assert r.lrem("l", -2, "a") == 2
    assert r.lrange("l", 0, -1) == [b"a", b"b", b"c"]
    assert r.lset("l", 1, "B") is True
    with pytest.raises(redis.ResponseError, match="^index out of range$"):
        r.lset("l", 5, "x")
    with pytest.raises(redis.ResponseError, match="^no such key$"):
        r.lset("nokey", 0, "x")
    assert r.linsert("l", "BEFORE", "c", "x") == 4
    assert r.linsert("l", "AFTER", "nope", "x") == -1
    assert r.ltrim("l", 1, -2) is True
    assert r.lrange("l", 0, -1) == [b"B", b"x"]
    assert r.ltrim("l", 5, 10) is True
    assert r.exists("l") == 0  # Redis never keeps an empty list


def test_lpos(r: redis.Redis) -> None:
    r.rpush("l", "a", "b", "c", "b", "b")
    assert r.lpos("l", "b") == 1
    assert r.lpos("l", "b", rank=-1) == 4
    assert r.lpos("l", "b", rank=2, count=0) == [3, 4]
    assert r.lpos("l", "b", count=0, maxlen=2) == [1]
    assert r.lpos("l", "zz") is None
    with pytest.raises(redis.ResponseError, match="^RANK can't be zero"):
        r.lpos("l", "b", rank=0)


def test_lmove_lmpop(r: redis.Redis) -> None:
    r.rpush("a", "1", "2", "3")
    assert r.lmove("a", "b", "LEFT", "RIGHT") == b"1"
    assert r.rpoplpush("a", "a") == b"3"
    assert r.lrange("a", 0, -1) == [b"3", b"2"]
    assert r.lmpop(2, "none", "a", direction="RIGHT", count=5) == [b"a", [b"2", b"3"]]
    assert r.exists("a") == 0
    assert r.lmpop(1, "a", direction="LEFT") is None
    with pytest.raises(redis.ResponseError, match="^numkeys should be greater than 0$"):
        r.execute_command("LMPOP", 0, "a", "LEFT")
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        r.lmove("b", "s", "LEFT", "LEFT")
    assert r.lrange("b", 0, -1) == [b"1"]  # nothing popped when the destination is wrong


def test_object_encoding(r: redis.Redis) -> None:
    r.rpush("l", "a")
    assert r.object("encoding", "l") == b"quicklist"  # Redis 7.0 lists are always quicklists


def test_dirty_counter(srv: EmbeddedServer, r: redis.Redis) -> None:
    before = srv.server.dirty  # type: ignore[union-attr]
    r.rpush("l", "a", "b", "c")
    r.lpop("l")
    r.lrange("l", 0, -1)
    assert srv.server.dirty - before == 4  # type: ignore[union-attr]  # 3 pushed + 1 pop, read adds 0


def test_asyncio_client(srv: EmbeddedServer) -> None:
    async def scenario() -> None:
        c = aredis.Redis(port=srv.port, protocol=3)
        await c.delete("al")
        assert await c.rpush("al", *[str(i) for i in range(100)]) == 100
        assert await c.lrange("al", 95, -1) == [b"95", b"96", b"97", b"98", b"99"]
        assert await c.lpos("al", "50") == 50
        await c.aclose()

    asyncio.run(scenario())


def test_keyspace_events_match_redis(srv: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    commands = [
        ["rpush", "l", "a", "b", "c"], ["lpush", "l", "z"], ["lpushx", "l", "y"], ["lpop", "l"], ["rpop", "l", "1"],
        ["lset", "l", "0", "q"], ["linsert", "l", "before", "q", "p"], ["lrem", "l", "0", "p"],
        ["ltrim", "l", "0", "0"], ["lmove", "l", "m", "left", "right"], ["rpush", "n", "1", "2"],
        ["lmpop", "1", "n", "left", "count", "5"], ["rpush", "o", "1"], ["blpop", "o", "0"],
        ["rpush", "x", "1", "2"], ["lrem", "x", "0", "1"], ["ltrim", "x", "5", "6"],
    ]
    assert_same_events(srv.port, redis_real_shared.port, commands)
