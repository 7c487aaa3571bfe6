"""String and bitmap commands through redis-py (sync and asyncio, RESP2 and RESP3) against
the embedded engine: replies as the client library decodes them, TTL handling, errors,
``server.dirty`` and the keyspace events each write fires."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio as aioredis

from engine.server import EmbeddedServer

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")




class Recorder:
    """Captures keyspace events (stands in for the pub/sub mechanism)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes]] = []

    def publish(self, channel: bytes, message: bytes) -> int:
        if channel.startswith(b"__keyevent@"):
            self.events.append((channel.split(b":", 1)[1].decode(), message))
        return 0

    def unsubscribe_all(self, client: object) -> None:
        return None


def test_set_get_and_conditional_sets(r: redis.Redis) -> None:
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True) is True
    assert r.set("k", "x", get=True) == b"w"
    assert r.setnx("k", "y") is False
    assert r.setnx("n", "y") is True
    assert r.get("missing") is None


def test_setex_psetex_and_ttl(r: redis.Redis) -> None:
    assert r.setex("a", 100, "v") is True
    assert 99 <= r.ttl("a") <= 100
    assert r.psetex("b", 100_000, "v") is True
    assert 99_000 < r.pttl("b") <= 100_000
    with pytest.raises(redis.ResponseError, match="^invalid expire time in 'setex' command$"):
        r.setex("a", 0, "v")
    with pytest.raises(redis.ResponseError, match="^invalid expire time in 'psetex' command$"):
        r.psetex("a", -1, "v")
    r.set("a", "w")  # a plain SET drops the TTL
    assert r.ttl("a") == -1


def test_mget_mset_msetnx(r: redis.Redis) -> None:
    assert r.mset({"a": "1", "b": "2"}) is True
    r.hset("h", "f", "v")
    assert r.mget("a", "b", "nope", "h") == [b"1", b"2", None, None]
    assert r.msetnx({"a": "9", "c": "3"}) is False
    assert r.get("c") is None
    assert r.msetnx({"c": "3", "d": "4"}) is True
    with pytest.raises(redis.ResponseError, match="^wrong number of arguments for 'mset' command$"):
        r.execute_command("MSET", "a", "1", "b")


def test_getset_getdel_getex(r: redis.Redis) -> None:
    assert r.getset("g", "1") is None
    assert r.getset("g", "2") == b"1"
    assert r.getdel("g") == b"2"
    assert r.exists("g") == 0
    r.set("g", "v")
    assert r.getex("g", ex=100) == b"v"
    assert 99 <= r.ttl("g") <= 100
    assert r.getex("g", persist=True) == b"v"
    assert r.ttl("g") == -1
    assert r.getex("g", pxat=1) == b"v"
    assert r.exists("g") == 0
    assert r.getex("nope", ex=5) is None
    r.set("g", "v")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("GETEX", "g", "EX", "1", "PX", "1")


def test_append_strlen_getrange_setrange(r: redis.Redis) -> None:
    assert r.append("s", "Hello") == 5
    assert r.append("s", " World") == 11
    assert r.strlen("s") == 11
    assert r.strlen("nope") == 0
    assert r.getrange("s", 0, 4) == b"Hello"
    assert r.getrange("s", -5, -1) == b"World"
    assert r.getrange("s", 20, 30) == b""
    assert r.setrange("s", 6, "Redis") == 11
    assert r.get("s") == b"Hello Redis"
    assert r.setrange("pad", 3, "x") == 4
    assert r.get("pad") == b"\x00\x00\x00x"
    with pytest.raises(redis.ResponseError, match="^offset is out of range$"):
        r.setrange("s", -1, "x")


def test_incr_family_and_overflow(r: redis.Redis) -> None:
    assert r.incr("c") == 1
    assert r.incrby("c", 10) == 11
    assert r.decr("c") == 10
    assert r.decrby("c", 4) == 6
    r.set("c", 2**63 - 1)
    with pytest.raises(redis.ResponseError, match="^increment or decrement would overflow$"):
        r.incr("c")
    r.set("c", "1.5")
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.incr("c")
    r.set("t", 1, ex=100)
    r.incr("t")
    assert r.ttl("t") > 0  # INCR keeps the TTL


@pytest.mark.parametrize(
    "steps,expected",
    [
        (["10.5", "0.1"], b"10.6"),
        (["5.0e3", "2.0e2"], b"5200"),
        (["0.1", "0.2"], b"0.3"),
        (["3.0e3"], b"3000"),
        (["1e20"], b"100000000000000000000"),
        (["-1.5", "1.5"], b"0"),
        (["1.23456789012345678"], b"1.23456789012345678"),
    ],
)
def test_incrbyfloat_formats_like_redis(r: redis.Redis, steps: list[str], expected: bytes) -> None:
    """Expected texts are redis-server 7.0.15's replies to the same steps (long double, %.17Lf)."""
    for s in steps:
        reply = r.incrbyfloat("f", s)
    assert r.get("f") == expected
    assert float(reply) == float(expected)


def test_incrbyfloat_errors(r: redis.Redis) -> None:
    r.set("x", "abc")
    with pytest.raises(redis.ResponseError, match="^value is not a valid float$"):
        r.incrbyfloat("x", 1)
    with pytest.raises(redis.ResponseError, match="^increment would produce NaN or Infinity$"):
        r.incrbyfloat("f", "inf")


def test_bit_commands(r: redis.Redis) -> None:
    assert r.setbit("b", 7, 1) == 0
    assert r.setbit("b", 7, 0) == 1
    assert r.setbit("b", 7, 1) == 0
    assert r.getbit("b", 7) == 1
    assert r.getbit("b", 1000) == 0
    r.set("fb", "foobar")
    assert r.bitcount("fb") == 26
    assert r.bitcount("fb", 1, 1) == 6
    assert r.bitcount("fb", 5, 30, "BIT") == 17
    r.set("bp", b"\xff\xf0\x00")
    assert r.bitpos("bp", 0) == 12
    assert r.bitpos("bp", 1, 2) == -1
    assert r.bitpos("bp", 1, 7, 15, "BIT") == 7
    assert r.bitpos("nope", 0) == 0
    with pytest.raises(redis.ResponseError, match="^bit offset is not an integer or out of range$"):
        r.setbit("b", -1, 1)
    with pytest.raises(redis.ResponseError, match="^bit is not an integer or out of range$"):
        r.execute_command("SETBIT", "b", 1, 2)
    with pytest.raises(redis.ResponseError, match="^The bit argument must be 1 or 0.$"):
        r.execute_command("BITPOS", "bp", 2)


def test_wrongtype_on_string_commands(r: redis.Redis) -> None:
    r.hset("h", "f", "v")
    for call in (lambda: r.get("h"), lambda: r.append("h", "x"), lambda: r.incr("h"), lambda: r.getrange("h", 0, 1),
                 lambda: r.setbit("h", 1, 1), lambda: r.bitcount("h"), lambda: r.strlen("h"), lambda: r.getdel("h"),
                 lambda: r.set("h", "x", get=True), lambda: r.incrbyfloat("h", 1)):
        with pytest.raises(redis.ResponseError, match="^WRONGTYPE Operation against a key holding the wrong kind of value$"):
            call()


def test_proto_max_bulk_len_limits_setrange_and_append() -> None:
    limit = 1024 * 1024  # the smallest value CONFIG accepts
    with EmbeddedServer(proto_max_bulk_len=limit) as s:
        r = redis.Redis.from_url(s.url)
        msg = "^string exceeds maximum allowed size \\(proto-max-bulk-len\\)$"
        with pytest.raises(redis.ResponseError, match=msg):
            r.setrange("k", limit, "x")
        assert r.setrange("k", limit - 1, "x") == limit
        with pytest.raises(redis.ResponseError, match=msg):
            r.append("k", "y")
        with pytest.raises(redis.ResponseError, match="^bit offset is not an integer or out of range$"):
            r.setbit("k", limit * 8, 1)
        r.close()


def test_writes_bump_dirty_and_fire_events() -> None:
    with EmbeddedServer(notify_keyspace_events="KEA") as s:
        rec = Recorder()
        s.server.pubsub = rec
        r = redis.Redis.from_url(s.url)
        steps = [
            (lambda: r.set("a", "1"), [("set", b"a")], 1),
            (lambda: r.incrby("a", 2), [("incrby", b"a")], 1),
            (lambda: r.incrbyfloat("a", 0.5), [("incrbyfloat", b"a")], 1),
            (lambda: r.append("a", "x"), [("append", b"a")], 1),
            (lambda: r.setrange("a", 0, "y"), [("setrange", b"a")], 1),
            (lambda: r.setbit("b", 1, 1), [("setbit", b"b")], 1),
            (lambda: r.mset({"c": 1, "d": 2}), [("set", b"c"), ("set", b"d")], 2),
            (lambda: r.setex("e", 100, "v"), [("set", b"e"), ("expire", b"e")], 1),
            (lambda: r.getdel("e"), [("del", b"e")], 1),
            (lambda: r.getex("c", ex=100), [("expire", b"c")], 1),
            (lambda: r.getex("c", persist=True), [("persist", b"c")], 1),
            (lambda: r.getex("c"), [], 0),
            (lambda: r.set("a", "z", nx=True), [], 0),
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
        assert await r.set("a", "1") is True
        assert await r.incrbyfloat("a", "0.5") == 1.5
        assert await r.mget("a", "b") == [b"1.5", None]
        assert await r.append("s", "ab") == 2
        assert await r.getrange("s", 0, 0) == b"a"
        assert await r.setbit("bits", 3, 1) == 0
        assert await r.bitcount("bits") == 1
        assert await r.getex("a", px=100_000) == b"1.5"
        assert 0 < await r.pttl("a") <= 100_000
        async with r.pipeline(transaction=False) as p:
            p.incr("n").incr("n").decrby("n", 5)
            assert await p.execute() == [1, 2, -3]
        await r.aclose()

    for proto in (2, 3):
        asyncio.run(main(proto))
