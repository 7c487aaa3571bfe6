"""Fixtures shared by every test: real redis-server and the embedded engine on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis_real import RealRedis, real_redis


@pytest.fixture
def redis_real() -> Iterator[RealRedis]:
    """A fresh real redis-server for one test."""
    with real_redis() as server:
        yield server


@pytest.fixture(scope="session")
def redis_real_shared() -> Iterator[RealRedis]:
    """One real redis-server for a whole session (tests must FLUSHALL what they use)."""
    with real_redis() as server:
        yield server
