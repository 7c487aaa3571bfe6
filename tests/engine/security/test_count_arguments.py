"""Issue 12 item 11: every count and range argument is validated as Redis 7.0 validates it,
before anything is allocated for it, and one failing cron job never stops the others.

The differential part sends the same edge values (LLONG_MIN/MAX, +-LONG_MAX/2, INT_MAX+1,
non-integers) to count/range arguments of the engine and of a real redis-server and compares
the replies (random replies by their shape), and the validation order of the list commands."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
import redis

from engine import memory
from engine.server import EmbeddedServer, Server
from tests.support.redis_real import RealRedis

EDGES = [b"-9223372036854770000", b"9223372036854775807", b"-9223372036854775808", b"-9223372036854775809",
         b"4611686018427387904", b"-4611686018427387904", b"2147483648", b"abc", b"-1", b"0", b"1.5", b" 1"]
_RANDOM = (b"SRANDMEMBER", b"ZRANDMEMBER", b"HRANDFIELD", b"SPOP", b"SCAN", b"SSCAN", b"HSCAN", b"ZSCAN")


def _commands() -> list[list[bytes]]:
    out: list[list[bytes]] = []
    for n in EDGES:
        out += [
            [b"ZRANDMEMBER", b"z", n, b"WITHSCORES"], [b"HRANDFIELD", b"h", n, b"WITHVALUES"],
            [b"ZRANDMEMBER", b"z", n, b"bad"], [b"SPOP", b"s2", n], [b"LPOP", b"l2", n], [b"RPOP", b"l2", n],
            [b"ZPOPMIN", b"z2", n], [b"LPOS", b"l", b"a", b"COUNT", n], [b"LPOS", b"l", b"a", b"RANK", n],
            [b"LPOS", b"l", b"a", b"MAXLEN", n], [b"SORT", b"l", b"LIMIT", n, b"1", b"ALPHA"],
            [b"SORT", b"l", b"LIMIT", b"0", n, b"ALPHA"], [b"GETRANGE", b"str", n, b"5"],
            [b"SETRANGE", b"str2", n, b"x"], [b"BITFIELD", b"bf", b"GET", b"u8", n], [b"GETBIT", b"bf", n],
            [b"LINDEX", b"l", n], [b"LINDEX", b"missing", n], [b"LSET", b"l", n, b"x"],
            [b"LSET", b"missing", n, b"x"], [b"LPOP", b"missing", n], [b"SELECT", n],
            [b"ZRANGEBYSCORE", b"z", b"-inf", b"inf", b"LIMIT", b"0", n], [b"LMPOP", b"1", b"l2", b"LEFT", b"COUNT", n],
            [b"ZMPOP", b"1", b"z2", b"MIN", b"COUNT", n], [b"SRANDMEMBER", b"missing", n],
        ]
        if not n.startswith(b"-") or len(n) < 5:  # huge negative counts are valid: Redis replies with that many
            out += [[b"SRANDMEMBER", b"s", n], [b"ZRANDMEMBER", b"z", n], [b"HRANDFIELD", b"h", n]]
    return out


def _setup(c: redis.Redis) -> None:
    c.flushall()
    c.zadd("z", {"m": 1})
    c.zadd("z2", {"a": 1, "b": 2})
    c.sadd("s", "a")
    c.sadd("s2", "a", "b")
    c.hset("h", "f", "1")
    c.rpush("l", "a", "b", "a")
    c.rpush("l2", "x", "y")
    c.set("str", "hello world")


def _run(c: redis.Redis) -> list[object]:
    out: list[object] = []
    for cmd in _commands():
        _setup(c)
        try:
            r = c.execute_command(*cmd)
            if cmd[0] in _RANDOM:
                r = ("ok", type(r).__name__, len(r) if hasattr(r, "__len__") else r)
        except redis.ResponseError as e:
            r = ("err", str(e))
        out.append(r)
    c.execute_command("SELECT", "0")
    return out


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as srv:
        yield srv


@pytest.mark.redis_server
def test_count_arguments_match_redis(engine: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    ours = _run(redis.Redis(port=engine.port, socket_timeout=20))
    theirs = _run(redis.Redis(port=redis_real_shared.port, socket_timeout=20))
    diffs = [(b" ".join(cmd), a, b) for cmd, a, b in zip(_commands(), ours, theirs, strict=True) if a != b]
    assert diffs == []


def test_zrandmember_huge_negative_withscores_is_refused(engine: EmbeddedServer) -> None:
    """The issue's case: before the fix the engine built a reply of 9e18 elements and never answered."""
    r = redis.Redis(port=engine.port, socket_timeout=10)
    r.zadd("one", {"m": 1})
    with pytest.raises(redis.ResponseError, match="^value is out of range$"):
        r.execute_command("ZRANDMEMBER", "one", "-9223372036854770000", "WITHSCORES")
    with pytest.raises(redis.ResponseError, match="^value is out of range$"):
        r.execute_command("HRANDFIELD", "one", "-9223372036854770000", "WITHVALUES")
    assert r.ping()


def test_cron_survives_inf_score_and_a_failing_job(engine: EmbeddedServer, caplog: pytest.LogCaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A zset holding an infinite score crashed the memory cron each tick (OverflowError); a job
    that raises is reported once and the other jobs (here expiry) keep running.  The failure is
    injected into the real memory cron: it runs, then raises."""
    calls: list[Server] = []
    memory_cron = memory.cron
    srv = engine.server
    assert srv is not None

    def broken(server: Server) -> None:
        memory_cron(server)
        calls.append(server)
        raise RuntimeError("boom")

    r = redis.Redis(port=engine.port, socket_timeout=10)
    r.flushall()
    r.zadd("infz", {"a": float("inf"), "b": float("-inf")})
    monkeypatch.setattr(memory, "cron", broken)
    try:
        with caplog.at_level(logging.ERROR, logger="engine"):
            r.set("short", "v", px=50)
            deadline = time.monotonic() + 10
            while (r.dbsize() > 1 or calls.count(srv) < 3) and time.monotonic() < deadline:
                time.sleep(0.05)
        assert calls.count(srv) >= 3
        # expired by the active cycle (no command touched it), after the broken job ran
        assert r.dbsize() == 1
        # once per server: other servers of this test process run the patched cron too
        reports = [rec for rec in caplog.records if "broken" in rec.getMessage()]
        assert len(reports) == len({id(s) for s in calls})
        assert not [rec for rec in caplog.records if "OverflowError" in (rec.exc_text or "")]
    finally:
        monkeypatch.undo()
    assert r.memory_usage("infz") is not None


def test_sort_scores_parse_as_strtod(engine: EmbeddedServer) -> None:
    """SORT: "" is 0 (Redis 7.0 sorts it), an out-of-range double (1e309, 1e-320) is refused."""
    r = redis.Redis(port=engine.port)
    r.delete("sl", "sbad")
    r.rpush("sl", "10", "", "-1")
    assert r.sort("sl") == [b"-1", b"", b"10"]
    for bad in ("1e309", "1e-320"):
        r.delete("sbad")
        r.rpush("sbad", "1", bad)
        with pytest.raises(redis.ResponseError, match="can't be converted into double"):
            r.sort("sbad")
