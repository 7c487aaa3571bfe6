"""Blocking list and sorted-set commands on the engine (engine/blocking.py): wake-up on push
from another client, FIFO fairness, timeouts, MULTI, disconnects, CLIENT UNBLOCK.

Timing tolerances: a 0.2 s BLPOP timeout must answer between 0.15 s (the timer is not allowed
to fire early beyond scheduler jitter) and 2 s (a loaded 2-core box running several suites).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aredis

from engine.server import EmbeddedServer
from tests.engine.conftest import aof_commands


@pytest.fixture(scope="module")
def srv() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as s:
        yield s


@pytest.fixture
def r(srv: EmbeddedServer) -> Iterator[redis.Redis]:
    c = redis.Redis(port=srv.port, socket_timeout=10)
    yield c
    c.close()


def _wait_blocked(r: redis.Redis, srv: EmbeddedServer, n: int, key: bytes) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        queue = srv.server.dbs[0].blocking.get(key)  # type: ignore[union-attr]
        if queue is not None and len(queue) >= n:
            return
        time.sleep(0.005)
    raise AssertionError(f"{n} clients never blocked on {key!r}")


def test_blpop_serves_existing_and_times_out(r: redis.Redis) -> None:
    r.delete("bl:a", "bl:b")
    r.rpush("bl:b", "x", "y")
    assert r.blpop(["bl:a", "bl:b"], timeout=1) == (b"bl:b", b"x")
    assert r.brpop(["bl:a", "bl:b"], timeout=1) == (b"bl:b", b"y")
    assert r.exists("bl:b") == 0
    t0 = time.monotonic()
    assert r.blpop(["bl:a"], timeout=0.2) is None
    assert 0.15 <= time.monotonic() - t0 < 2


def test_timeout_errors(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError, match="^timeout is not a float or out of range$"):
        r.execute_command("BLPOP", "k", "abc")
    with pytest.raises(redis.ResponseError, match="^timeout is negative$"):
        r.execute_command("BLPOP", "k", "-1")
    with pytest.raises(redis.ResponseError, match="^timeout is not a float or out of range$"):
        r.execute_command("BZPOPMIN", "k", "nan")


def test_wakeup_on_push_from_other_client(srv: EmbeddedServer, r: redis.Redis) -> None:
    r.delete("bl:w")
    result: list[object] = []
    waiter = redis.Redis(port=srv.port, socket_timeout=10)
    t = threading.Thread(target=lambda: result.append(waiter.blpop(["bl:w"], timeout=5)))
    t.start()
    _wait_blocked(r, srv, 1, b"bl:w")
    assert r.rpush("bl:w", "v1", "v2") == 2
    t.join(5)
    assert result == [(b"bl:w", b"v1")]
    assert r.lrange("bl:w", 0, -1) == [b"v2"]
    # the waiter's connection keeps working after being served
    assert waiter.ping() is True
    waiter.close()


def test_fifo_fairness(srv: EmbeddedServer, r: redis.Redis) -> None:
    r.delete("bl:f")
    results: dict[int, object] = {}
    clients = [redis.Redis(port=srv.port, socket_timeout=10) for _ in range(3)]
    threads = []
    for i, c in enumerate(clients):
        th = threading.Thread(target=lambda i=i, c=c: results.__setitem__(i, c.blpop(["bl:f"], timeout=5)))
        th.start()
        threads.append(th)
        _wait_blocked(r, srv, i + 1, b"bl:f")
    r.rpush("bl:f", "a")
    r.rpush("bl:f", "b", "c")
    for th in threads:
        th.join(5)
    assert results == {0: (b"bl:f", b"a"), 1: (b"bl:f", b"b"), 2: (b"bl:f", b"c")}
    for c in clients:
        c.close()


def test_blmove_and_brpoplpush_wakeup(srv: EmbeddedServer, r: redis.Redis) -> None:
    r.delete("bl:src", "bl:dst")
    out: list[object] = []
    waiter = redis.Redis(port=srv.port, socket_timeout=10)
    t = threading.Thread(target=lambda: out.append(waiter.blmove("bl:src", "bl:dst", 5, "LEFT", "RIGHT")))
    t.start()
    _wait_blocked(r, srv, 1, b"bl:src")
    r.rpush("bl:src", "m")
    t.join(5)
    assert out == [b"m"]
    assert r.lrange("bl:dst", 0, -1) == [b"m"]
    assert r.brpoplpush("bl:empty", "bl:dst", 0.05) is None
    waiter.close()


def test_blocking_in_multi_returns_nil_immediately(r: redis.Redis) -> None:
    from engine.table import COMMANDS

    if b"multi" not in COMMANDS:
        pytest.skip("MULTI/EXEC are not in this engine yet (transactions work stream)")
    r.delete("bl:m")
    p = r.pipeline(transaction=True)
    p.blpop(["bl:m"], timeout=0)
    p.brpoplpush("bl:m", "bl:n", 0)
    t0 = time.monotonic()
    assert p.execute() == [None, None]
    assert time.monotonic() - t0 < 1


def test_disconnect_while_blocked(srv: EmbeddedServer, r: redis.Redis) -> None:
    r.delete("bl:d")
    with socket.create_connection(("127.0.0.1", srv.port)) as raw:
        raw.sendall(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nbl:d\r\n$1\r\n0\r\n")
        _wait_blocked(r, srv, 1, b"bl:d")
    deadline = time.monotonic() + 5
    while b"bl:d" in srv.server.dbs[0].blocking and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.01)
    assert b"bl:d" not in srv.server.dbs[0].blocking  # type: ignore[union-attr]
    r.rpush("bl:d", "kept")
    assert r.lrange("bl:d", 0, -1) == [b"kept"]


def test_client_unblock(srv: EmbeddedServer, r: redis.Redis) -> None:
    r.delete("bl:u")
    waiter = redis.Redis(port=srv.port, socket_timeout=10)
    out: list[object] = []

    def run() -> None:
        try:
            out.append(waiter.blpop(["bl:u"], timeout=0))
        except redis.ResponseError as e:
            out.append(str(e))

    for mode, expected in (("TIMEOUT", None), ("ERROR", "UNBLOCKED client unblocked via CLIENT UNBLOCK")):
        out.clear()
        t = threading.Thread(target=run)
        t.start()
        _wait_blocked(r, srv, 1, b"bl:u")
        wid = srv.server.dbs[0].blocking[b"bl:u"][0].id  # type: ignore[union-attr]
        assert r.execute_command("CLIENT", "UNBLOCK", wid, mode) == 1
        t.join(5)
        assert out == [expected]
    assert r.execute_command("CLIENT", "UNBLOCK", wid) == 0
    waiter.close()


def test_bzpopmin_wakeup_and_bzmpop(srv: EmbeddedServer, r: redis.Redis) -> None:
    r.delete("bz:a")
    out: list[object] = []
    waiter = redis.Redis(port=srv.port, socket_timeout=10)
    t = threading.Thread(target=lambda: out.append(waiter.bzpopmin(["bz:a"], timeout=5)))
    t.start()
    _wait_blocked(r, srv, 1, b"bz:a")
    r.zadd("bz:a", {"m": 1.5, "n": 2})
    t.join(5)
    assert out == [(b"bz:a", b"m", 1.5)]
    assert r.bzmpop(1, 1, ["bz:a"], max=True) == [b"bz:a", [[b"n", b"2"]]]
    assert r.bzmpop(0.05, 1, ["bz:a"], min=True) is None
    waiter.close()


def test_blmpop_count_and_asyncio(srv: EmbeddedServer) -> None:
    async def scenario() -> None:
        a = aredis.Redis(port=srv.port, protocol=3)
        b = aredis.Redis(port=srv.port)
        await a.delete("bl:as")
        task = asyncio.create_task(a.blmpop(5, 1, "bl:as", direction="RIGHT", count=2))
        for _ in range(500):
            if b"bl:as" in srv.server.dbs[0].blocking:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.01)
        await b.rpush("bl:as", "1", "2", "3")
        assert await asyncio.wait_for(task, 5) == [b"bl:as", [b"3", b"2"]]
        assert await a.blmpop(0.05, 2, "bl:none", "bl:as", direction="LEFT") == [b"bl:as", [b"1"]]
        assert await a.blmpop(0.05, 1, "bl:none", direction="LEFT") is None
        await a.aclose()
        await b.aclose()

    asyncio.run(scenario())


def test_wrong_type_key_keeps_client_blocked(srv: EmbeddedServer, r: redis.Redis) -> None:
    r.delete("bl:t")
    out: list[object] = []
    waiter = redis.Redis(port=srv.port, socket_timeout=10)
    t = threading.Thread(target=lambda: out.append(waiter.blpop(["bl:t"], timeout=5)))
    t.start()
    _wait_blocked(r, srv, 1, b"bl:t")
    r.set("bl:t", "string")
    time.sleep(0.05)
    assert out == []
    r.delete("bl:t")
    r.lpush("bl:t", "ok")
    t.join(5)
    assert out == [(b"bl:t", b"ok")]
    waiter.close()


def test_wakeup_after_exec_sees_whole_transaction(srv: EmbeddedServer, r: redis.Redis) -> None:
    """A push inside MULTI wakes the waiter only after EXEC, as handleClientsBlockedOnKeys runs
    after the whole command: the waiter gets the first element, the rest stays."""
    r.delete("bl:x")
    out: list[object] = []
    waiter = redis.Redis(port=srv.port, socket_timeout=10)
    t = threading.Thread(target=lambda: out.append(waiter.blpop(["bl:x"], timeout=5)))
    t.start()
    _wait_blocked(r, srv, 1, b"bl:x")
    p = r.pipeline(transaction=True)
    p.rpush("bl:x", "a")
    p.rpush("bl:x", "b")
    p.lrange("bl:x", 0, -1)
    assert p.execute() == [1, 2, [b"a", b"b"]]  # nothing was served during EXEC
    t.join(5)
    assert out == [(b"bl:x", b"a")]
    assert r.lrange("bl:x", 0, -1) == [b"b"]
    waiter.close()


def test_pipelined_commands_after_a_blocked_one_run_once_served(srv: EmbeddedServer, r: redis.Redis) -> None:
    r.delete("bl:p")
    with socket.create_connection(("127.0.0.1", srv.port)) as raw:
        raw.settimeout(5)
        raw.sendall(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nbl:p\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n")
        _wait_blocked(r, srv, 1, b"bl:p")
        r.rpush("bl:p", "v")
        data = b""
        while not data.endswith(b"+PONG\r\n"):
            chunk = raw.recv(4096)
            assert chunk, data
            data += chunk
    assert data == b"*2\r\n$4\r\nbl:p\r\n$1\r\nv\r\n+PONG\r\n"


def test_served_blocking_commands_propagate_their_non_blocking_twin() -> None:
    """What the AOF receives: BLPOP served immediately or after blocking is LPOP, BLMOVE
    is LMOVE (Redis rewrites the command vector), and a failed BLMOVE records nothing."""
    with EmbeddedServer(appendonly="yes", appendfsync="always") as srv:
        r = redis.Redis(port=srv.port, socket_timeout=10)
        r.rpush("bl:a1", "x")
        assert r.blpop(["bl:a1"], timeout=1) == (b"bl:a1", b"x")
        waiter = redis.Redis(port=srv.port, socket_timeout=10)
        out: list[object] = []
        t = threading.Thread(target=lambda: out.append(waiter.blmove("bl:a1", "bl:a2", 5, "RIGHT", "LEFT")))
        t.start()
        _wait_blocked(r, srv, 1, b"bl:a1")
        r.rpush("bl:a1", "y")
        t.join(5)
        assert out == [b"y"]
        r.set("bl:str", "s")
        with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
            r.blmove("bl:a2", "bl:str", 1, "LEFT", "LEFT")
        r.rpush("bl:a2", "z")
        waiter.close()
        r.close()
        seen = aof_commands(srv)
    assert [[a[0].upper(), *a[1:]] for a in seen] == [
        [b"RPUSH", b"bl:a1", b"x"], [b"LPOP", b"bl:a1"],
        [b"RPUSH", b"bl:a1", b"y"], [b"LMOVE", b"bl:a1", b"bl:a2", b"RIGHT", b"LEFT"],
        [b"SET", b"bl:str", b"s"], [b"RPUSH", b"bl:a2", b"z"],
    ]


def test_script_pushes_wake_waiters_after_the_script(srv: EmbeddedServer, r: redis.Redis) -> None:
    """Wake-ups from a Lua script's writes are served after EVAL returns; BLPOP is a
    ``noscript`` command in Redis 7.0, so a script may not call it."""
    from engine.table import COMMANDS

    if b"eval" not in COMMANDS:
        pytest.skip("EVAL is not in this engine yet (scripting work stream)")
    r.delete("bl:lua")
    with pytest.raises(redis.ResponseError, match="not allowed from script"):
        r.eval("return redis.call('blpop', KEYS[1], 0)", 1, "bl:lua")
    out: list[object] = []
    waiter = redis.Redis(port=srv.port, socket_timeout=10)
    t = threading.Thread(target=lambda: out.append(waiter.blpop(["bl:lua"], timeout=5)))
    t.start()
    _wait_blocked(r, srv, 1, b"bl:lua")
    script = "redis.call('rpush', KEYS[1], 'a', 'b'); return redis.call('lrange', KEYS[1], 0, -1)"
    assert r.eval(script, 1, "bl:lua") == [b"a", b"b"]
    t.join(5)
    assert out == [(b"bl:lua", b"a")]
    assert r.lrange("bl:lua", 0, -1) == [b"b"]
    waiter.close()
