"""MULTI/EXEC/DISCARD/WATCH/UNWATCH on the engine through redis-py (sync and asyncio):
queued-command errors abort with EXECABORT, runtime errors do not roll back, and a WATCHed
key touched by another client, by expiry, FLUSHALL, RENAME or a Lua script aborts EXEC."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aioredis

from engine.server import EmbeddedServer
from engine.table import COMMANDS


@pytest.fixture(scope="module")
def srv() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as s:
        yield s


@pytest.fixture
def r(srv: EmbeddedServer) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(srv.url, single_connection_client=True)
    c.flushall()
    yield c
    c.close()


def test_exec_returns_each_reply_and_runtime_errors_do_not_roll_back(r: redis.Redis) -> None:
    p = r.pipeline(transaction=True)
    p.set("a", "1").incr("a").lpush("a", "x").get("a")
    out = p.execute(raise_on_error=False)
    assert out[:2] == [True, 2]
    assert isinstance(out[2], redis.ResponseError) and str(out[2]).startswith("WRONGTYPE")
    assert out[3] == b"2"
    assert r.get("a") == b"2"


def test_queued_error_aborts_with_execabort(r: redis.Redis) -> None:
    assert r.execute_command("MULTI") == b"OK"
    assert r.execute_command("INCR", "k") == b"QUEUED"
    with pytest.raises(redis.ResponseError, match="unknown command 'NOSUCH'"):
        r.execute_command("NOSUCH", "x")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get' command"):
        r.execute_command("GET")
    with pytest.raises(redis.exceptions.ExecAbortError, match="Transaction discarded because of previous errors"):
        r.execute_command("EXEC")
    assert r.get("k") is None


def test_state_errors(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError, match="^EXEC without MULTI$"):
        r.execute_command("EXEC")
    with pytest.raises(redis.ResponseError, match="^DISCARD without MULTI$"):
        r.execute_command("DISCARD")
    r.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="^MULTI calls can not be nested$"):
        r.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="^WATCH inside MULTI is not allowed$"):
        r.execute_command("WATCH", "x")
    r.execute_command("SET", "q", "1")
    assert r.execute_command("DISCARD") == b"OK"
    assert r.get("q") is None
    # After the nested MULTI error the transaction still runs (Redis does not flag it).
    r.execute_command("MULTI")
    with pytest.raises(redis.ResponseError):
        r.execute_command("MULTI")
    r.execute_command("SET", "q", "2")
    assert r.execute_command("EXEC") == [b"OK"]


def _watched_exec(r: redis.Redis, key: str, meddle) -> list | None:  # type: ignore[no-untyped-def, type-arg]
    with r.pipeline() as p:
        p.watch(key)
        meddle()
        p.multi()
        p.set(key, "mine")
        try:
            return p.execute()  # type: ignore[no-any-return]
        except redis.WatchError:
            return None


def test_watch_aborts_on_write_by_other_client(r: redis.Redis, srv: EmbeddedServer) -> None:
    other = redis.Redis.from_url(srv.url)
    r.set("w", "0")
    assert _watched_exec(r, "w", lambda: other.set("w", "theirs")) is None
    assert r.get("w") == b"theirs"
    assert _watched_exec(r, "w", lambda: None) == [True]
    # Reading a watched key is not a modification.
    assert _watched_exec(r, "w", lambda: other.get("w")) == [True]
    other.close()


@pytest.mark.parametrize("meddle", ["flushall", "flushdb", "rename", "del", "expire_passes", "script", "swapdb"])
def test_watch_aborts_on_every_kind_of_change(r: redis.Redis, srv: EmbeddedServer, meddle: str) -> None:
    other = redis.Redis.from_url(srv.url)
    r.set("w", "0")
    actions = {
        "flushall": lambda: other.flushall(),
        "flushdb": lambda: other.flushdb(),
        "rename": lambda: (other.set("src", "x"), other.rename("src", "w")),
        "del": lambda: other.delete("w"),
        "expire_passes": lambda: (other.pexpire("w", 20), time.sleep(0.1)),
        "script": lambda: other.eval("return redis.call('set', KEYS[1], 'lua')", 1, "w"),
        "swapdb": lambda: (other.execute_command("SELECT", "1"), other.set("w", "db1"), other.swapdb(0, 1)),
    }
    if meddle == "swapdb" and not _has("swapdb"):
        pytest.skip("SWAPDB is not in the engine yet")
    assert _watched_exec(r, "w", actions[meddle]) is None
    other.close()



@pytest.mark.parametrize("write", [
    ("BITFIELD", "w", "INCRBY", "u8", "0", "1"),
    ("BITFIELD", "w", "SET", "u8", "64", "1"),  # grows the value in place
    ("PFADD", "w", "a", "b", "c"),
    ("GEOADD", "w", "13.361389", "38.115556", "m"),
    ("XADD", "w", "*", "f", "v"),
], ids=["bitfield", "bitfield-grow", "pfadd", "geoadd", "xadd"])
def test_watch_aborts_on_a_value_changed_in_place(r: redis.Redis, srv: EmbeddedServer, write: tuple[str, ...]) -> None:
    """BITFIELD, PFADD, GEOADD and XADD change the value a key already holds in place (no new
    value stored): the key is still signalled modified (signalModifiedKey)."""
    other = redis.Redis.from_url(srv.url)
    first = {"BITFIELD": ("BITFIELD", "w", "INCRBY", "u8", "0", "1"), "PFADD": ("PFADD", "w", "x"),
             "GEOADD": ("GEOADD", "w", "13", "38", "x"), "XADD": ("XADD", "w", "*", "x", "y")}[write[0]]
    other.execute_command(*first)  # the key now holds the value the write changes in place
    assert _watched_exec(r, "w", lambda: other.execute_command(*write)) is None
    other.close()


def test_watch_survives_bitfield_reads(r: redis.Redis, srv: EmbeddedServer) -> None:
    other = redis.Redis.from_url(srv.url)
    other.execute_command("BITFIELD", "w", "INCRBY", "u8", "0", "1")
    assert _watched_exec(r, "w", lambda: other.execute_command("BITFIELD", "w", "GET", "u8", "0")) == [True]
    other.close()

def _has(name: str) -> bool:
    return name.encode() in COMMANDS


def test_watch_on_key_already_expired_does_not_abort(r: redis.Redis) -> None:
    r.set("gone", "1", px=1)
    time.sleep(0.02)
    assert _watched_exec(r, "gone", lambda: None) == [True]


def test_unwatch_and_discard_forget_watches(r: redis.Redis, srv: EmbeddedServer) -> None:
    other = redis.Redis.from_url(srv.url)
    r.execute_command("WATCH", "u")
    other.set("u", "1")
    r.execute_command("UNWATCH")
    r.execute_command("MULTI")
    r.execute_command("SET", "u", "2")
    assert r.execute_command("EXEC") == [b"OK"]
    r.execute_command("WATCH", "u")
    r.execute_command("MULTI")
    r.execute_command("DISCARD")
    other.set("u", "3")
    r.execute_command("MULTI")
    r.execute_command("GET", "u")
    assert r.execute_command("EXEC") == [b"3"]
    other.close()


def test_blocking_command_inside_multi_does_not_block(r: redis.Redis) -> None:
    t0 = time.monotonic()
    p = r.pipeline()
    p.blpop(["nolist"], timeout=5)
    p.rpush("l", "a")
    p.blpop(["l"], timeout=5)
    assert p.execute() == [None, 1, (b"l", b"a")]
    assert time.monotonic() - t0 < 2


def test_time_is_frozen_during_exec(r: redis.Redis, srv: EmbeddedServer) -> None:
    """A key set with PX 1 inside EXEC is still there for the next queued command."""
    p = r.pipeline()
    p.set("f", "v", px=1)
    if _has("debug"):
        p.execute_command("DEBUG", "SLEEP", "0.01")
    p.get("f")
    out = p.execute(raise_on_error=False)
    assert out[-1] == b"v"


def test_optimistic_increment_race_is_exact(srv: EmbeddedServer) -> None:
    """Four clients add 1 fifty times each with WATCH/MULTI retries: no lost update."""
    redis.Redis.from_url(srv.url).set("counter", "0")
    retries = [0]

    def worker() -> None:
        c = redis.Redis.from_url(srv.url)
        for _ in range(50):
            while True:
                with c.pipeline() as p:
                    try:
                        p.watch("counter")
                        v = int(p.get("counter"))  # type: ignore[arg-type]
                        p.multi()
                        p.set("counter", v + 1)
                        p.execute()
                        break
                    except redis.WatchError:
                        retries[0] += 1
        c.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert int(redis.Redis.from_url(srv.url).get("counter")) == 200  # type: ignore[arg-type]


def test_asyncio_transaction(srv: EmbeddedServer) -> None:
    async def main() -> list:  # type: ignore[type-arg]
        c = aioredis.Redis.from_url(srv.url)
        async with c.pipeline(transaction=True) as p:
            p.set("x", 1).incrby("x", 41).get("x")
            out = await p.execute()
        await c.aclose()
        return out  # type: ignore[no-any-return]

    assert asyncio.run(main()) == [True, 42, b"42"]


def test_exec_with_a_write_over_maxmemory_is_refused() -> None:
    """With noeviction and used memory over maxmemory, Redis 7.0 refuses every command queued
    inside MULTI (reads too: queuing itself takes memory) and flags the transaction, so EXEC
    answers EXECABORT and the client leaves MULTI (tests/engine/security/test_multi_limits.py
    checks the same against redis-server)."""
    with EmbeddedServer(maxmemory="1mb", **{"maxmemory-policy": "noeviction"}) as small:
        c = redis.Redis.from_url(small.url, single_connection_client=True)
        for i in range(1000):
            try:
                c.set(f"fill:{i}", "x" * 4096)
            except redis.exceptions.OutOfMemoryError:
                break
        else:
            pytest.fail("4 MB of writes never reached maxmemory 1mb")
        assert c.get("fill:0") == b"x" * 4096  # outside MULTI a read still runs
        c.execute_command("MULTI")
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            c.execute_command("INCR", "n")
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            c.execute_command("GET", "fill:0")
        with pytest.raises(redis.exceptions.ExecAbortError):
            c.execute_command("EXEC")
        with pytest.raises(redis.ResponseError, match="EXEC without MULTI"):
            c.execute_command("EXEC")
        assert c.get("n") is None
        c.close()


def test_watch_aborts_when_the_key_is_evicted() -> None:
    with EmbeddedServer(maxmemory="2mb", **{"maxmemory-policy": "allkeys-lru"}) as small:
        c = redis.Redis.from_url(small.url, single_connection_client=True)
        other = redis.Redis.from_url(small.url)
        c.set("victim", "v")
        c.execute_command("WATCH", "victim")
        for i in range(2000):  # 8 MB through a 2 MB cache: the oldest key goes
            other.set(f"fill:{i}", "x" * 4096)
            if i % 50 == 0 and not other.exists("victim"):
                break
        assert not other.exists("victim")
        c.execute_command("MULTI")
        c.execute_command("SET", "victim", "again")
        assert c.execute_command("EXEC") is None
        c.close()
        other.close()
