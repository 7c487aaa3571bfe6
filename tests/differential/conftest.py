"""Fixtures of the differential tests: one engine and one real redis-server per session, and
a pair of raw RESP clients (engine, redis) on freshly flushed servers, in RESP2 and RESP3."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.server import EmbeddedServer
from tests.differential.harness import RawClient, pair
from tests.support.redis_real import RealRedis


@pytest.fixture(scope="session")
def engine_shared() -> Iterator[EmbeddedServer]:
    """One embedded engine for the whole session (tests FLUSHALL what they use)."""
    with EmbeddedServer() as srv:
        yield srv


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def raw_pair(request: pytest.FixtureRequest, engine_shared: EmbeddedServer,
             redis_real_shared: RealRedis) -> Iterator[tuple[RawClient, RawClient]]:
    """(engine client, redis client), both speaking RESP ``request.param``, databases empty."""
    with pair(engine_shared.port, redis_real_shared.port, resp=request.param) as clients:
        yield clients
