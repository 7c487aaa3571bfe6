"""Issue 12 introspection items, each against a real redis-server 7.0: notify-keyspace-events
class ``n`` (new key) and its normalised read-back; the 7.0 replication/client-memory
parameters that exist (and validate) as no-ops."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from engine.server import EmbeddedServer
from tests.support.redis_real import RealRedis

pytestmark = pytest.mark.redis_server


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as srv:
        yield srv


def _events(port: int) -> tuple[list[str], list[tuple[str, str]]]:
    r = redis.Redis(port=port, decode_responses=True)
    r.flushall()
    read_back = []
    for flags in ("KA", "Kn", "KEA$lshzxetdmn", "Ed", "gn$", "AKEn"):
        r.config_set("notify-keyspace-events", flags)
        read_back.append(r.config_get("notify-keyspace-events")["notify-keyspace-events"])
    p = r.pubsub()
    p.psubscribe("__key*__:*")
    p.get_message(timeout=1)
    r.set("a", "1")
    r.set("a", "2")
    r.lpush("l", "x")
    r.hset("h", "f", "v")
    r.sadd("s", "m")
    r.zadd("z", {"m": 1})
    r.incr("c")
    r.copy("a", "a2")
    msgs = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        m = p.get_message(timeout=0.2)
        if m is None:
            if msgs:
                break
            continue
        if m["type"] == "pmessage":
            msgs.append((m["channel"], m["data"]))
    p.close()
    r.config_set("notify-keyspace-events", "")
    return read_back, msgs


def test_notify_new_and_read_back_match_redis(engine: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    assert _events(engine.port) == _events(redis_real_shared.port)


PARAMS = [("repl-backlog-size", "2mb"), ("repl-backlog-size", "-1"), ("maxmemory-clients", "10%"),
          ("maxmemory-clients", "0"), ("maxmemory-clients", "abc"), ("min-replicas-to-write", "0"),
          ("min-replicas-to-write", "-1"), ("min-replicas-max-lag", "10"), ("replica-read-only", "yes"),
          ("replica-read-only", "maybe"), ("repl-diskless-sync", "no"), ("replica-priority", "50"),
          ("repl-timeout", "30"), ("repl-timeout", "0"), ("replica-serve-stale-data", "yes"),
          ("repl-backlog-ttl", "100"), ("replica-lazy-flush", "no"), ("masterauth", "x"), ("masteruser", "u"),
          ("repl-ping-replica-period", "5"), ("repl-diskless-load", "disabled"), ("repl-diskless-load", "bad"),
          ("replica-announce-ip", "1.2.3.4"), ("io-threads", "2"), ("repl-diskless-sync-delay", "5")]


def _params(port: int) -> list[object]:
    r = redis.Redis(port=port, decode_responses=True)
    out: list[object] = []
    for name, value in PARAMS:
        try:
            out.append((r.config_set(name, value), r.config_get(name)))
        except redis.ResponseError as e:
            out.append(str(e))
    for cmd in (("REPLICAOF", "NO", "ONE"), ("SLAVEOF", "NO", "ONE")):
        out.append(r.execute_command(*cmd))
    r.config_set("masterauth", "")
    r.config_set("masteruser", "")
    r.config_set("replica-announce-ip", "")
    return out


def test_replication_parameters_validate_like_redis(engine: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    assert _params(engine.port) == _params(redis_real_shared.port)


def test_expire_cycle_latency_event(engine: EmbeddedServer) -> None:
    """activeExpireCycle records "expire-cycle" once it takes latency-monitor-threshold ms
    (1 ms here: expiring 20,000 keys in a cycle takes longer on any machine)."""
    r = redis.Redis(port=engine.port)
    r.latency_reset()
    r.config_set("latency-monitor-threshold", 1)
    try:
        pipe = r.pipeline(transaction=False)
        for i in range(20000):
            pipe.set(f"exp:{i}", "v", px=1)
        pipe.execute()
        deadline = time.monotonic() + 10
        events: list[bytes] = []
        while time.monotonic() < deadline:
            events = [e[0] for e in r.execute_command("LATENCY", "LATEST")]
            if b"expire-cycle" in events:
                break
            time.sleep(0.1)
        assert b"expire-cycle" in events
    finally:
        r.config_set("latency-monitor-threshold", 0)
        r.flushall()


def _script_and_histogram(port: int) -> tuple[object, ...]:
    r = redis.Redis(port=port, decode_responses=True)
    r.script_flush()
    r.script_load("return 1")
    r.script_load("return 2")
    r.client_id()
    hist = r.execute_command("LATENCY", "HISTOGRAM", "client|id", "CLIENT|ID", "nosuch")
    n = r.info("memory")["number_of_cached_scripts"]
    r.script_flush()
    return n, sorted(hist) if isinstance(hist, dict) else [h for h in hist[::2]]


def test_cached_scripts_and_container_histogram_match_redis(engine: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    assert _script_and_histogram(engine.port) == _script_and_histogram(redis_real_shared.port)
