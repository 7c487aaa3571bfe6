"""The garbage-collector policy (engine/server.py set_gc_policy) is in force in a running
``cachelab-server`` and still collects; an embedded server leaves its host process's alone."""

from __future__ import annotations

import gc
import urllib.request
from pathlib import Path

import redis
from prometheus_client.parser import text_string_to_metric_families

from engine.server import GC_THRESHOLDS, EmbeddedServer
from tests.engine.test_server_process import started
from tests.support.redis_real import free_port


def _gc_samples(metrics_port: int) -> dict[tuple[str, str], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name.startswith("python_gc_"):
                out[(s.name, s.labels.get("generation", ""))] = s.value
    return out


def test_server_process_runs_the_policy_and_still_collects(tmp_path: Path) -> None:
    metrics_port = free_port()
    with started(tmp_path, "--metrics-port", str(metrics_port)) as (proc, port):
        before = _gc_samples(metrics_port)
        assert tuple(int(before[("python_gc_threshold", str(g))]) for g in range(3)) == GC_THRESHOLDS
        # Frozen after start-up: the imported modules alone are tens of thousands of objects.
        assert before[("python_gc_frozen_objects", "")] > 10_000
        r = redis.Redis(port=port)
        # Each entry keeps a tracked list: 30,000 of them pass the gen-0 threshold (10,000)
        # three times; at least two collections must have run (one may straddle the scrape).
        pipe = r.pipeline(transaction=False)
        for i in range(30_000):
            pipe.xadd("s", {"f": i})
            if i % 1000 == 999:
                pipe.execute()
        assert r.xlen("s") == 30_000
        after = _gc_samples(metrics_port)
        assert after[("python_gc_collections_total", "0")] - before[("python_gc_collections_total", "0")] >= 2
        r.close()
        proc.terminate()
        assert proc.wait(20) == 0


def test_embedded_server_leaves_the_host_policy_alone() -> None:
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    with EmbeddedServer() as srv:
        assert redis.Redis(port=srv.port).ping()
        assert gc.get_threshold() == thresholds
        assert gc.get_freeze_count() == frozen
