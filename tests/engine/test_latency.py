"""Latency histograms and the latency monitor (engine/latency.py, engine/commands/latency.py)."""

from __future__ import annotations

import time

import redis

from engine import latency
from engine.commands.latency import info_latencystats
from engine.server import EmbeddedServer
from tests.support.redis_real import RealRedis


def test_log_buckets_match_redis_labels() -> None:
    """hdr_iter_log(1024 ns, base 2) labels: 1, 2, 4, 8, 16, 32, 65, 131 us (cumulative)."""
    hist = {0: 3, 1: 2, 2: 1, 5: 1, 60: 1, 100: 1}
    assert latency.log_buckets(hist) == {1: 5, 2: 6, 8: 7, 65: 8, 131: 9}


def test_percentiles_exact_on_recorded_values() -> None:
    hist = {1: 98, 10: 1, 500: 1}
    assert latency.percentile_us(hist, 50) == 1.0
    assert latency.percentile_us(hist, 99) == 10.0
    assert latency.percentile_us(hist, 99.9) == 500.0
    assert latency.percentile_us({}, 50) == 0.0


def test_histogram_reply_layout_matches_redis(redis_real_shared: RealRedis) -> None:
    """Same map shape (calls + histogram_usec) and same call counts as redis-server."""
    with EmbeddedServer() as srv:
        replies = []
        for r in (redis.Redis(port=srv.port, protocol=3), redis.Redis(port=redis_real_shared.port, protocol=3)):
            r.execute_command("LATENCY", "RESET")
            for i in range(50):
                r.set("lat:k", i)
            replies.append(r.execute_command("LATENCY", "HISTOGRAM", "set", "nosuchcommand"))
        eng, real = replies
        assert set(eng) == set(real) == {b"set"}
        assert set(eng[b"set"]) == set(real[b"set"]) == {b"calls", b"histogram_usec"}
        assert eng[b"set"][b"calls"] == 50
        assert real[b"set"][b"calls"] >= 50
        cdf = list(eng[b"set"][b"histogram_usec"].values())
        assert cdf == sorted(cdf) and cdf[-1] == 50
        assert set(eng[b"set"][b"histogram_usec"]) <= {1, 2, 4, 8, 16, 32, 65, 131, 262, 524, 1048, 2097, 4194}


def test_info_latencystats_format() -> None:
    with EmbeddedServer() as srv:
        r = redis.Redis(port=srv.port)
        for _ in range(20):
            r.get("x")
        stats = info_latencystats(srv.server)
        line = stats["latency_percentiles_usec_get"]
        assert [part.split("=")[0] for part in line.split(",")] == ["p50", "p99", "p99.9"]
        r.config_set("latency-tracking", "no")
        before = srv.server.latency.named()["get"][0] if 0 in srv.server.latency.named()["get"] else 0  # type: ignore[union-attr]
        total = sum(srv.server.latency.named()["get"].values())  # type: ignore[union-attr]
        r.get("x")
        assert sum(srv.server.latency.named()["get"].values()) == total  # type: ignore[union-attr]
        assert before >= 0


def test_latency_monitor_records_slow_commands() -> None:
    """A command slower than latency-monitor-threshold shows in LATEST/HISTORY; RESET clears it."""
    with EmbeddedServer(**{"latency-monitor-threshold": "5"}) as srv:
        r = redis.Redis(port=srv.port)
        assert r.execute_command("LATENCY", "LATEST") == []
        t0 = time.perf_counter()
        r.mset({f"k{i}": "v" for i in range(50_000)})  # one command storing 50 000 keys
        took_ms = (time.perf_counter() - t0) * 1000
        latest = r.execute_command("LATENCY", "LATEST")
        if took_ms < 5:  # pragma: no cover - a machine too fast to cross the threshold
            return
        assert latest and latest[0][0] == b"command"
        assert latest[0][2] >= 5 and latest[0][3] >= latest[0][2]
        hist = r.execute_command("LATENCY", "HISTORY", "command")
        assert hist and hist[0][1] >= 5
        assert r.execute_command("LATENCY", "HISTORY", "nosuch") == []
        assert b"Dave" in r.execute_command("LATENCY", "DOCTOR")
        assert r.execute_command("LATENCY", "RESET") == 1
        assert r.execute_command("LATENCY", "LATEST") == []


def test_info_latencystats_section_over_the_wire() -> None:
    with EmbeddedServer() as srv:
        r = redis.Redis(port=srv.port)
        r.set("a", "1")
        stats = r.info("latencystats")
        assert set(stats["latency_percentiles_usec_set"]) == {"p50", "p99", "p99.9"}
        assert not any(k.startswith("latency_percentiles") for k in r.info())  # not a default section


def test_config_resetstat_frees_histograms() -> None:
    with EmbeddedServer() as srv:
        r = redis.Redis(port=srv.port)
        r.set("a", "1")
        assert b"set" in r.execute_command("LATENCY", "HISTOGRAM", "set")
        r.config_resetstat()
        assert r.execute_command("LATENCY", "HISTOGRAM", "set") in ({}, [])  # empty map (RESP2: array)
