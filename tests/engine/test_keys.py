"""Keyspace commands through redis-py (sync and asyncio, RESP2 and RESP3) against the
embedded engine: DEL/UNLINK/EXISTS/TYPE/KEYS/SCAN/RANDOMKEY/RENAME/COPY/MOVE/SWAPDB/TOUCH,
the EXPIRE family, TTLs, OBJECT, dirty counts and keyspace events."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
import redis
import redis.asyncio as aioredis

from engine.client import Client
from engine.server import EmbeddedServer
from tests.engine.test_strings import Recorder


def test_del_unlink_exists_type(r: redis.Redis) -> None:
    r.mset({"a": 1, "b": 2, "c": 3})
    r.hset("h", "f", "v")
    assert r.exists("a", "a", "nope") == 2
    assert r.type("a") == b"string"
    assert r.type("h") == b"hash"
    assert r.type("nope") == b"none"
    assert r.delete("a", "nope", "a") == 1
    assert r.unlink("b", "c") == 2
    assert r.dbsize() == 1


def test_keys_glob_rules(r: redis.Redis) -> None:
    r.mset({"hello": 1, "hallo": 1, "hxllo": 1, "hllo": 1, "heeeello": 1, "h*llo": 1})
    assert sorted(r.keys("h?llo")) == [b"h*llo", b"hallo", b"hello", b"hxllo"]
    assert sorted(r.keys("h*llo")) == [b"h*llo", b"hallo", b"heeeello", b"hello", b"hllo", b"hxllo"]
    assert sorted(r.keys("h[ae]llo")) == [b"hallo", b"hello"]
    assert sorted(r.keys("h[^e]llo")) == [b"h*llo", b"hallo", b"hxllo"]
    assert sorted(r.keys("h[a-b]llo")) == [b"hallo"]
    assert r.keys("h\\*llo") == [b"h*llo"]


def test_keys_skips_expired_keys(r: redis.Redis) -> None:
    r.set("live", 1)
    r.set("gone", 1, px=1)
    time.sleep(0.01)
    assert r.keys("*") == [b"live"]


def test_scan_options(r: redis.Redis) -> None:
    for i in range(50):
        r.set(f"s:{i}", i)
    r.hset("h:1", "f", "v")
    assert set(r.scan_iter()) == {f"s:{i}".encode() for i in range(50)} | {b"h:1"}
    assert set(r.scan_iter(match="s:1*")) == {b"s:1"} | {f"s:{i}".encode() for i in range(10, 20)}
    assert list(r.scan_iter(_type="hash")) == [b"h:1"]
    cursor, keys = r.scan(0, count=10)
    assert cursor != 0 and len(keys) <= 10
    with pytest.raises(redis.ResponseError, match="^invalid cursor$"):
        r.execute_command("SCAN", "x")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("SCAN", "0", "COUNT", "0")


def test_scan_never_misses_keys_present_for_the_whole_iteration(srv: EmbeddedServer) -> None:
    """Keys deleted and added between SCAN calls (enough deletions to compact the index)
    never hide a key that stays for the whole iteration (the SCAN guarantee)."""
    r = redis.Redis.from_url(srv.url)
    r.flushall()
    rng = random.Random(7)
    stable = {f"stable:{i}".encode() for i in range(1000)}
    churn = [f"churn:{i}".encode() for i in range(2000)]
    p = r.pipeline(transaction=False)
    for k in list(stable) + churn:
        p.set(k, 1)
    p.execute()
    seen: set[bytes] = set()
    cursor = 0
    added = 0
    for _ in range(10_000):
        cursor, keys = r.scan(cursor, count=25)
        seen.update(keys)
        if churn:
            victims = [churn.pop(rng.randrange(len(churn))) for _ in range(min(60, len(churn)))]
            r.delete(*victims)
        r.set(f"new:{added}", 1)
        added += 1
        if cursor == 0:
            break
    assert cursor == 0
    assert stable <= seen
    r.close()


def test_randomkey(r: redis.Redis) -> None:
    assert r.randomkey() is None
    r.mset({"a": 1, "b": 2})
    assert {r.randomkey() for _ in range(50)} == {b"a", b"b"}


def test_rename_and_renamenx(r: redis.Redis) -> None:
    r.set("a", 1, ex=100)
    assert r.rename("a", "b") is True
    assert r.get("b") == b"1"
    assert 99 <= r.ttl("b") <= 100
    with pytest.raises(redis.ResponseError, match="^no such key$"):
        r.rename("a", "c")
    r.set("c", 3)
    assert r.renamenx("b", "c") is False
    assert r.renamenx("b", "d") is True
    assert r.rename("d", "d") is True


def test_copy_move_swapdb(r: redis.Redis, srv: EmbeddedServer) -> None:
    r.hset("h", mapping={"f": "v"})
    r.expire("h", 100)
    assert r.copy("h", "h2") is True
    assert r.hgetall("h2") == {b"f": b"v"}
    assert r.ttl("h2") > 0
    r.hset("h2", "g", "w")
    assert r.hlen("h") == 1  # the copy is independent
    assert r.copy("h", "h2") is False
    assert r.copy("h", "h2", replace=True) is True
    assert r.copy("h", "h", destination_db=1) is True
    with pytest.raises(redis.ResponseError, match="^source and destination objects are the same$"):
        r.copy("h", "h")
    assert r.move("h", 1) is False  # exists in db 1 already
    r.set("m", 1)
    assert r.move("m", 2) is True
    with pytest.raises(redis.ResponseError, match="^DB index is out of range$"):
        r.move("m", 99)
    r.set("zero", 0)
    assert r.swapdb(0, 2) is True
    assert r.get("m") == b"1"
    assert r.get("zero") is None
    r.swapdb(0, 2)
    with pytest.raises(redis.ResponseError, match="^invalid first DB index$"):
        r.execute_command("SWAPDB", "x", "1")


def test_swapdb_invalidates_watch(srv: EmbeddedServer) -> None:
    """dbSwapDatabases touches the watched keys of both databases."""
    r = redis.Redis.from_url(srv.url)
    r.flushall()
    r.set("w", 1)
    srv_db = srv.server.dbs[0]
    watcher = Client(srv.server)
    srv_db.watched.setdefault(b"w", set()).add(watcher)
    r.swapdb(0, 1)
    assert watcher.dirty_cas is True
    srv_db.watched.pop(b"w", None)
    r.close()


def test_touch(r: redis.Redis) -> None:
    r.mset({"a": 1, "b": 2})
    assert r.touch("a", "b", "c") == 2


def test_expire_family_and_ttls(r: redis.Redis) -> None:
    r.set("k", 1)
    assert r.ttl("k") == -1
    assert r.ttl("nope") == -2
    assert r.pttl("nope") == -2
    assert r.expire("k", 100) is True
    assert 99 <= r.ttl("k") <= 100
    assert r.expire("k", 200, nx=True) is False
    assert r.expire("k", 200, xx=True) is True
    assert r.expire("k", 100, gt=True) is False
    assert r.expire("k", 50, lt=True) is True
    assert 49 <= r.ttl("k") <= 50
    assert r.pexpire("k", 100_000) is True
    assert 99_000 < r.pttl("k") <= 100_000
    far = 4102444800
    assert r.expireat("k", far) is True
    assert r.expiretime("k") == far
    assert r.pexpiretime("k") == far * 1000
    assert r.pexpireat("k", far * 1000 + 5) is True
    assert r.persist("k") is True
    assert r.persist("k") is False
    assert r.expiretime("k") == -1
    assert r.expire("k", -1) is True  # a time in the past deletes
    assert r.exists("k") == 0
    assert r.expire("nope", 10) is False
    r.set("k", 1)
    with pytest.raises(redis.ResponseError, match="^NX and XX, GT or LT options at the same time are not compatible$"):
        r.expire("k", 10, nx=True, xx=True)
    with pytest.raises(redis.ResponseError, match="^GT and LT options at the same time are not compatible$"):
        r.expire("k", 10, gt=True, lt=True)
    with pytest.raises(redis.ResponseError, match="^Unsupported option foo$"):
        r.execute_command("EXPIRE", "k", "10", "foo")
    with pytest.raises(redis.ResponseError, match="^invalid expire time in 'expire' command$"):
        r.expire("k", 2**63 - 1)


def test_key_expires_lazily_and_actively(srv: EmbeddedServer) -> None:
    r = redis.Redis.from_url(srv.url)
    r.flushall()
    r.set("lazy", 1, px=20)
    r.set("active", 1, px=20)
    time.sleep(0.05)
    assert r.get("lazy") is None
    deadline = time.monotonic() + 3  # active expiry runs every 1/hz = 100 ms
    while srv.server.dbs[0].data.get(b"active") is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert b"active" not in srv.server.dbs[0].data
    r.close()


def test_object_subcommands(r: redis.Redis) -> None:
    r.set("int", 12345)
    r.set("emb", "x" * 44)
    r.set("raw", "x" * 45)
    r.append("app", "x")
    r.append("app", "y")  # the first APPEND stores an embstr, a second one makes it raw
    r.hset("h", "f", "v")
    r.hset("big", mapping={f"f{i}": "v" for i in range(513)})  # hash-max-listpack-entries is 512 in 7.0
    assert r.object("encoding", "int") == b"int"
    assert r.object("encoding", "emb") == b"embstr"
    assert r.object("encoding", "raw") == b"raw"
    assert r.object("encoding", "app") == b"raw"
    assert r.object("encoding", "h") == b"listpack"
    assert r.object("encoding", "big") == b"hashtable"
    assert r.object("encoding", "nope") is None
    r.set("small", 123)
    assert r.object("refcount", "small") == 2147483647  # shared integer (< OBJ_SHARED_INTEGERS)
    assert r.object("refcount", "int") == 1
    assert r.object("refcount", "raw") == 1
    assert r.object("idletime", "int") <= 1
    with pytest.raises(redis.ResponseError, match="^An LFU maxmemory policy is not selected"):
        r.object("freq", "int")
    assert r.execute_command("OBJECT", "HELP")[0].startswith(b"OBJECT <subcommand>")


def test_object_freq_under_lfu() -> None:
    with EmbeddedServer(maxmemory_policy="allkeys-lfu") as s:
        r = redis.Redis.from_url(s.url)
        r.set("k", 1)
        for _ in range(20):
            r.get("k")
        assert 5 <= r.object("freq", "k") <= 255
        with pytest.raises(redis.ResponseError, match="^An LFU maxmemory policy is selected, idle time not tracked"):
            r.object("idletime", "k")
        r.close()


def test_keyspace_writes_bump_dirty_and_fire_events() -> None:
    with EmbeddedServer(notify_keyspace_events="KEA") as s:
        rec = Recorder()
        s.server.pubsub = rec
        r = redis.Redis.from_url(s.url)
        r.mset({"a": 1, "b": 2})
        steps = [
            (lambda: r.expire("a", 100), [("expire", b"a")], 1),
            (lambda: r.persist("a"), [("persist", b"a")], 1),
            (lambda: r.rename("a", "c"), [("rename_from", b"a"), ("rename_to", b"c")], 1),
            (lambda: r.copy("c", "d"), [("copy_to", b"d")], 1),
            (lambda: r.move("d", 1), [("move_from", b"d"), ("move_to", b"d")], 1),
            (lambda: r.delete("c", "nope"), [("del", b"c")], 1),
            (lambda: r.expire("b", -1), [("del", b"b")], 1),
            (lambda: r.swapdb(0, 1), [], 1),
            (lambda: r.delete("nope"), [], 0),
            (lambda: r.persist("d"), [], 0),
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
        await r.mset({"a": 1, "b": 2})
        assert sorted(await r.keys("*")) == [b"a", b"b"]
        assert await r.exists("a", "b") == 2
        assert await r.expire("a", 100) is True
        assert 99 <= await r.ttl("a") <= 100
        assert await r.rename("a", "c") is True
        assert await r.type("c") == b"string"
        assert {k async for k in r.scan_iter()} == {b"b", b"c"}
        assert await r.object("encoding", "c") == b"int"
        assert await r.delete("b", "c") == 2
        await r.aclose()

    for proto in (2, 3):
        asyncio.run(main(proto))
