"""Issue 12 item 12: every blocking command's wake-up paths with several blocked clients, run
on the engine and on a real redis-server 7.0; the replies each blocked client reads and the
final keyspace must be the same.

Before the fix, BRPOPLPUSH/BLMOVE clients whose destination held the wrong type were never
answered (the push left them blocked forever); Redis answers WRONGTYPE, unblocks them and
leaves the elements in the source, in order."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from engine.server import EmbeddedServer
from tests.support.redis_real import RealRedis

Action = Callable[[redis.Redis], object]


def _resp(*args: bytes | str) -> bytes:
    out = b"*%d\r\n" % len(args)
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(b), b)
    return out


def _read_all(s: socket.socket, wait_s: float) -> bytes:
    s.settimeout(wait_s)
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
    except TimeoutError:
        pass
    return out


def scenario(port: int, blocked: list[tuple[str, ...]], actions: list[Action], wait_s: float = 0.25) -> tuple[list[bytes], dict]:
    """Block one client per command of ``blocked`` (in that order), run ``actions`` from a
    control client, then return what each blocked client read and the final keyspace."""
    ctl = redis.Redis(port=port, socket_timeout=10)
    ctl.flushall()
    socks = []
    try:
        for i, cmd in enumerate(blocked):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(_resp(*cmd))
            socks.append(s)
            deadline = time.monotonic() + 5
            while int(ctl.info("clients")["blocked_clients"]) < i + 1 and time.monotonic() < deadline:
                time.sleep(0.005)
        results = []
        for act in actions:
            results.append(act(ctl))
        replies = [_read_all(s, wait_s) for s in socks]
        keys = {}
        for k in sorted(ctl.keys("*")):
            t = ctl.type(k)
            keys[k] = (t, ctl.lrange(k, 0, -1) if t == b"list" else None)
        return replies, {"keys": keys, "results": results, "blocked": int(ctl.info("clients")["blocked_clients"])}
    finally:
        for s in socks:
            s.close()


def _ids(ctl: redis.Redis) -> list[int]:
    return sorted(c["id"] for c in ctl.client_list() if c.get("flags", "").find("b") >= 0)


SCENARIOS: dict[str, tuple[list[tuple[str, ...]], list[Action]]] = {
    "blmove-wrongtype-multi-push": (
        [("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")] * 3,
        [lambda c: c.set("dst", "str"), lambda c: c.rpush("src", "a", "b", "c")],
    ),
    "brpoplpush-wrongtype-then-ok": (
        [("BRPOPLPUSH", "src", "dst", "0"), ("BRPOPLPUSH", "src", "other", "0"), ("BLPOP", "src", "0")],
        [lambda c: c.sadd("dst", "m"), lambda c: c.rpush("src", "a", "b")],
    ),
    "blmove-wrongtype-pushed-in-multi": (
        [("BLMOVE", "src", "dst", "RIGHT", "LEFT", "0")] * 2,
        [lambda c: c.pipeline(transaction=True).rpush("src", "x").set("dst", "s").rpush("src", "y").execute()],
    ),
    "blpop-key-deleted-before-serve": (
        [("BLPOP", "k", "0")] * 2,
        [lambda c: c.pipeline(transaction=True).rpush("k", "1").delete("k").execute(), lambda c: c.rpush("k", "2")],
    ),
    "blpop-wrong-type-at-wakeup": (
        [("BLPOP", "k", "0"), ("BRPOP", "k", "0")],
        [lambda c: c.pipeline(transaction=True).rpush("k", "1").delete("k").set("k", "s").execute(),
         lambda c: c.delete("k"), lambda c: c.lpush("k", "a", "b", "c")],
    ),
    "flushall-then-push": (
        [("BLPOP", "k", "0"), ("BLMPOP", "0", "1", "k", "RIGHT", "COUNT", "2")],
        [lambda c: c.pipeline(transaction=True).rpush("k", "1").flushall().execute(), lambda c: c.rpush("k", "a", "b", "c")],
    ),
    "swapdb-makes-key-ready": (
        [("BLPOP", "k", "0"), ("BLPOP", "k", "0")],
        [lambda c: c.execute_command("SELECT", "1") and None, lambda c: redis.Redis(port=c.connection_pool.connection_kwargs["port"], db=1).rpush("k", "x", "y"),
         lambda c: c.swapdb(0, 1)],
    ),
    "zset-blocking-wrongtype-and-unblock": (
        [("BZPOPMIN", "z", "0"), ("BZPOPMAX", "z", "0"), ("BLPOP", "z", "0")],
        [lambda c: c.zadd("z", {"a": 1, "b": 2, "c": 3}), lambda c: [c.client_unblock(i, error=True) for i in _ids(c)]],
    ),
    "expired-key-not-served": (
        [("BLPOP", "e", "0"), ("BLMOVE", "e", "d", "LEFT", "LEFT", "0")],
        [lambda c: c.pipeline(transaction=True).rpush("e", "1").pexpire("e", 1).execute(),
         lambda c: time.sleep(0.05), lambda c: c.rpush("e", "2", "3")],
    ),
    "unblock-timeout-and-error": (
        [("BLPOP", "k", "0"), ("BRPOPLPUSH", "k", "d", "0"), ("BLMPOP", "0", "1", "k", "LEFT")],
        [lambda c: [c.client_unblock(i) for i in _ids(c)[:2]], lambda c: [c.client_unblock(i, error=True) for i in _ids(c)]],
    ),
}


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as srv:
        yield srv


@pytest.mark.redis_server
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_wakeups_match_redis(engine: EmbeddedServer, redis_real_shared: RealRedis, name: str) -> None:
    blocked, actions = SCENARIOS[name]
    ours = scenario(engine.port, blocked, actions)
    theirs = scenario(redis_real_shared.port, blocked, actions)
    redis.Redis(port=redis_real_shared.port).flushall()
    assert ours == theirs


def test_wrongtype_destination_is_answered(engine: EmbeddedServer) -> None:
    """Without a reference server: each blocked BLMOVE reads WRONGTYPE, the source keeps its order."""
    replies, state = scenario(engine.port, [("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")] * 3,
                              [lambda c: c.set("dst", "str"), lambda c: c.rpush("src", "a", "b", "c")])
    assert replies == [b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"] * 3
    assert state["keys"][b"src"] == (b"list", [b"a", b"b", b"c"])
    assert state["blocked"] == 0
