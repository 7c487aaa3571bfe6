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
