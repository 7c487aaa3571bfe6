"""Issue 12 item 9: KEYS, SCAN MATCH and PSUBSCRIBE patterns match in bounded time, with
Redis 7.0's stringmatchlen results (compared with a real redis-server)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import redis

from engine.glob import stringmatch
from engine.server import EmbeddedServer
from tests.support.redis_real import RealRedis

# Exponential for a backtracking matcher: 11 stars against 300-byte keys of 'a' (Redis before
# 7.0.9 and the engine before the fix ran for minutes at 100% CPU).
EVIL = b"a*" * 11 + b"b"
LONG_KEYS = [b"a" * 300 + b"%d" % i for i in range(20)]


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as srv:
        yield srv


def test_exponential_pattern_answers(engine: EmbeddedServer) -> None:
    """The 10 s socket timeout only turns a hang into a failure; the answer is immediate."""
    r = redis.Redis(port=engine.port, socket_timeout=10)
    r.flushall()
    r.mset({k: b"v" for k in LONG_KEYS})
    assert r.keys(EVIL) == []
    assert r.scan(0, match=EVIL, count=1000) == (0, [])
    p = r.pubsub()
    p.psubscribe(EVIL)
    assert r.publish(b"a" * 5000, b"m") == 0
    p.close()
    assert sorted(r.keys(b"a*a*a*a*0")) == sorted([LONG_KEYS[0], LONG_KEYS[10]])
    assert r.ping()


@pytest.mark.redis_server
def test_keys_and_scan_match_redis(engine: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    rng = random.Random(12)
    keys = [bytes(rng.choice(b"ab[]*?\\-^A") for _ in range(rng.randrange(1, 8))) for _ in range(300)]
    patterns = [bytes(rng.choice(b"ab[]*?\\-^A") for _ in range(rng.randrange(0, 7))) for _ in range(150)]
    patterns += [EVIL, b"[", b"[^", b"\\", b"a[b-", b"*[z-a]*", b"[\\]]*"]
    ours = redis.Redis(port=engine.port)
    theirs = redis_real_shared.client()
    for c in (ours, theirs):
        c.flushall()
        c.mset({k: b"1" for k in set(keys)})
    for p in patterns:
        assert sorted(ours.keys(p)) == sorted(theirs.keys(p)), p
        assert sorted(ours.scan(0, match=p, count=10000)[1]) == sorted(theirs.scan(0, match=p, count=10000)[1]), p
    theirs.flushall()


def test_nesting_limit() -> None:
    """stringmatchlen_impl gives up past 1000 nested stars (a pattern that needs them never matches)."""
    assert stringmatch(b"*a" * 1000, b"a" * 1000)
    assert not stringmatch(b"*a" * 1001, b"a" * 1001)
    assert stringmatch(b"*a" * 1001 + b"*", b"a" * 1001) is False


def test_nocase_class_quirks() -> None:
    """With nocase, escaped bytes inside a class still compare case-sensitively (util.c)."""
    assert not stringmatch(b"[\\A]", b"a", nocase=True)
    assert stringmatch(b"[\\A]", b"A", nocase=True)
    assert stringmatch(b"[A-C]x", b"bX", nocase=True)
    assert not stringmatch(b"", b"x") and stringmatch(b"", b"") and not stringmatch(b"*", b"")
