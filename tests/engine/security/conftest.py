"""Fixtures of the security suite: each test runs against the engine and, where Redis 7.0
behaves the same way, against a real redis-server started with the same options."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from engine.server import EmbeddedServer
from tests.support.redis_real import real_redis


@contextmanager
def start(kind: str, **options: str | int) -> Iterator[int]:
    """Start the engine or redis-server with redis.conf ``options`` (``_`` for ``-``); yield its port."""
    if kind == "engine":
        with EmbeddedServer(**options) as srv:
            yield srv.port
        return
    args: list[str] = []
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    with real_redis(*args) as r:
        yield r.port


@pytest.fixture(params=["engine", pytest.param("redis", marks=pytest.mark.redis_server)])
def kind(request: pytest.FixtureRequest) -> str:
    """Which server a test runs against: the engine, then real redis-server 7.0."""
    return str(request.param)
