"""RDB files cross between the engine and real redis-server 7.0 in both directions.

engine -> redis: an engine ``dump.rdb`` covering every type in every encoding Redis 7.0 writes
is accepted by ``redis-check-rdb`` and loaded by ``redis-server``, which then reports the same
keys, types, values and absolute expiry times (PEXPIRETIME, exact to the ms).

redis -> engine: ``redis-server`` is filled with the same data (small values take listpack /
intset, large ones quicklist / hashtable / skiplist), SAVEs, and the engine's loader must read
its ``dump.rdb`` back to the same values.  Variants: compressed quicklist nodes
(``list-compress-depth 1``) and ``rdbcompression no``; and RDB 9 files with ziplist encodings
produced by the engine's ziplist encoder, which redis-server converts on load.
"""

from __future__ import annotations

import math
import random
import shutil
import struct
import subprocess
import time
from collections import deque
from pathlib import Path

import pytest
import redis

from engine.objects import ZSet
from engine.persistence import listpack, rdb, ziplist
from engine.persistence.crc64 import crc64
from tests.support.redis_real import real_redis

pytestmark = pytest.mark.redis_server


def _zset(pairs: dict[bytes, float]) -> ZSet:
    z = ZSet()
    for m, s in pairs.items():
        z.add(m, s)
    return z


def dataset() -> dict[int, tuple[dict[bytes, object], dict[bytes, int]]]:
    """Every type in each encoding Redis 7.0 picks, in two databases, with TTLs."""
    far = int(time.time() * 1000) + 3_600_000
    db0: dict[bytes, object] = {
        b"str:small": b"hello",
        b"str:int8": b"-12",
        b"str:int16": b"30000",
        b"str:int32": b"-2000000000",
        b"str:int64": b"9223372036854775807",
        b"str:notcanon": b"007",
        b"str:empty": b"",
        b"str:lzf": b"abcabcabcabcabcabcabcabcabcabcabcabcabc" * 10,
        b"str:random": bytes(range(256)) * 3,
        b"str:big": b"0123456789" * 20000,
        b"\x00bin\xffkey": b"\x00\x01\x02",
        b"hash:small": {b"f1": b"v1", b"n": b"42", b"neg": b"-70000"},
        b"hash:big": {b"field:%d" % i: b"value:%d" % i for i in range(600)},
        b"hash:longval": {b"f": b"x" * 65},
        b"list:small": deque([b"a", b"1", b"-5", b"b" * 70]),
        b"list:big": deque(b"item-%d" % i for i in range(3000)),
        b"list:hugeitem": deque([b"y" * 20000, b"z"]),
        b"set:intset": {b"1", b"-2", b"70000", b"5000000000"},
        b"set:strings": {b"a", b"b", b"1"},
        b"set:bigints": {b"%d" % i for i in range(600)},
        b"zset:small": _zset({b"a": 1.0, b"b": 2.5, b"c": -0.1, b"d": 1e20}),
        b"zset:big": _zset({b"m%d" % i: i / 7 for i in range(200)}),
        b"zset:inf": _zset({b"lo": -math.inf, b"hi": math.inf}),
        b"zset:longmember": _zset({b"m" * 80: 3.0}),
    }
    exp0 = {b"str:small": far, b"hash:big": far + 1, b"list:small": far + 2, b"zset:small": far + 3}
    db5: dict[bytes, object] = {b"k": b"v", b"set:x": {b"q"}}
    return {0: (db0, exp0), 5: (db5, {b"k": far + 10})}


def images(ds: dict[int, tuple[dict[bytes, object], dict[bytes, int]]]) -> list[rdb.DatabaseImage]:
    return [rdb.DatabaseImage(i, d, e) for i, (d, e) in sorted(ds.items())]


def read_back(c: redis.Redis, key: bytes) -> object:
    t = c.type(key)
    if t == b"string":
        return c.get(key)
    if t == b"hash":
        return c.hgetall(key)
    if t == b"list":
        return deque(c.lrange(key, 0, -1))
    if t == b"set":
        return c.smembers(key)
    if t == b"zset":
        return _zset(dict(c.zrange(key, 0, -1, withscores=True)))
    raise AssertionError(f"unexpected type {t!r}")


def populate(c: redis.Redis, ds: dict[int, tuple[dict[bytes, object], dict[bytes, int]]]) -> None:
    for dbid, (data, expires) in ds.items():
        c.execute_command("SELECT", dbid)
        p = c.pipeline(transaction=False)
        for key, value in data.items():
            if isinstance(value, bytes):
                p.set(key, value)
            elif isinstance(value, dict):
                p.hset(key, mapping=value)
            elif isinstance(value, deque):
                p.rpush(key, *value)
            elif isinstance(value, set):
                p.sadd(key, *value)
            elif isinstance(value, ZSet):
                p.zadd(key, dict(value.dict))
        for key, when in expires.items():
            p.pexpireat(key, when)
        p.execute()
    c.execute_command("SELECT", 0)


def check_rdb(path: Path) -> str:
    exe = shutil.which("redis-check-rdb")
    if exe is None:
        pytest.skip("redis-check-rdb not installed")
    proc = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "RDB looks OK" in proc.stdout
    return proc.stdout


def test_engine_rdb_loads_in_real_redis(tmp_path: Path) -> None:
    ds = dataset()
    rdb.save(tmp_path / "dump.rdb", images(ds))
    check_rdb(tmp_path / "dump.rdb")
    with real_redis("--dbfilename", "dump.rdb", dir=tmp_path) as srv:
        for dbid, (data, expires) in ds.items():
            c = srv.client(db=dbid)
            assert c.dbsize() == len(data)
            for key, value in data.items():
                assert read_back(c, key) == value, key
                assert c.execute_command("PEXPIRETIME", key) == expires.get(key, -1), key
        c = srv.client()
        # The encodings the writer chose are the ones Redis reports for the loaded objects.
        enc = {k: c.object("encoding", k) for k in (b"hash:small", b"hash:big", b"set:intset",
                                                     b"set:strings", b"zset:small", b"zset:big",
                                                     b"list:big", b"str:int16")}
        assert enc == {b"hash:small": b"listpack", b"hash:big": b"hashtable", b"set:intset": b"intset",
                       b"set:strings": b"hashtable", b"zset:small": b"listpack",
                       b"zset:big": b"skiplist", b"list:big": b"quicklist", b"str:int16": b"int"}


@pytest.mark.parametrize("extra", [(), ("--list-compress-depth", "1"), ("--rdbcompression", "no")],
                         ids=["default", "compressed-quicklist", "rdbcompression-no"])
def test_real_redis_rdb_loads_in_engine(tmp_path: Path, extra: tuple[str, ...]) -> None:
    ds = dataset()
    with real_redis("--dbfilename", "dump.rdb", *extra, dir=tmp_path) as srv:
        populate(srv.client(), ds)
        srv.client().save()
    check_rdb(tmp_path / "dump.rdb")
    loaded = rdb.load(tmp_path / "dump.rdb")
    assert loaded.aux[b"redis-ver"].startswith(b"7.0")
    assert sorted(loaded.dbs) == sorted(ds)
    for dbid, (data, expires) in ds.items():
        got_data, got_expires = loaded.dbs[dbid]
        assert got_data == data
        assert got_expires == expires


def _raw_rdb(version: int, body: bytes) -> bytes:
    head = b"REDIS%04d" % version + body + b"\xff"
    return head + struct.pack("<Q", crc64(head))


def _s(b: bytes) -> bytes:
    assert len(b) < 16384
    return (bytes((len(b),)) if len(b) < 64 else bytes((0x40 | (len(b) >> 8), len(b) & 0xFF))) + b


def test_ziplist_rdb_from_engine_encoder_loads_in_both(tmp_path: Path) -> None:
    """An RDB 9 file with the 6.2 encodings: Redis 7.0 converts them; the engine reads them."""
    items = [b"a", b"12", b"-70000", b"x" * 100, b"5000000000"]
    body = b"\xfe\x00"
    body += bytes((rdb.TYPE_LIST_QUICKLIST,)) + _s(b"ql") + b"\x02" + _s(ziplist.encode(items)) + _s(ziplist.encode(items[:2]))
    body += bytes((rdb.TYPE_HASH_ZIPLIST,)) + _s(b"hz") + _s(ziplist.encode([b"f", b"v", b"n", b"7"]))
    body += bytes((rdb.TYPE_ZSET_ZIPLIST,)) + _s(b"zz") + _s(ziplist.encode([b"m", b"1.5", b"k", b"-3"]))
    body += bytes((rdb.TYPE_ZSET,)) + _s(b"zold") + b"\x02" + _s(b"m") + b"\x031.5" + _s(b"inf") + b"\xfe"
    (tmp_path / "dump.rdb").write_bytes(_raw_rdb(9, body))
    expected = {
        b"ql": deque(items + items[:2]),
        b"hz": {b"f": b"v", b"n": b"7"},
        b"zz": _zset({b"m": 1.5, b"k": -3.0}),
        b"zold": _zset({b"m": 1.5, b"inf": math.inf}),
    }
    assert rdb.load(tmp_path / "dump.rdb").dbs[0][0] == expected
    check_rdb(tmp_path / "dump.rdb")
    with real_redis("--dbfilename", "dump.rdb", dir=tmp_path) as srv:
        c = srv.client()
        assert {k: read_back(c, k) for k in expected} == expected


def test_listpack_encoder_matches_redis_dump_payload(tmp_path: Path) -> None:
    """DUMP of a small hash is RDB_TYPE_HASH_LISTPACK + the listpack Redis built; ours is equal."""
    with real_redis(dir=tmp_path) as srv:
        c = srv.client()
        fields = [b"a", b"1", b"-1", b"300", b"-5000", b"70000", b"x" * 70, b"9223372036854775807"]
        c.rpush("l", *fields)
        c.hset("h", mapping={b"k": b"v", b"n": b"127", b"m": b"128"})
        dump = c.dump("h")
        assert dump[0] == rdb.TYPE_HASH_LISTPACK
        r = rdb._Reader(dump, 1)
        assert r.string() == listpack.encode([b"k", b"v", b"n", b"127", b"m", b"128"])
        dump = c.dump("l")
        assert dump[0] == rdb.TYPE_LIST_QUICKLIST_2
        r = rdb._Reader(dump, 1)
        assert r.len() == 1 and r.len() == rdb.QUICKLIST_NODE_CONTAINER_PACKED
        assert r.string() == listpack.encode(fields)
        # The DUMP trailer is the RDB version and the CRC-64 of everything before it.
        assert struct.unpack("<Q", dump[-8:])[0] == crc64(dump[:-8])


def test_dump_payloads_cross_both_ways(tmp_path: Path) -> None:
    """DUMP payloads: Redis RESTOREs the engine's, the engine parses Redis's."""
    ds = dataset()[0][0]
    with real_redis(dir=tmp_path) as srv:
        c = srv.client()
        populate(c, {0: (ds, {})})
        for key, value in ds.items():
            assert rdb.restore_payload(c.dump(key)) == value, key
            c.restore(b"copy:" + key, 0, rdb.dump_payload(value))
            assert read_back(c, b"copy:" + key) == value, key
        with pytest.raises(rdb.RdbError, match="checksum"):
            rdb.restore_payload(c.dump(b"str:small")[:-1] + b"\x00")


def test_streams_in_a_redis_rdb_load(tmp_path: Path) -> None:
    """A stream (with a consumer group and pending entries) loads beside the other keys."""
    with real_redis("--dbfilename", "dump.rdb", dir=tmp_path) as srv:
        c = srv.client()
        c.set("before", "1")
        for i in range(5):
            c.xadd("s", {"f": str(i)})
        c.xgroup_create("s", "g", id="0")
        c.xreadgroup("g", "consumer", {"s": ">"}, count=2)
        c.set("after", "2")
        c.save()
    loaded = rdb.load(tmp_path / "dump.rdb")
    data = loaded.dbs[0][0]
    assert {k: v for k, v in data.items() if k != b"s"} == {b"before": b"1", b"after": b"2"}
    stream = data[b"s"]
    assert [fields for fields in stream.entries.values()] == [[b"f", str(i).encode()] for i in range(5)]
    assert len(stream.groups[b"g"].pel) == 2 and list(stream.groups[b"g"].consumers) == [b"consumer"]


def test_running_engine_save_and_redis_dump_load_across(tmp_path: Path) -> None:
    """A dump.rdb from real redis-server is loaded by the engine server at start; the
    engine's SAVE of it is loaded by redis-server again, with the same keys and TTLs."""
    from engine.server import EmbeddedServer

    ds = dataset()
    with real_redis("--dbfilename", "dump.rdb", dir=tmp_path) as srv:
        populate(srv.client(), ds)
        srv.client().save()
    with EmbeddedServer(dir=str(tmp_path)) as eng:
        c = redis.Redis.from_url(eng.url)
        assert c.get("str:lzf") == ds[0][0][b"str:lzf"]
        assert c.execute_command("DBSIZE") == len(ds[0][0])
        c.execute_command("SAVE")
    check_rdb(tmp_path / "dump.rdb")
    with real_redis("--dbfilename", "dump.rdb", dir=tmp_path) as srv:
        for dbid, (data, expires) in ds.items():
            rc = srv.client(db=dbid)
            assert {k: read_back(rc, k) for k in data} == data
            assert {k: rc.execute_command("PEXPIRETIME", k) for k in expires} == expires


def _random_dataset(rng: random.Random, n_keys: int) -> dict[bytes, object]:
    """Values near every encoding boundary: string lengths 63/64 and 4095/4096, integers at
    the int8..int64 edges, hash/zset/set sizes and element lengths at the listpack/intset limits."""
    def ints() -> bytes:
        edge = rng.choice([7, 12, 13, 15, 23, 31, 63])
        v = (1 << edge) + rng.choice([-1, 0, 1]) if edge < 63 else (1 << 63) - 1
        v = min(v, (1 << 63) - 1)
        return str(-v if rng.random() < 0.5 else v).encode()

    def element() -> bytes:
        kind = rng.random()
        if kind < 0.3:
            return ints()
        if kind < 0.4:
            return rng.choice([b"", b"-0", b"007", b"1e3", b" 1", b"+1"])
        size = rng.choice([1, 20, 21, 63, 64, 65, 4095, 4096]) if rng.random() < 0.5 else rng.randrange(1, 200)
        if rng.random() < 0.5:
            return rng.randbytes(size)
        return bytes(rng.choice(b"ab") for _ in range(size))  # compressible: LZF paths

    data: dict[bytes, object] = {}
    for i in range(n_keys):
        key = b"k%d" % i
        t = rng.randrange(5)
        if t == 0:
            data[key] = element()
        elif t == 1:
            n = rng.choice([1, 5, 511, 512, 513]) if rng.random() < 0.3 else rng.randrange(1, 40)
            data[key] = {b"f%d" % j if rng.random() < 0.9 else element() + b"%d" % j: element() for j in range(n)}
        elif t == 2:
            data[key] = deque(element() for _ in range(rng.randrange(1, 300)))
        elif t == 3:
            n = rng.choice([1, 511, 512, 513]) if rng.random() < 0.3 else rng.randrange(1, 40)
            if rng.random() < 0.5:
                data[key] = {str(rng.randrange(-(1 << 40), 1 << 40)).encode() for _ in range(n)}
            else:
                data[key] = {element() for _ in range(n)}
        else:
            n = rng.choice([1, 127, 128, 129]) if rng.random() < 0.3 else rng.randrange(1, 40)
            z = ZSet()
            for j in range(n):
                score = rng.choice([float(rng.randrange(-1000, 1000)), rng.uniform(-1e9, 1e9), 0.1, -0.0, math.inf])
                z.add(element() + b"%d" % j, score)
            data[key] = z
    return data


@pytest.mark.parametrize("seed", [1, 2])
def test_random_datasets_cross_both_ways(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    data = _random_dataset(rng, 120)
    now = int(time.time() * 1000)
    expires = {k: now + rng.randrange(10**6, 10**8) for k in data if rng.random() < 0.3}
    ds = {0: (data, expires)}
    rdb.save(tmp_path / "dump.rdb", images(ds))
    check_rdb(tmp_path / "dump.rdb")
    with real_redis("--dbfilename", "dump.rdb", dir=tmp_path) as srv:
        c = srv.client()
        assert {k: read_back(c, k) for k in data} == data
        assert {k: c.execute_command("PEXPIRETIME", k) for k in expires} == expires
        c.save()
    loaded = rdb.load(tmp_path / "dump.rdb")
    assert loaded.dbs[0] == (data, expires)
