"""DUMP/RESTORE and stream persistence across the engine and a real redis-server 7.0.

A DUMP payload made by either server RESTOREs in the other with the same value, for every type
(a stream with a deleted entry, a consumer group and a pending entry included); an engine SAVE
holding a stream loads in redis-server with the same XINFO STREAM FULL.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
import redis

from engine.server import EmbeddedServer
from tests.differential.harness import RawClient, compare
from tests.support.redis_real import RealRedis, real_redis

pytestmark = pytest.mark.redis_server


def _populate(c: redis.Redis) -> None:
    c.set("str", "v" * 50)
    c.set("int", 12345)
    c.rpush("list", "a", "b", "7")
    c.hset("hash", mapping={"f": "1", "g": "x" * 100})
    c.zadd("zset", {"m": 1.5, "n": -2})
    c.sadd("set", "x", "1")
    c.sadd("intset", 1, 2, 3)
    for i in range(1, 6):
        c.xadd("stream", {"f": i, "g": "same"} if i != 3 else {"other": i}, id=f"{i}-0")
    c.xdel("stream", "2-0")
    c.xgroup_create("stream", "grp", id="0")
    c.xreadgroup("grp", "alice", {"stream": ">"}, count=2)
    c.xgroup_create("stream", "empty", id="$")


def _snapshot(c: redis.Redis, key: str) -> object:
    kind = c.type(key)
    if kind == b"stream":
        info = c.xinfo_stream(key, full=True)
        info.pop("radix-tree-nodes")  # inner nodes of Redis's radix tree: not reproduced
        return info
    return {
        b"string": lambda: c.get(key),
        b"list": lambda: c.lrange(key, 0, -1),
        b"hash": lambda: c.hgetall(key),
        b"zset": lambda: c.zrange(key, 0, -1, withscores=True),
        b"set": lambda: sorted(c.smembers(key)),
    }[kind]()


KEYS = ["str", "int", "list", "hash", "zset", "set", "intset", "stream"]


def test_dump_restore_both_ways(redis_real_shared: RealRedis, engine_shared: EmbeddedServer) -> None:
    r = redis_real_shared.client()
    e = redis.Redis(port=engine_shared.port)
    r.flushall()
    e.flushall()
    _populate(r)
    for key in KEYS:
        e.restore(key, 0, r.dump(key))
        assert _snapshot(e, key) == _snapshot(r, key), key
        r.restore(key + ":back", 0, e.dump(key))
        assert _snapshot(r, key + ":back") == _snapshot(r, key), key
    e.flushall()
    r.flushall()


def test_engine_save_with_a_stream_loads_in_redis(tmp_path: Path) -> None:
    with EmbeddedServer(dir=str(tmp_path)) as eng:
        e = redis.Redis(port=eng.port)
        _populate(e)
        expected = {k: _snapshot(e, k) for k in KEYS}
        e.execute_command("SAVE")
    with real_redis("--dbfilename", "dump.rdb", dir=tmp_path) as srv:
        c = srv.client()
        assert {k: _snapshot(c, k) for k in KEYS} == expected


LIB = "#!lua name=mylib\nredis.register_function('myset', function(keys, args) return redis.call('SET', keys[1], args[1]) end)"
LIB2 = "#!lua name=lib2\nredis.register_function('myget', function(keys, args) return redis.call('GET', keys[1]) end)"


def test_function_dump_restore_both_ways(redis_real_shared: RealRedis, engine_shared: EmbeddedServer) -> None:
    """FUNCTION DUMP payloads cross in both directions; APPEND refuses an existing library,
    REPLACE takes it, FLUSH drops the others; a bad policy or payload is refused."""
    r = redis_real_shared.client()
    e = redis.Redis(port=engine_shared.port)
    for c in (r, e):
        c.function_flush()
    r.function_load(LIB)
    e.function_restore(r.function_dump())
    assert e.fcall("myset", 1, "k", "v") == b"OK"
    e.function_load(LIB2)
    r.function_restore(e.function_dump(), "REPLACE")
    r.set("k", "v")
    assert r.fcall("myget", 1, "k") == b"v"
    payload = e.function_dump()
    for c in (r, e):
        with pytest.raises(redis.ResponseError, match="already exists"):
            c.function_restore(payload)
        with pytest.raises(redis.ResponseError, match="Wrong restore policy given"):
            c.function_restore(payload, "MERGE")
        with pytest.raises(redis.ResponseError, match="payload version or checksum are wrong"):
            c.function_restore(payload[:-1] + bytes([payload[-1] ^ 1]))
        c.function_load(LIB.replace("mylib", "third").replace("myset", "other"), replace=True)
        assert c.function_restore(payload, "FLUSH")
        names = [dict(zip(lib[::2], lib[1::2], strict=True))[b"library_name"] for lib in c.function_list()]
        assert sorted(names) == [b"lib2", b"mylib"]
        c.function_flush()
    r.delete("k")
    e.delete("k")


def _stream_state(c: redis.Redis) -> object:
    """XINFO STREAM FULL without what a replay cannot keep: the radix-tree node count and the
    consumers' seen-time (Redis's own rewrite loses it the same way)."""
    info = _snapshot(c, "stream")
    assert isinstance(info, dict)
    for g in info["groups"]:
        for consumer in g[b"consumers"] if isinstance(g, dict) and b"consumers" in g else g["consumers"]:
            consumer.pop(b"seen-time", None)
            consumer.pop("seen-time", None)
    return info


@pytest.mark.parametrize("preamble", ["no", "yes"])
def test_streams_in_the_aof_replay_here_and_in_redis(tmp_path: Path, preamble: str) -> None:
    """Auto IDs are appended as the IDs generated; a rewrite (commands or RDB preamble) keeps
    entries, counters, groups and PELs; the engine and redis-server both load the result."""
    with EmbeddedServer(dir=str(tmp_path), appendonly="yes", appendfsync="always",
                        **{"aof-use-rdb-preamble": preamble}) as eng:
        e = redis.Redis(port=eng.port)
        _populate(e)
        e.xadd("stream", {"auto": "1"})
        e.execute_command("BGREWRITEAOF")
        manifest = tmp_path / "appendonlydir" / "appendonly.aof.manifest"
        deadline = time.monotonic() + 20
        while "seq 2 type b" not in manifest.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        e.xadd("stream", {"auto": "2"})
        e.xreadgroup("grp", "bob", {"stream": ">"}, count=1)
        expected = _stream_state(e)
    with EmbeddedServer(dir=str(tmp_path), appendonly="yes") as eng:
        assert _stream_state(redis.Redis(port=eng.port)) == expected
    with real_redis("--appendonly", "yes", dir=tmp_path) as srv:
        assert _stream_state(srv.client()) == expected


def _lzf_inputs() -> list[bytes]:
    """Seeded strings over 20 bytes that LZF compresses (or fails to shrink by 4 bytes):
    runs, short repeated words, two-letter noise, random bytes, and lengths around the unrolled
    match loop (16 bytes) and the longest back reference (264 bytes)."""
    rng = random.Random(7)
    out = [b"x" * n for n in (21, 22, 24, 70, 264, 265, 300, 1000)]
    for n in (21, 30, 40, 64, 100, 200, 500, 2000):
        out.append(bytes(rng.choice(b"ab") for _ in range(n)))
        out.append((bytes(rng.choice(b"abcdefgh") for _ in range(rng.randint(1, 12))) * 400)[:n])
        out.append(bytes(rng.randrange(256) for _ in range(n)))
        out.append(" ".join(rng.choice(["hello", "world", "redis", "x"]) for _ in range(n // 3)).encode()[:n])
    return out


def test_dump_payloads_are_byte_identical(raw_pair: tuple[RawClient, RawClient]) -> None:
    """DUMP of LZF-compressed strings, alone and as a hash value, byte for byte (the engine's
    compressor is liblzf's; the differential fuzz found a hash with a 70-byte value differing)."""
    commands: list[list[bytes]] = [[b"HSET", b"h", b"\x00\xff", b"x" * 70], [b"DUMP", b"h"]]
    for i, s in enumerate(_lzf_inputs()):
        commands += [[b"SET", b"s%d" % i, s], [b"DUMP", b"s%d" % i]]
    compare(*raw_pair, commands)
