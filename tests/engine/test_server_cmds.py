"""Server and connection commands against the engine (redis-py, RESP2 and RESP3), with error
texts and reply shapes compared byte for byte with a real redis-server 7.0 where both exist."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from engine.server import EmbeddedServer
from tests.support.redis_real import RealRedis


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(enable_debug_command="local") as srv:
        yield srv


def raw(port: int, *cmd: Any, protocol: int = 2) -> Any:
    """One command on a fresh connection, reply unparsed by redis-py's callbacks."""
    conn = redis.Connection(host="127.0.0.1", port=port, protocol=protocol)
    conn.connect()
    try:
        conn.send_command(*cmd)
        try:
            return conn.read_response()
        except (redis.ResponseError, redis.AuthenticationError) as e:
            return ("error", str(e))
    finally:
        conn.disconnect()


SAME_AS_REDIS = [
    ("PING",), ("PING", "hi"), ("PING", "a", "b"), ("ECHO", "x"), ("ECHO",),
    ("COMMAND", "INFO", "get", "nosuchcmd"), ("COMMAND", "GETKEYS", "mset", "a", "b", "c", "d"),
    ("COMMAND", "GETKEYS", "nosuch", "x"), ("COMMAND", "GETKEYS", "mset", "a"), ("COMMAND", "GETKEYS", "ping", "x"),
    ("COMMAND", "DOCS", "nosuch"), ("COMMAND", "LIST", "FILTERBY", "foo", "x"), ("COMMAND", "nosuch"),
    ("COMMAND", "HELP"), ("SLOWLOG", "HELP"), ("SLOWLOG", "GET", "-2"), ("SLOWLOG", "nosuch"),
    ("CONFIG", "HELP"), ("CLIENT", "HELP"), ("HELLO", "4"), ("HELLO", "x"), ("HELLO", "3", "foo"),
    ("AUTH", "x"), ("SELECT", "99"), ("INFO", "nosuchsection"), ("DEBUG", "nosuch"),
]


@pytest.mark.parametrize("cmd", SAME_AS_REDIS, ids=lambda c: " ".join(c))
def test_reply_matches_redis(engine: EmbeddedServer, redis_real_shared: RealRedis, cmd: tuple[str, ...]) -> None:
    if cmd[0] == "DEBUG":
        return  # DEBUG is disabled on the real server and enabled here: compared in test_debug
    assert raw(engine.port, *cmd) == raw(redis_real_shared.port, *cmd)


def test_command_info_layout_resp3(engine: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    for proto in (2, 3):
        ours = raw(engine.port, "COMMAND", "INFO", "get", "mset", protocol=proto)
        theirs = raw(redis_real_shared.port, "COMMAND", "INFO", "get", "mset", protocol=proto)
        for a, b in zip(ours, theirs, strict=True):
            assert a[:2] + a[3:6] == b[:2] + b[3:6]  # name, arity, key positions
            assert a[2] == b[2] if proto == 2 else set(a[2]) == set(b[2])  # flags: a set in RESP3
            assert set(a[6]) == set(b[6])  # ACL categories (a set in RESP3)
            assert a[8] and b[8]  # key specs present (access flags may be coarser here)


def test_every_flag_is_a_redis_flag(engine: EmbeddedServer) -> None:
    from engine.commands.server import _FLAG_ORDER

    for row in raw(engine.port, "COMMAND"):
        for entry in (row, *row[9]):
            assert {f.decode() for f in entry[2]} <= set(_FLAG_ORDER), entry[0]


def test_command_introspection_through_redis_py(engine: EmbeddedServer) -> None:
    for proto in (2, 3):
        r = redis.Redis(port=engine.port, protocol=proto)
        table = r.command()
        assert table["get"]["arity"] == 2 and set(table["get"]["flags"]) == {"readonly", "fast"}
        assert r.command_count() == len(table)
        assert r.command_getkeys("mset", "a", "1", "b", "2") in ([b"a", b"b"], ["a", "b"])
        names = r.command_list(category="connection")
        assert b"ping" in names and b"client|id" in names
        assert r.command_list(pattern="conf*")[0] == b"config"
    docs = raw(engine.port, "COMMAND", "DOCS", "config", protocol=3)
    assert docs[b"config"][b"subcommands"][b"config|get"][b"since"] == b"2.0.0"
    assert set(docs[b"config"]) >= {b"summary", b"since", b"group"}


def test_time_and_dbsize(engine: EmbeddedServer) -> None:
    r = redis.Redis(port=engine.port)
    sec, usec = r.time()
    assert abs(sec + usec / 1e6 - time.time()) < 2  # same clock, 2 s for a loaded machine
    r.flushall()
    r.set("a", 1)
    assert r.dbsize() == 1


def test_info_sections(engine: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    r = redis.Redis(port=engine.port)
    r.flushall()
    r.config_resetstat()
    r.set("k", "v", ex=100)
    r.get("k")
    r.get("missing")
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCHCMD")
    info = r.info("everything")
    real = redis.Redis(port=redis_real_shared.port).info("everything")
    for field in ("redis_version", "connected_clients", "keyspace_hits", "keyspace_misses", "expired_keys",
                  "evicted_keys", "instantaneous_ops_per_sec", "total_commands_processed", "used_memory",
                  "maxmemory_policy", "role", "used_cpu_user", "rdb_changes_since_last_save", "aof_enabled"):
        assert field in info and field in real, field
    assert info["keyspace_hits"] == 1 and info["keyspace_misses"] == 1
    assert info["db0"]["keys"] == 1 and info["db0"]["expires"] == 1 and 0 < info["db0"]["avg_ttl"] <= 100_000
    assert info["cmdstat_get"]["calls"] == 2 and "usec_per_call" in info["cmdstat_get"]
    assert info["errorstat_ERR"]["count"] >= 1
    default = r.info()
    assert "cmdstat_get" not in default and "db0" in default
    both = raw(engine.port, "INFO", "server", "keyspace").decode()
    assert both.startswith("# Server\r\n") and "# Keyspace\r\n" in both and "# Stats" not in both
    r3 = redis.Redis(port=engine.port, protocol=3)
    assert r3.info("stats")["total_commands_processed"] > 0


def test_info_register_section(engine: EmbeddedServer) -> None:
    from engine.info import SECTIONS, register_section

    register_section("cachelabtest", lambda s: [("answer", 42)], default=False)
    try:
        r = redis.Redis(port=engine.port)
        assert r.info("cachelabtest") == {"answer": 42}
        assert "answer" not in r.info()
    finally:
        SECTIONS.pop("cachelabtest")


def test_slowlog(engine: EmbeddedServer) -> None:
    r = redis.Redis(port=engine.port)
    r.config_set("slowlog-log-slower-than", 0)
    try:
        r.slowlog_reset()
        r.set("slow", "x" * 200)
        entries = r.slowlog_get(-1)
        assert any(e["command"].startswith(b"SET slow " + b"x" * 128 + b"... (72 more bytes)") for e in entries)
        assert r.slowlog_len() >= 1
        assert len(r.slowlog_get(1)) == 1
    finally:
        r.config_set("slowlog-log-slower-than", 10000)
        r.slowlog_reset()
    assert r.slowlog_len() == 0


def test_debug(engine: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    r = redis.Redis(port=engine.port)
    t0 = time.monotonic()
    assert r.execute_command("DEBUG", "SLEEP", "0.2") == b"OK"
    assert time.monotonic() - t0 >= 0.2
    with EmbeddedServer() as off:
        denied = raw(off.port, "DEBUG", "SLEEP", "0")
    assert denied == raw(redis_real_shared.port, "DEBUG", "SLEEP", "0")
    r.flushall()
    r.execute_command("DEBUG", "POPULATE", "100", "p", "10")
    assert r.dbsize() == 100 and r.get("p:7") == b"value:7\0\0\0"
    assert b"encoding:embstr" in r.execute_command("DEBUG", "OBJECT", "p:7")


def test_hello_resp3_and_reset(engine: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    ours = raw(engine.port, "HELLO", "3", "SETNAME", "x", protocol=2)
    theirs = raw(redis_real_shared.port, "HELLO", "3", "SETNAME", "x", protocol=2)
    assert set(ours) == set(theirs) and ours[b"proto"] == 3
    r = redis.Redis(port=engine.port, protocol=3, single_connection_client=True)
    assert r.execute_command("RESET") == b"RESET"
    assert r.execute_command("CLIENT", "INFO").count(b"resp=2") == 1


def test_pipelining_and_inline(engine: EmbeddedServer) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", engine.port)) as s:
        s.sendall(b"PING\r\nSET inl 'a b'\r\nGET inl\r\n*1\r\n$4\r\nPING\r\n")
        buf = b""
        while buf.count(b"\r\n") < 5:
            buf += s.recv(4096)
    assert buf == b"+PONG\r\n+OK\r\n$3\r\na b\r\n+PONG\r\n"
    pipe = redis.Redis(port=engine.port).pipeline(transaction=False)
    for i in range(500):
        pipe.set(f"p{i}", i)
        pipe.get(f"p{i}")
    out = pipe.execute()
    assert out[1::2] == [str(i).encode() for i in range(500)]


def _wire(port: int, payload: bytes, expect_replies: int) -> bytes:
    """The raw bytes of ``expect_replies`` replies to ``payload`` (parsed with hiredis to count)."""
    import hiredis

    reader = hiredis.Reader()
    out = b""
    got = 0
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        while got < expect_replies:
            chunk = s.recv(65536)
            assert chunk, out
            out += chunk
            reader.feed(chunk)
            while reader.gets() is not False:
                got += 1
    return out


def test_resp3_wire_types_match_redis(engine: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    """Null, map, set, double and push on the wire, byte for byte (RESP3 via HELLO 3)."""
    cmds = [b"HELLO 3", b"FLUSHALL", b"GET nosuchkey", b"HSET h f v", b"HGETALL h", b"SADD s a", b"SMEMBERS s",
            b"ZADD z 1.5 m", b"ZSCORE z m", b"ZSCORE z nosuch", b"CONFIG GET maxmemory", b"SUBSCRIBE ch",
            b"PING", b"UNSUBSCRIBE ch", b"EXISTS h", b"LPOP nosuch", b"CLIENT ID"]
    payload = b"".join(c + b"\r\n" for c in cmds)
    ours = _wire(engine.port, payload, len(cmds))
    theirs = _wire(redis_real_shared.port, payload, len(cmds))
    # HELLO's reply carries the id and version; everything after it must be identical.
    cut_ours, cut_theirs = ours.index(b"+OK\r\n"), theirs.index(b"+OK\r\n")
    last_ours, last_theirs = ours.rindex(b":"), theirs.rindex(b":")  # CLIENT ID differs
    assert ours[cut_ours:last_ours] == theirs[cut_theirs:last_theirs]
    for marker in (b"_\r\n", b"%1\r\n", b"~1\r\n", b",1.5\r\n", b">3\r\n"):
        assert marker in ours[cut_ours:]
