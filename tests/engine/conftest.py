"""Fixtures for the command-family tests: one embedded engine per test module, and a
redis-py client per test in RESP2 and in RESP3 on a flushed keyspace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from engine.server import EmbeddedServer


@pytest.fixture(scope="module")
def srv() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as s:
        yield s


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request: pytest.FixtureRequest, srv: EmbeddedServer) -> Iterator[redis.Redis]:
    client = redis.Redis(port=srv.port, protocol=request.param)
    client.flushall()
    yield client
    client.close()


def aof_commands(srv: EmbeddedServer) -> list[list[bytes]]:
    """The commands the running server has appended to its AOF incr file so far (the AOF
    writes each command before the reply, so a client that saw the reply sees the line),
    SELECTs left out."""
    from pathlib import Path

    from engine.persistence import aof

    assert srv.server is not None
    files = sorted((Path(srv.server.config["dir"]) / srv.server.config["appenddirname"]).glob("*.incr.aof"))
    assert files, "no AOF incr file: start the server with appendonly yes"
    data = files[-1].read_bytes()
    return [argv for argv, _ in aof.iter_commands(data) if argv[0].upper() != b"SELECT"]
