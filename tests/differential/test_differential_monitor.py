"""MONITOR against redis-server 7.0: the same command lines, in the same order, for plain
commands, quoting of awkward arguments, MULTI/EXEC and a Lua script (timestamps and client
ports differ between the servers and are left out of the comparison)."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from engine.server import EmbeddedServer
from tests.support.redis_real import RealRedis

pytestmark = pytest.mark.redis_server


def _lines(port: int) -> list[tuple[Any, ...]]:
    watcher = redis.Redis(port=port)
    r = redis.Redis(port=port)
    r.ping()
    out = []
    with watcher.monitor() as m:
        r.set("k", 'a "quoted"\n\x01 value')
        r.execute_command("GET", "k")
        r.eval("redis.call('incr', KEYS[1]) return redis.call('get', KEYS[1])", 1, "n")
        pipe = r.pipeline()
        pipe.incr("n")
        pipe.lrange("missing", 0, -1)
        pipe.execute()
        r.config_get("maxmemory")  # admin: not shown
        r.echo("done")
        while True:
            line = m.next_command()
            out.append((line["db"], line["client_type"], line["command"]))
            if line["command"].startswith("ECHO"):
                break
    r.delete("k", "n")
    r.close()
    watcher.close()
    return out


def test_monitor_lines_match(redis_real_shared: RealRedis, engine_shared: EmbeddedServer) -> None:
    assert _lines(engine_shared.port) == _lines(redis_real_shared.port)
