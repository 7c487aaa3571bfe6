"""Each fault kind against an analytic expectation.

Counts of requests in a window are Poisson (lambda x window) or exact (deterministic
arrivals); tolerances are 4.5 standard deviations of the Poisson count (a correct model fails
about once in 150,000 runs; the runs are seeded) or, for deterministic arrivals, the stated
arithmetic with a 2 % margin for the first/last partial gap.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from simlab.model.run import simulate
from simlab.scenario import FAILOVER_DEFAULTS, ScenarioError, scenario_from_dict

LAM = 500.0


def _scenario(faults: list[dict[str, Any]], **over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": "faults",
        "sources": [{"name": "app", "rate_rps": LAM, "flows": {"reads": 1.0}}],
        "keyspace": {"num_keys": 1000, "popularity": {"kind": "uniform"}},
        "flows": {"reads": {"kind": "cache_aside"}},
        "backend": {"latency_ms": {"kind": "constant", "value": 5.0}},
        "cache": {"service_time_us": {"default": {"kind": "constant", "value": 20.0}}, "replicas": 1},
        "faults": faults,
        "run": {"duration_s": 60, "warmup_s": 0},
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(d.get(k), dict):
            d[k].update(v)
        else:
            d[k] = v
    return d


def _run(d: dict[str, Any], **kw: Any):
    return simulate(scenario_from_dict(d), **kw)


def _errors(r, cause: str) -> int:
    return int(r.errors.set_index("cause").loc[cause, "requests"])


def _within(count: float, mean: float, sds: float = 4.5) -> bool:
    return abs(count - mean) <= sds * math.sqrt(mean)


def _res(r, name: str):
    return r.resources.set_index("resource").loc[name]


@pytest.mark.parametrize("engine", ["vector", "simpy"])
def test_failover_refuses_until_promotion_then_the_replica_serves_with_its_data(engine: str) -> None:
    """Connection errors for detection + promotion = 4 s (lambda x 4 = 2000 expected); after
    the promotion at 24 s the replica serves every request (lambda x 36 s) and the cache keeps
    its content: only the 1000 cold misses reach the backend."""
    r = _run(_scenario([{"kind": "failover", "at_s": 20, "duration_s": 30, "detection_s": 3, "promotion_s": 1}]),
             model=engine)
    assert _within(_errors(r, "connection"), LAM * 4)
    assert _within(_res(r, "cache[0].replica1")["jobs"], LAM * 36)
    assert _res(r, "backend")["jobs"] <= 1000


def test_sentinel_and_cluster_timings_as_parameters() -> None:
    for mode, (detect, promote) in FAILOVER_DEFAULTS.items():
        r = _run(_scenario([{"kind": "failover", "at_s": 5, "duration_s": 50, "failover_mode": mode}]))
        assert _within(_errors(r, "connection"), LAM * (detect + promote)), mode


def test_clients_retry_through_a_failover() -> None:
    """Backoff 1, 2, 4 s: the third retry of any request refused in [20, 24) comes 7 s later,
    after the promotion, so no request fails; the slowest waited about 7 s."""
    d = _scenario([{"kind": "failover", "at_s": 20, "duration_s": 30, "detection_s": 3, "promotion_s": 1}])
    d["sources"][0].update(timeout_ms=1000, retries=3, backoff_ms=1000)
    r = _run(d)
    assert r.overall["error_rate"] == 0
    assert 6.9e3 < r.overall["max_ms"] < 7.2e3


def test_failover_needs_a_replica() -> None:
    d = _scenario([{"kind": "failover", "at_s": 1, "duration_s": 1}])
    d["cache"]["replicas"] = 0
    with pytest.raises(ScenarioError, match="replicas"):
        scenario_from_dict(d)


def test_node_loss_without_replicas_loses_the_data_even_with_persistence() -> None:
    """Refused for 10 s (5000 expected), then the shard is empty: its keys are cold again,
    so about twice the 1000 cold misses reach the backend (with a failover: none again)."""
    d = _scenario([{"kind": "node_loss", "at_s": 20, "duration_s": 10}])
    d["cache"].update(replicas=0, persistence={"mode": "aof"})
    r = _run(d)
    assert _within(_errors(r, "connection"), LAM * 10)
    assert 1900 <= _res(r, "backend")["jobs"] <= 2000
    d["cache"]["replicas"] = 1
    r2 = _run(d)
    assert _res(r2, "backend")["jobs"] <= 1000


ALL_MISS = {"num_keys": 1_000_000, "popularity": {"kind": "uniform"}}


def test_backend_slowdown_multiplies_the_miss_path() -> None:
    """Nearly every request misses (1e6 keys, 30,000 requests): latency = GET + backend + SET = 5.04 ms outside the
    window, 4 x 5 + 0.04 = 20.04 ms inside [20, 40): a third of the run, so P50 is the first
    and P90 the second (within HdrHistogram's 0.1 %)."""
    r = _run(_scenario([{"kind": "backend_slow", "at_s": 20, "duration_s": 20, "factor": 4}], keyspace=ALL_MISS))
    assert r.overall["p50_ms"] == pytest.approx(5.04, rel=2e-3)
    assert r.overall["p90_ms"] == pytest.approx(20.04, rel=2e-3)


def test_backend_outage_fails_misses_only() -> None:
    r = _run(_scenario([{"kind": "backend_outage", "at_s": 20, "duration_s": 20}], keyspace=ALL_MISS))
    assert _within(_errors(r, "connection"), LAM * 20)
    r2 = _run(_scenario([{"kind": "backend_outage", "at_s": 20, "duration_s": 20}]))
    assert _errors(r2, "connection") <= 1000  # with 1000 keys only cold misses can fail


def test_partition_gives_timeouts_not_errors() -> None:
    """Requests reaching the cache in [20, 30) wait for the heal at 30 s; with a 500 ms client
    timeout those arriving before 29.5 s time out: lambda x 9.5 = 4750 expected."""
    d = _scenario([{"kind": "partition", "at_s": 20, "duration_s": 10}])
    d["sources"][0]["timeout_ms"] = 500
    r = _run(d)
    assert _within(_errors(r, "timeout"), LAM * 9.5)
    assert _errors(r, "connection") == 0


def _disk(appendfsync: str, fsync_ms: float, rate: float) -> dict[str, Any]:
    d = _scenario([{"kind": "slow_disk", "at_s": 20, "duration_s": 30, "fsync_ms": fsync_ms}])
    d["sources"][0].update(rate_rps=rate, arrival={"kind": "deterministic"})
    d["flows"]["reads"]["op_mix"] = {"set": 1.0}
    d["cache"].update(replicas=0, persistence={"mode": "aof", "appendfsync": appendfsync,
                                               "fsync_ms": {"kind": "constant", "value": 1.0}})
    return d


def test_slow_disk_under_appendfsync_always_slows_every_write() -> None:
    """10 writes/s, 100 ms apart (no queueing): service 20 us + fsync, 50 ms for the 300
    writes in [20, 50), 1 ms for the other 300: mean 25.52 ms."""
    r = _run(_disk("always", 50.0, 10.0))
    assert _res(r, "cache[0].primary")["mean_service_ms"] == pytest.approx((300 * 50.02 + 300 * 1.02) / 600, rel=0.02)
    assert r.overall["max_ms"] == pytest.approx(50.02, rel=2e-3)


def test_slow_disk_under_everysec_stalls_the_event_loop() -> None:
    """fsync of 3 s: every 3 s the writes block 1 s (from 2 s after the fsync began, Redis's
    aof_delayed_fsync). 10 stalls of 1 s in 60 s: a request arrives in one with probability
    1/6 and then waits 0.5 s on average: Wq = 83.3 ms (deterministic arrivals, 200/s)."""
    r = _run(_disk("everysec", 3000.0, 200.0))
    assert _res(r, "cache[0].primary")["mean_wait_ms"] == pytest.approx(1000 / 6 * 0.5, rel=0.02)
    r_fast = _run(_disk("everysec", 1500.0, 200.0))  # under 2 s late: Redis does not block
    assert _res(r_fast, "cache[0].primary")["mean_wait_ms"] < 0.01


@pytest.mark.parametrize("kind", ["hot_key", "hot_slot"])
def test_hot_key_and_hot_slot_skew_traffic_to_one_shard(kind: str) -> None:
    """4 shards, uniform keys: a share s = 0.5 redirected to shard 2 gives it s + (1 - s) / 4
    = 0.625 of the cache jobs (binomial sd 0.003 on 30,000 requests; tolerance 0.015)."""
    d = _scenario([{"kind": kind, "at_s": 0, "duration_s": 60, "share": 0.5, "shard": 2}])
    d["cache"].update(shards=4, replicas=0, maxmemory_objects=10_000, maxmemory_policy="lru")
    r = _run(d)
    cache = r.resources[r.resources["kind"] == "cache"].set_index("resource")
    # cache jobs: one GET per request plus a SET per miss; count the GETs via requests
    share = cache.loc["cache[2].primary", "jobs"] / cache["jobs"].sum()
    assert share == pytest.approx(0.625, abs=0.015)


def _shipped(name: str, at_s: float = 40.0, duration_s: float = 100.0):
    """A shipped fault scenario with its fault moved to `at_s` in a shorter run (test time)."""
    from simlab.paths import SCENARIOS_DIR
    from simlab.scenario import load_scenario

    sc = load_scenario(SCENARIOS_DIR / f"{name}.yaml")
    faults = [f.model_copy(update={"at_s": at_s}) for f in sc.faults]
    return simulate(sc.model_copy(update={"faults": faults}), duration_s=duration_s, warmup_s=20)


def test_shipped_failover_scenario() -> None:
    """Sentinel defaults: 32 s of refused connections at ~2,050 requests/s (the clients'
    retries, 100-200 ms later, are refused too and do not add requests): within 5 %."""
    r = _shipped("failover")
    assert _errors(r, "connection") == pytest.approx(2050 * 32, rel=0.05)
    assert _res(r, "cache[0].replica1")["jobs"] > 0


def test_shipped_backend_slowdown_scenario() -> None:
    r = _shipped("backend-slowdown")
    b = _res(r, "backend")
    assert b["shed"] > 0 and b["p99_wait_ms"] <= 500 * 1.001
    assert _errors(r, "connection") == 0


def test_shipped_partition_scenario() -> None:
    """nginx-ingress (1,200/s, 1 s timeout) times out for the first 9 s of the 10 s partition
    (10,800 expected, 10 % margin for its Poisson count and the edges); api-gateway's requests
    all reach the cache at the heal, in one rate-limit window, so most are rejected instead."""
    r = _shipped("partition")
    assert _errors(r, "timeout") > 1200 * 9 * 0.9 and _errors(r, "connection") == 0


def test_shipped_hot_slot_scenario() -> None:
    r = _shipped("hot-slot", at_s=20.0, duration_s=80.0)  # the hot slot covers the whole window
    cache = r.resources[r.resources["kind"] == "cache"].set_index("resource")["offered_load"]
    assert cache.idxmax() == "cache[1].primary"
    assert cache["cache[1].primary"] > 1.5 * max(cache["cache[0].primary"], cache["cache[2].primary"])
