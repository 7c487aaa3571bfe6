"""CONFIG GET/SET/RESETSTAT/REWRITE/HELP: replies and error texts compared with redis-server 7.0,
atomic multi-parameter SET, and the values reaching the running server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
    ("CONFIG", "SET", "foo", "bar"),
    ("CONFIG", "SET", "maxmemory", "abc"),
    ("CONFIG", "SET", "maxmemory", "1mb", "maxmemory", "2mb"),
    ("CONFIG", "SET", "maxmemory"),
    ("CONFIG", "SET", "maxmemory", "1mb", "timeout"),
    ("CONFIG", "SET", "notify-keyspace-events", "Q"),
    ("CONFIG", "SET", "timeout", "x"),
    ("CONFIG", "SET", "maxmemory-policy", "foo"),
    ("CONFIG", "SET", "databases", "4"),
    ("CONFIG", "SET", "daemonize", "yes"),
    ("CONFIG", "SET", "protected-mode", "maybe"),
    ("CONFIG", "GET", "nosuch*"),
    ("CONFIG", "GET"),
    ("CONFIG", "REWRITE"),
    ("CONFIG", "HELP"),
    ("CONFIG", "FOO"),
    ("CONFIG",),
]


@pytest.mark.parametrize("cmd", SAME_AS_REDIS, ids=lambda c: " ".join(c))
def test_matches_redis(engine: EmbeddedServer, redis_real_shared: RealRedis, cmd: tuple[str, ...]) -> None:
    for proto in (2, 3):
        assert raw(engine.port, *cmd, protocol=proto) == raw(redis_real_shared.port, *cmd, protocol=proto)


def test_get_glob_and_aliases(engine: EmbeddedServer) -> None:
    r = redis.Redis(port=engine.port)
    got = r.config_get("maxmemory*")
    assert got["maxmemory"] == "0" and got["maxmemory-policy"] == "noeviction"
    alias = r.config_get("hash-max-ziplist-entries")
    assert alias == {"hash-max-ziplist-entries": r.config_get("hash-max-listpack-entries")["hash-max-listpack-entries"]}
    both = r.execute_command("CONFIG", "GET", "hz", "timeout", "hz")
    assert both == {b"hz": b"10", b"timeout": b"0"}


def test_get_same_pairs_as_redis(engine: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    # Redis answers in its dict's order, so the pairs are compared, not their order.
    for cmd in (("CONFIG", "GET", "maxmemory", "timeout"), ("CONFIG", "GET", "slowlog-*", "hz")):
        ours = raw(engine.port, *cmd, protocol=3)
        assert ours == raw(redis_real_shared.port, *cmd, protocol=3)


def test_set_applies_and_is_atomic(engine: EmbeddedServer) -> None:
    r = redis.Redis(port=engine.port)
    srv = engine.server
    assert srv is not None
    assert r.execute_command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru", "timeout", "30") == b"OK"
    assert srv.maxmemory_policy == "allkeys-lru" and srv.timeout_s == 30
    with pytest.raises(redis.ResponseError, match="possibly related to argument 'maxmemory'"):
        r.execute_command("CONFIG", "SET", "timeout", "0", "maxmemory", "lots")
    assert srv.timeout_s == 30 and r.config_get("timeout") == {"timeout": "30"}  # nothing applied
    r.execute_command("CONFIG", "SET", "maxmemory-policy", "noeviction", "timeout", "0")
    r.config_set("notify-keyspace-events", "KEA")
    assert srv.notify_flags
    r.config_set("notify-keyspace-events", "")
    assert not srv.notify_flags


def test_resetstat(engine: EmbeddedServer) -> None:
    r = redis.Redis(port=engine.port)
    r.get("x")
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCH")
    assert r.config_resetstat()
    info = r.info("everything")
    assert info["keyspace_misses"] == 0 and info["total_error_replies"] == 0
    assert "cmdstat_get" not in info and not any(k.startswith("errorstat_") for k in info)


def test_rewrite(tmp_path: Path) -> None:
    conf = tmp_path / "redis.conf"
    conf.write_text("# my settings\nmaxmemory 1mb\nport 0\n")
    with EmbeddedServer(dir=str(tmp_path)) as srv:
        assert srv.server is not None
        srv.server.config.source_file = str(conf)
        r = redis.Redis(port=srv.port)
        r.config_set("maxmemory", "2mb")
        r.config_set("hz", "20")
        assert r.config_rewrite()
    text = conf.read_text()
    assert text.startswith("# my settings\n")
    assert "maxmemory 2097152" in text and "hz 20" in text
