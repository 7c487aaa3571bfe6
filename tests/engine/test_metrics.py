"""Prometheus /metrics and the /healthz, /readyz probes (engine/metrics.py), scraped over HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from engine.server import EmbeddedServer
from tests.support.redis_real import free_port


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture(scope="module")
def srv():
    port = free_port()
    with EmbeddedServer(metrics_port=port, maxmemory="64mb") as s:
        s.metrics_url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
        yield s


def test_metrics_reflect_server_state(srv: EmbeddedServer) -> None:
    r = redis.Redis(port=srv.port)
    r.flushall()
    for i in range(10):
        r.set(f"k{i}", "v")
    r.set("ttl", "v", ex=100)
    for i in range(7):
        r.get(f"k{i}")
    r.get("missing")
    code, body = _get(srv.metrics_url + "/metrics")  # type: ignore[attr-defined]
    assert code == 200
    m = _samples(body.decode())
    assert m[("redis_up", ())] == 1
    assert m[("redis_connected_clients", ())] >= 1
    assert m[("redis_memory_max_bytes", ())] == 64 * 1024 * 1024
    assert m[("redis_memory_used_bytes", ())] > 800_000
    assert m[("redis_db_keys", (("db", "db0"),))] == 11
    assert m[("redis_db_keys_expiring", (("db", "db0"),))] == 1
    assert m[("redis_commands_total", (("cmd", "set"),))] >= 11
    assert m[("redis_commands_total", (("cmd", "get"),))] >= 8
    assert m[("redis_commands_duration_seconds_total", (("cmd", "get"),))] > 0
    assert m[("redis_keyspace_hits_total", ())] >= 7
    assert m[("redis_keyspace_misses_total", ())] >= 1
    assert ("redis_evicted_keys_total", ()) in m and ("redis_expired_keys_total", ()) in m
    # Histogram buckets are cumulative and end with +Inf = count.
    inf = m[("redis_commands_latencies_usec_bucket", (("cmd", "get"), ("le", "+Inf")))]
    assert inf == m[("redis_commands_latencies_usec_count", (("cmd", "get"),))] >= 8
    assert ("redis_latency_percentiles_usec", (("cmd", "get"), ("quantile", "0.99"))) in m


def test_probes(srv: EmbeddedServer) -> None:
    assert srv.server is not None
    assert _get(srv.metrics_url + "/healthz") == (200, b"ok\n")  # type: ignore[attr-defined]
    assert _get(srv.metrics_url + "/readyz") == (200, b"ready\n")  # type: ignore[attr-defined]
    srv.server.loading = True
    try:
        code, _ = _get(srv.metrics_url + "/readyz")  # type: ignore[attr-defined]
        assert code == 503
        assert _get(srv.metrics_url + "/healthz")[0] == 200  # type: ignore[attr-defined]
    finally:
        srv.server.loading = False
    assert _get(srv.metrics_url + "/nope")[0] == 404  # type: ignore[attr-defined]


def test_metrics_port_off_by_default() -> None:
    with EmbeddedServer() as s:
        assert s.server is not None
        assert s.server.metrics_http is None
