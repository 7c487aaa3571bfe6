"""Memory accounting (engine/memory.py) against redis-server 7.0 on the same data.

The tolerance of 25 % for each type is the issue's requirement; the model is exact for
strings (MEMORY USAGE is checked byte for byte) and the printed ratios document how close
the others are.  Data is loaded through redis-py into both servers; a family whose commands
the engine lacks is skipped.
"""

from __future__ import annotations

import concurrent.futures
import random
from collections.abc import Callable
from typing import Any

import pytest
import redis
from redis.driver_info import DriverInfo

from engine import memory
from engine.latency import HISTOGRAM_BYTES
from engine.server import EmbeddedServer
from engine.table import COMMANDS
from tests.support.redis_real import RealRedis


def on_loop(srv: EmbeddedServer, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on the server's event loop thread (the state it reads is not thread-safe)."""
    assert srv.server is not None and srv.server.loop is not None
    fut: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def run() -> None:
        try:
            fut.set_result(fn())
        except Exception as e:  # noqa: BLE001 - re-raised in the test thread
            fut.set_exception(e)

    srv.server.loop.call_soon_threadsafe(run)
    return fut.result(timeout=30)


def _used(r: redis.Redis, srv: EmbeddedServer | None) -> int:
    if srv is None:
        return int(r.info("memory")["used_memory"])
    assert srv.server is not None
    server = srv.server
    return int(on_loop(srv, lambda: memory.used_memory(server)))


def _strings(p: redis.client.Pipeline, rng: random.Random) -> None:
    for i in range(4000):
        if i % 5 == 0:
            p.set(f"s:{i}", rng.randrange(10**6, 10**9))
        else:
            p.set(f"s:{i}", rng.randbytes(rng.randrange(8, 300)))


def _hashes(p: redis.client.Pipeline, rng: random.Random) -> None:
    for i in range(300):
        p.hset(f"h:{i}", mapping={f"field{j}": rng.randbytes(rng.randrange(4, 40)) for j in range(20)})
    for i in range(20):
        p.hset(f"hb:{i}", mapping={f"field{j}": rng.randbytes(rng.randrange(4, 80)) for j in range(300)})


def _lists(p: redis.client.Pipeline, rng: random.Random) -> None:
    for i in range(300):
        p.rpush(f"l:{i}", *[rng.randbytes(rng.randrange(4, 40)) for _ in range(50)])
    for i in range(10):
        p.rpush(f"lb:{i}", *[rng.randbytes(rng.randrange(4, 100)) for _ in range(2000)])


def _sets(p: redis.client.Pipeline, rng: random.Random) -> None:
    for i in range(300):
        p.sadd(f"i:{i}", *[rng.randrange(10**6) for _ in range(30)])
    for i in range(100):
        p.sadd(f"t:{i}", *[f"member:{rng.randrange(10**9)}" for _ in range(100)])


def _zsets(p: redis.client.Pipeline, rng: random.Random) -> None:
    for i in range(300):
        p.zadd(f"z:{i}", {f"m{j}": rng.randrange(1000) for j in range(20)})
    for i in range(20):
        p.zadd(f"zb:{i}", {f"member:{j}": rng.random() * 1000 for j in range(300)})


CASES: dict[str, tuple[str, Callable[[redis.client.Pipeline, random.Random], None]]] = {
    "strings": ("set", _strings),
    "hashes": ("hset", _hashes),
    "lists": ("rpush", _lists),
    "sets": ("sadd", _sets),
    "zsets": ("zadd", _zsets),
}


@pytest.fixture(scope="module")
def engine_srv():
    with EmbeddedServer() as srv:
        yield srv


@pytest.mark.parametrize("case", list(CASES))
def test_dataset_memory_close_to_redis(case: str, engine_srv: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    cmd, fill = CASES[case]
    if cmd.encode() not in COMMANDS:
        pytest.skip(f"engine has no {cmd.upper()} yet")
    deltas = []
    for r, srv in ((redis_real_shared.client(), None), (redis.Redis(port=engine_srv.port), engine_srv)):
        r.flushall()
        before = _used(r, srv)
        p = r.pipeline(transaction=False)
        fill(p, random.Random(7))
        p.execute()
        deltas.append(_used(r, srv) - before)
        r.flushall()
    real, est = deltas
    ratio = est / real
    print(f"{case}: redis {real} B, engine {est} B, ratio {ratio:.3f}")
    assert 0.75 <= ratio <= 1.25, (case, real, est)


def test_memory_usage_strings_match_redis_exactly(engine_srv: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    """String encodings (int, embstr <= 44 bytes, raw) and sds headers give identical sizes."""
    values = [b"1", b"12345", b"-9223372036854775808", b"007", b"x" * 20, b"x" * 44, b"x" * 45, b"y" * 300, b"z" * 70000]
    keys = [b"k", b"k" * 31, b"k" * 32, b"k" * 300]
    e = redis.Redis(port=engine_srv.port)
    real = redis_real_shared.client()
    for r in (e, real):
        r.flushall()
    for key in keys:
        for v in values:
            for r in (e, real):
                r.set(key, v)
            assert e.memory_usage(key) == real.memory_usage(key), (key, v)
    assert e.memory_usage("missing") is None


def test_incremental_estimate_tracks_in_place_writes(engine_srv: EmbeddedServer) -> None:
    """LPUSH into an existing list and DEL change used_memory without a full recount."""
    assert engine_srv.server is not None
    r = redis.Redis(port=engine_srv.port)
    r.set("a", "x")  # SET, RPUSH, FLUSHALL get their latency histograms (24 688 B each) now
    r.rpush("warm", "x")
    r.flushall()
    base = _used(r, engine_srv)
    r.set("a", "x" * 100)
    one = _used(r, engine_srv)
    assert one - base == 32 + 8 + 16 + 112 + 32  # dictEntry, key sds, robj, sds(100), 4 buckets
    if b"rpush" in COMMANDS:
        r.rpush("l", "x" * 1000)
        small = _used(r, engine_srv)
        r.rpush("l", *["y" * 1000] * 20)
        assert _used(r, engine_srv) > small + 20_000
    r.flushall()
    assert _used(r, engine_srv) == base


@pytest.mark.redis_server
def test_later_redis_commands_hold_no_histogram(redis_real_shared: RealRedis) -> None:
    """CLIENT SETINFO is Redis 7.2's (redis-py sends it on every connect): redis-server 7.0
    refuses it before ``call()`` and allocates no latency histogram for it.  The engine answers
    it and keeps a histogram, but must not count one into used_memory: 24,688 B is about 140
    small keys under a memory limit (tests/differential/test_eviction_vs_redis.py)."""
    bare = DriverInfo(name=None, lib_version=None)  # no SETINFO on connect
    real = redis.Redis(port=redis_real_shared.port, driver_info=bare)
    with pytest.raises(redis.ResponseError):
        real.execute_command("CLIENT", "SETINFO", "LIB-NAME", "probe")
    assert "latency_percentiles_usec_client|setinfo" not in real.info("latencystats")
    with EmbeddedServer() as srv:  # a fresh server: no client has sent SETINFO to it yet
        e = redis.Redis(port=srv.port, driver_info=bare)
        e.ping()
        before = _used(e, srv)
        assert e.execute_command("CLIENT", "SETINFO", "LIB-NAME", "probe") == b"OK"
        after = _used(e, srv)
        assert "latency_percentiles_usec_client|setinfo" in e.info("latencystats")
        mid = _used(e, srv)  # INFO's histogram now counted
        e.execute_command("DBSIZE")
        assert _used(e, srv) == mid + HISTOGRAM_BYTES  # a 7.0 command's is counted
    assert after == before


def test_memory_subcommands(engine_srv: EmbeddedServer) -> None:
    r = redis.Redis(port=engine_srv.port)
    r.flushall()
    r.set("k", "v")
    stats = r.execute_command("MEMORY", "STATS")
    assert stats[b"keys.count"] if isinstance(stats, dict) else b"keys.count" in stats
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("MEMORY", "USAGE", "k", "SAMPLES", "-1")
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.execute_command("MEMORY", "USAGE", "k", "SAMPLES", "x")
    assert r.execute_command("MEMORY", "USAGE", "k", "SAMPLES", "0") == 32 + 8 + 24  # embstr, sds "k", sizeof(dictEntry)
    assert r.execute_command("MEMORY", "PURGE") == b"OK"
    assert b"Sam" in r.execute_command("MEMORY", "DOCTOR")
    help_lines = r.execute_command("MEMORY", "HELP")
    assert help_lines[0].startswith(b"MEMORY <subcommand>")


def test_info_memory_fields(engine_srv: EmbeddedServer) -> None:
    assert engine_srv.server is not None
    r = redis.Redis(port=engine_srv.port)
    r.config_set("maxmemory", "10mb")
    try:
        info = r.info("memory")
        assert info["maxmemory"] == 10 * 1024 * 1024 and info["maxmemory_human"] == "10.00M"
        assert info["maxmemory_policy"] == "noeviction"
        assert info["used_memory_startup"] == memory.USED_MEMORY_STARTUP_BYTES
        assert info["used_memory"] == info["used_memory_overhead"] + info["used_memory_dataset"]
        assert info["used_memory_human"].endswith(("K", "M"))
    finally:
        r.config_set("maxmemory", "0")


def test_dataset_loaded_from_rdb_is_counted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Keys installed by the RDB loader (no signal_modified) are counted at start."""
    with EmbeddedServer(dir=str(tmp_path)) as srv:
        r = redis.Redis(port=srv.port)
        p = r.pipeline(transaction=False)
        for i in range(2000):
            p.set(f"k{i}", b"v" * 100)
        p.execute()
        r.save()
        server = srv.server
        before = on_loop(srv, lambda: memory.used_memory(server) and memory.state(server).dataset_bytes)  # type: ignore[arg-type]
    with EmbeddedServer(dir=str(tmp_path)) as srv:
        r = redis.Redis(port=srv.port)
        assert r.dbsize() == 2000
        server = srv.server
        # No write since start: only the start-up count can have counted these keys.
        after = on_loop(srv, lambda: memory.state(server).dataset_bytes)  # type: ignore[union-attr]
    assert after == before


def test_memory_usage_collections_close_to_redis(engine_srv: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    """MEMORY USAGE ... SAMPLES 0 for every encoding: listpack/intset sizes are exact; dict,
    quicklist and skiplist estimates within 10 % (skiplist levels are random in Redis; the
    model uses the expected node size)."""
    needed = {b"hset", b"rpush", b"sadd", b"zadd"}
    if not needed <= set(COMMANDS):
        pytest.skip("engine lacks a collection family")
    e, real = redis.Redis(port=engine_srv.port), redis_real_shared.client()
    cases = {
        "h": (lambda r: r.hset("h", mapping={f"f{i}": "v" * 10 for i in range(20)}), 0.0),
        "hb": (lambda r: r.hset("hb", mapping={f"f{i}": "v" * 70 for i in range(300)}), 0.10),
        "l": (lambda r: r.rpush("l", *["x" * 10] * 100), 0.0),
        "lb": (lambda r: r.rpush("lb", *["x" * 100] * 2000), 0.10),
        "si": (lambda r: r.sadd("si", *range(100)), 0.0),
        "ss": (lambda r: r.sadd("ss", *[f"m{i}" for i in range(1000)]), 0.10),
        "z": (lambda r: r.zadd("z", {f"m{i}": i for i in range(50)}), 0.0),
        "zb": (lambda r: r.zadd("zb", {f"m{i}": i * 1.5 for i in range(500)}), 0.10),
    }
    for key, (fill, tol) in cases.items():
        sizes = []
        for r in (e, real):
            r.delete(key)
            fill(r)
            sizes.append(r.memory_usage(key, samples=0))
        ours, theirs = sizes
        print(f"MEMORY USAGE {key}: redis {theirs} engine {ours}")
        assert abs(ours - theirs) <= tol * theirs, (key, ours, theirs)
