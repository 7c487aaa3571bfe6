"""CLIENT subcommands: replies and errors compared with redis-server 7.0, plus the effects
(KILL closes the right connection, PAUSE holds writes, SETINFO accepted for redis-py 8)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from engine.server import EmbeddedServer
from tests.engine.test_server_cmds import raw
from tests.support.redis_real import RealRedis


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as srv:
        yield srv


SAME_AS_REDIS = [
    ("CLIENT", "SETNAME", "a b"), ("CLIENT", "SETNAME", "ok"), ("CLIENT", "GETNAME"),
    ("CLIENT", "LIST", "TYPE", "foo"), ("CLIENT", "LIST", "ID", "x"), ("CLIENT", "LIST", "foo"),
    ("CLIENT", "KILL", "1.2.3.4:5"), ("CLIENT", "KILL", "ID", "0"), ("CLIENT", "KILL", "ID", "99999"),
    ("CLIENT", "KILL", "foo", "bar"), ("CLIENT", "KILL", "ADDR", "1.2.3.4:5", "SKIPME", "maybe"),
    ("CLIENT", "PAUSE", "x"), ("CLIENT", "PAUSE", "10", "foo"), ("CLIENT", "NO-EVICT", "x"),
    ("CLIENT", "NO-EVICT", "on"), ("CLIENT", "UNPAUSE"), ("CLIENT", "HELP"), ("CLIENT", "NOSUCH"),
    ("CLIENT", "ID", "extra"),
]


@pytest.mark.parametrize("cmd", SAME_AS_REDIS, ids=lambda c: " ".join(c))
def test_matches_redis(engine: EmbeddedServer, redis_real_shared: RealRedis, cmd: tuple[str, ...]) -> None:
    assert raw(engine.port, *cmd) == raw(redis_real_shared.port, *cmd)


def test_list_and_info_fields(engine: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    ours = raw(engine.port, "CLIENT", "INFO").decode()
    theirs = raw(redis_real_shared.port, "CLIENT", "INFO").decode()
    keys = [f.split("=", 1)[0] for f in ours.split()]
    assert keys == [f.split("=", 1)[0] for f in theirs.split()]  # same fields, same order
    r = redis.Redis(port=engine.port, client_name="lister")
    me = r.client_id()
    listed = r.client_list()
    mine = [c for c in listed if int(c["id"]) == me]
    assert mine and mine[0]["name"] == "lister" and mine[0]["cmd"] == "client|list"
    assert [c["id"] for c in r.client_list(client_id=[me])] == [str(me)]
    info = r.client_info()
    assert info["name"] == "lister" and info["db"] == 0
    r3 = redis.Redis(port=engine.port, protocol=3)
    assert r3.client_info()["resp"] == "3"


def test_setinfo_accepted(engine: EmbeddedServer) -> None:
    r = redis.Redis(port=engine.port, single_connection_client=True)
    assert r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "mylib") == b"OK"
    assert r.execute_command("CLIENT", "SETINFO", "lib-ver", "1.2") == b"OK"
    with pytest.raises(redis.ResponseError, match="Unrecognized option 'foo'"):
        r.execute_command("CLIENT", "SETINFO", "foo", "x")
    with pytest.raises(redis.ResponseError, match="lib-name cannot contain spaces"):
        r.execute_command("CLIENT", "SETINFO", "lib-name", "a b")
    # redis-py 8 sends SETINFO on connect (and ignores errors); here it succeeds.
    r.config_resetstat()
    redis.Redis(port=engine.port).ping()
    stat = r.info("commandstats")["cmdstat_client|setinfo"]
    assert stat["calls"] == 2 and stat["failed_calls"] == 0


def test_kill_filters(engine: EmbeddedServer) -> None:
    admin = redis.Redis(port=engine.port, single_connection_client=True)
    victim = redis.Redis(port=engine.port, single_connection_client=True)
    victim.client_setname("victim")
    vid = victim.client_id()
    assert admin.client_kill_filter(_id=vid) == 1
    with pytest.raises(redis.ConnectionError):
        victim.connection.send_command("PING")  # type: ignore[union-attr]
        victim.connection.read_response()  # type: ignore[union-attr]
    other = redis.Redis(port=engine.port, single_connection_client=True)
    addr = other.client_info()["addr"]
    assert admin.execute_command("CLIENT", "KILL", addr) == b"OK"
    # SKIPME yes (default) spares the caller; SKIPME no kills it after the reply.
    me = admin.client_info()["addr"]
    assert admin.execute_command("CLIENT", "KILL", "ADDR", me) == 0
    assert admin.execute_command("CLIENT", "KILL", "ADDR", me, "SKIPME", "no") == 1


def test_pause_write_holds_writes_only(engine: EmbeddedServer) -> None:
    admin = redis.Redis(port=engine.port)
    writer = redis.Redis(port=engine.port)
    admin.set("pk", "0")
    assert admin.client_pause(400, all=False)
    t0 = time.monotonic()
    assert writer.get("pk") == b"0"  # reads pass
    assert time.monotonic() - t0 < 0.3
    done: list[float] = []
    th = threading.Thread(target=lambda: (writer.set("pk", "1"), done.append(time.monotonic() - t0)))
    th.start()
    th.join(5)
    assert done and 0.3 <= done[0] < 3  # held until the 400 ms pause ends (3 s: loaded machine)
    assert admin.get("pk") == b"1"
    # ALL holds every command, reads and CLIENT UNPAUSE included (processCommand blocks them
    # all in Redis 7.0), until the 500 ms run out.
    assert admin.client_pause(500)
    t1 = time.monotonic()
    assert writer.get("pk") == b"1"
    assert 0.4 <= time.monotonic() - t1 < 3  # 3 s: loaded machine
    assert admin.client_pause(300, all=False)
    assert admin.client_unpause()  # UNPAUSE is not a write: it passes a WRITE pause
    t2 = time.monotonic()
    writer.set("pk", "2")
    assert time.monotonic() - t2 < 0.25
