"""Hash commands through redis-py (sync and asyncio, RESP2 and RESP3) against the embedded
engine, including the session-storage pattern (HSET + PEXPIRE + HGETALL) they exist for."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio as aioredis

from engine.server import EmbeddedServer
from tests.engine.test_strings import Recorder

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated hmset:DeprecationWarning")




def test_hset_hget_hmget_hgetall(r: redis.Redis) -> None:
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hset("h", "a", "x") == 0
    assert r.hget("h", "a") == b"x"
    assert r.hget("h", "nope") is None
    assert r.hget("nope", "a") is None
    assert r.hmget("h", "a", "nope", "b") == [b"x", None, b"2"]
    assert r.hmget("nope", "a", "b") == [None, None]
    assert r.hgetall("h") == {b"a": b"x", b"b": b"2"}
    assert r.hgetall("nope") == {}
    assert r.hmset("h", {"c": "3"}) is True
    with pytest.raises(redis.ResponseError, match="^wrong number of arguments for 'hset' command$"):
        r.execute_command("HSET", "h", "a", "1", "b")


def test_hsetnx_hdel_hexists_hlen_hkeys_hvals_hstrlen(r: redis.Redis) -> None:
    r.hset("h", mapping={"a": "1", "b": "22"})
    assert r.hsetnx("h", "a", "9") == 0
    assert r.hsetnx("h", "c", "333") == 1
    assert r.hexists("h", "c") is True
    assert r.hexists("h", "z") is False
    assert r.hlen("h") == 3
    assert sorted(r.hkeys("h")) == [b"a", b"b", b"c"]
    assert sorted(r.hvals("h")) == [b"1", b"22", b"333"]
    assert r.hstrlen("h", "c") == 3
    assert r.hstrlen("h", "z") == 0
    assert r.hdel("h", "a", "z") == 1
    assert r.hdel("h", "b", "c") == 2
    assert r.exists("h") == 0  # an emptied hash is deleted
    assert r.hlen("h") == 0
    assert r.hkeys("h") == []


def test_hincrby_and_hincrbyfloat(r: redis.Redis) -> None:
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrby("h", "n", -7) == -2
    r.hset("h", "s", "abc")
    with pytest.raises(redis.ResponseError, match="^hash value is not an integer$"):
        r.hincrby("h", "s", 1)
    r.hset("h", "max", str(2**63 - 1))
    with pytest.raises(redis.ResponseError, match="^increment or decrement would overflow$"):
        r.hincrby("h", "max", 1)
    assert r.hincrbyfloat("h", "f", 10.5) == 10.5
    assert r.hincrbyfloat("h", "f", 0.1) == 10.6
    assert r.hget("h", "f") == b"10.6"
    assert r.hincrbyfloat("h", "e", "5.0e3") == 5000
    assert r.hget("h", "e") == b"5000"
    with pytest.raises(redis.ResponseError, match="^hash value is not a float$"):
        r.hincrbyfloat("h", "s", 1)
    with pytest.raises(redis.ResponseError, match="^value is NaN or Infinity$"):
        r.hincrbyfloat("h", "f", "inf")


def test_hrandfield(r: redis.Redis) -> None:
    fields = {f"f{i}".encode(): f"v{i}".encode() for i in range(5)}
    r.hset("h", mapping=fields)
    assert r.hrandfield("h") in fields
    assert r.hrandfield("nope") is None
    assert r.hrandfield("nope", 3) == []
    assert r.hrandfield("h", 0) == []
    three = r.hrandfield("h", 3)
    assert len(three) == 3 and len(set(three)) == 3 and set(three) <= set(fields)
    assert sorted(r.hrandfield("h", 10)) == sorted(fields)
    many = r.hrandfield("h", -20)
    assert len(many) == 20 and set(many) <= set(fields)
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("HRANDFIELD", "h", "1", "WITHVALS")


def test_hrandfield_withvalues_shape_per_protocol(srv: EmbeddedServer) -> None:
    """RESP2: a flat field, value, ... array; RESP3: an array of [field, value] pairs."""
    r2 = redis.Redis.from_url(srv.url, protocol=2)
    r2.flushall()
    r2.hset("h", mapping={"a": "1", "b": "2"})
    flat = r2.execute_command("HRANDFIELD", "h", "-3", "WITHVALUES")
    assert len(flat) == 6 and all(dict(a=b"1", b=b"2")[f.decode()] == v for f, v in zip(flat[::2], flat[1::2], strict=True))
    r3 = redis.Redis.from_url(srv.url, protocol=3)
    pairs = r3.execute_command("HRANDFIELD", "h", "-3", "WITHVALUES")
    assert len(pairs) == 3 and all(len(p) == 2 and {b"a": b"1", b"b": b"2"}[p[0]] == p[1] for p in pairs)
    r2.close()
    r3.close()


def test_hscan(r: redis.Redis) -> None:
    r.hset("h", mapping={f"f{i}": str(i) for i in range(300)})
    got = dict(r.hscan_iter("h"))
    assert len(got) == 300 and got[b"f7"] == b"7"
    assert dict(r.hscan_iter("h", match="f1?")) == {f"f1{i}".encode(): f"1{i}".encode() for i in range(10)}
    assert r.hscan("nope", 0) == (0, {})
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("HSCAN", "h", "0", "TYPE", "string")


def test_wrongtype(r: redis.Redis) -> None:
    r.set("s", "v")
    for call in (lambda: r.hset("s", "f", "v"), lambda: r.hget("s", "f"), lambda: r.hgetall("s"),
                 lambda: r.hincrby("s", "f", 1), lambda: r.hdel("s", "f"), lambda: r.hlen("s"),
                 lambda: r.hrandfield("s"), lambda: r.hscan("s", 0), lambda: r.hmget("s", "a")):
        with pytest.raises(redis.ResponseError, match="^WRONGTYPE Operation against a key holding the wrong kind of value$"):
            call()


def test_session_storage_pattern(r: redis.Redis) -> None:
    """A session hash with a sliding idle timeout: write, touch, read, destroy."""
    key = "session:abc"
    r.hset(key, mapping={"user": "42", "csrf": "t0k3n"})
    r.pexpire(key, 30_000)
    assert 29_000 < r.pttl(key) <= 30_000
    r.hset(key, "last_seen", "1700000000")  # HSET keeps the TTL
    assert r.pttl(key) > 0
    assert r.hgetall(key) == {b"user": b"42", b"csrf": b"t0k3n", b"last_seen": b"1700000000"}
    assert r.hincrby(key, "hits", 1) == 1
    assert r.delete(key) == 1


def test_hash_writes_bump_dirty_and_fire_events() -> None:
    with EmbeddedServer(notify_keyspace_events="KEA") as s:
        rec = Recorder()
        s.server.pubsub = rec
        r = redis.Redis.from_url(s.url)
        steps = [
            (lambda: r.hset("h", mapping={"a": 1, "b": 2}), [("hset", b"h")], 2),
            (lambda: r.hsetnx("h", "a", 1), [], 0),
            (lambda: r.hsetnx("h", "c", 1), [("hset", b"h")], 1),
            (lambda: r.hincrby("h", "a", 1), [("hincrby", b"h")], 1),
            (lambda: r.hincrbyfloat("h", "a", 1.5), [("hincrbyfloat", b"h")], 1),
            (lambda: r.hdel("h", "a", "zz"), [("hdel", b"h")], 1),
            (lambda: r.hdel("h", "b", "c"), [("hdel", b"h"), ("del", b"h")], 2),
            (lambda: r.hdel("h", "b"), [], 0),
        ]
        for action, events, dirty in steps:
            rec.events.clear()
            before = s.server.dirty
            action()
            assert rec.events == events
            assert s.server.dirty - before == dirty
        r.close()


def test_asyncio_client_in_both_protocols(srv: EmbeddedServer) -> None:
    async def main(proto: int) -> None:
        r = aioredis.Redis.from_url(srv.url, protocol=proto)
        await r.flushall()
        assert await r.hset("h", mapping={"a": "1", "b": "2"}) == 2
        assert await r.hgetall("h") == {b"a": b"1", b"b": b"2"}
        assert await r.hincrby("h", "a", 2) == 3
        assert await r.hincrbyfloat("h", "b", 0.5) == 2.5
        assert await r.hmget("h", "a", "b", "c") == [b"3", b"2.5", None]
        assert dict([kv async for kv in r.hscan_iter("h")]) == {b"a": b"3", b"b": b"2.5"}
        assert await r.hdel("h", "a", "b") == 2
        assert await r.exists("h") == 0
        await r.aclose()

    for proto in (2, 3):
        asyncio.run(main(proto))
