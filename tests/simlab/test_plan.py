"""The capacity planner: memory sizing, the miss-ratio curve it picks maxmemory from, the
plan at 1x and 5x of the seed's service (the backend pool binds, not the cache), and the
kubectl-scale what-if."""

from __future__ import annotations

import json
import math

import pytest

from simlab.cache_theory import che_hit_ratio, zipf_popularity
from simlab.paths import DEFAULT_SCENARIO
from simlab.plan import ConfigSpace, hit_ratio_curve, memory_sizing, plan_capacity, scale_out_whatif
from simlab.scenario import load_scenario
from simlab.scenario import scenario_from_dict as load_scenario_dict
from simlab.sweep import SimSettings

MIB = 1 << 20


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(DEFAULT_SCENARIO)


def test_memory_sizing_adds_up_and_answers_oom(scenario):
    m = memory_sizing(scenario, fragmentation_ratio=1.64, container_limit_bytes=128 * MIB)
    parts = (m.dataset_bytes + m.key_overhead_bytes) * m.fragmentation_ratio + m.replication_backlog_bytes \
        + m.replica_output_buffer_bytes + m.client_buffer_bytes + m.cow_bytes + m.baseline_bytes
    assert math.isclose(parts, m.peak_bytes, rel_tol=1e-12)
    # maxmemory caps keys plus their overhead (64 MiB: the keyspace of ~120 MB does not fit)
    assert math.isclose(m.dataset_bytes + m.key_overhead_bytes, 64 * MIB, rel_tol=1e-12)
    assert m.cow_bytes > 0  # AOF persistence forks for its rewrite
    assert m.oom_during_snapshot is False
    assert memory_sizing(scenario, fragmentation_ratio=1.64, container_limit_bytes=100 * MIB).oom_during_snapshot
    # no persistence, no replicas: nothing forks, no copy-on-write
    assert memory_sizing(scenario, persistence="none").cow_bytes == 0
    # a replica adds the backlog and its output buffer during a full sync
    r = memory_sizing(scenario, replicas=1)
    assert r.replication_backlog_bytes == 1 * MIB and r.replica_output_buffer_bytes > 0
    # a snapshot that takes longer touches more pages: copy-on-write grows
    slow = memory_sizing(scenario, snapshot_write_mb_s=10.0)
    assert slow.cow_bytes > m.cow_bytes / 1.64 * 1.2


def test_hit_ratio_curve_is_ches_lru_by_bytes(scenario):
    h = hit_ratio_curve(scenario)
    sizes = [4 * MIB, 16 * MIB, 64 * MIB, 256 * MIB]
    values = [h(s) for s in sizes]
    assert values == sorted(values) and values[-1] == 1.0  # 256 MiB holds every key
    per_obj = 32 + math.exp(math.log(300) + 0.5) + 64 + 40  # key + lognormal mean value + overheads
    c = int(64 * MIB / per_obj)
    want = che_hit_ratio(zipf_popularity(scenario.keyspace.num_keys, 0.99), c)
    assert math.isclose(values[2], want, rel_tol=1e-9)


def test_plan_finds_the_backend_pool_binding_at_5x(scenario, tmp_path):
    space = ConfigSpace(shards=(1, 2), maxmemory_policy=("allkeys-lru",))
    p = plan_capacity(scenario, growth=(1, 5), space=space, budget="quick", parallel=False,
                      cache_dir=tmp_path, progress=False)
    one, five = p.answers
    assert one.baseline_met and one.config is not None
    # 5x: today's configuration misses, and it is the backend's connection pool that binds
    assert not five.baseline_met
    assert five.baseline_binding_resource == "backend"
    assert five.baseline["backend.offered_load"] > 1.0 > five.baseline["cache[0].primary.offered_load"]
    assert five.config is not None, five.note
    assert five.figures["slo_met"] is True
    # the answer relieves the backend: a bigger pool or more memory (fewer misses)
    assert (five.config["backend.concurrency"] > 32
            or five.config["cache.maxmemory_bytes"] * five.config["cache.shards"] > 64 * MIB)
    assert five.monthly_cost_usd >= one.monthly_cost_usd
    assert five.knee_growth > five.load_multiplier  # the chosen configuration breaks beyond the load it was sized for
    assert 1 <= five.simulated <= 2 and p.simulated == 2 + one.simulated + five.simulated
    assert len(p.table) == 2 and "binding_resource" in p.table
    json.dumps(p.to_dict())
    assert "<table" in p._repr_html_()
    again = plan_capacity(scenario, growth=(1, 5), space=space, budget="quick", parallel=False,
                          cache_dir=tmp_path, progress=False)
    assert again.simulated == 0 and again.cached == p.simulated  # a re-plan reads every point from disk
    assert again.to_dict()["growth"] == p.to_dict()["growth"]


def test_scale_whatif_independent_pods_lose_hit_ratio(scenario, tmp_path):
    df = scale_out_whatif(scenario, pods=3, settings=SimSettings(mode="steady", duration_s=5.0, warmup_s=600.0),
                          cache_dir=tmp_path)
    today, pods, cluster = df.to_dict("records")
    # each pod sees every key at a third of the rate: its hit ratio falls and the backend
    # gets more misses; a cluster partitions the keys over three times the memory. At 1x
    # today's 64 MiB is not full (TTLs expire keys first), so the cluster only matches today.
    assert pods["hit_ratio"] < today["hit_ratio"] - 0.03
    assert cluster["hit_ratio"] >= today["hit_ratio"]
    assert pods["backend_rps"] > 1.3 * today["backend_rps"]
    assert cluster["backend_rps"] <= today["backend_rps"]
    assert pods["sessions_and_locks"].startswith("broken")


def test_instances_are_priced_as_pods_or_the_cheapest_node_that_holds_the_peak(scenario):
    from simlab.cost import cost_of_config, load_pricing
    from simlab.plan import NODE_RESERVED_FRACTION, _price_fn

    price, name = _price_fn(scenario, None)  # the scenario's own table: a pod per instance
    assert name == "seed-allocation"
    cost, what, cap = price(scenario, 1, 112 * MIB, 0.2)
    assert cap == 128 * MIB and what == "pod 200m CPU, 128 MiB"
    want = cost_of_config({"shards": 1, "replicas": 0, "cpu_request": 0.2, "memory_request_bytes": 128 * MIB,
                           "storage_bytes": scenario.cost.pod.storage_bytes}, "seed-allocation")
    assert cost == want.monthly_cost_usd
    price, _ = _price_fn(scenario, "aws-ec2-us-east-1")
    cost, node, cap = price(scenario, 1, 1.6 * 2**30, 0.2)
    table = load_pricing("aws-ec2-us-east-1")
    fits = [n for n in table.node_types if n.memory_gib * 2**30 * (1 - NODE_RESERVED_FRACTION) >= 1.6 * 2**30]
    cheapest = min(fits, key=lambda n: n.usd_per_hour)
    assert node == cheapest.name and cap >= 1.6 * 2**30


def test_plan_searches_the_client_pool_and_names_it_when_it_binds(scenario, tmp_path):
    """The seed's service with an application pool of 2 connections (held ~0.35 ms per
    command: the 0.3 ms app <-> cache round trip plus the command): at 1x it carries the load;
    at 5x (6.25x with the headroom) it is offered 4.6 (timed-out commands' retries included)
    and today's configuration misses its SLOs with the pool, not the cache (0.18) or the
    backend (1.18), as the binding resource. The plan sizes the pool (the smallest searched
    size under 0.8 offered: 16, offered 0.33) and the chosen configuration meets its SLOs."""
    d = scenario.model_dump(mode="json")
    d["network"]["app_pool"] = {"max_connections": 2, "timeout_ms": 50}
    sc = load_scenario_dict(d)
    space = ConfigSpace(shards=(1,), maxmemory_policy=("allkeys-lru",), backend_concurrency=(128,),
                        client_pool=(2, 4, 8, 16))
    p = plan_capacity(sc, growth=(5,), space=space, budget="quick", parallel=False, cache_dir=tmp_path,
                      progress=False)
    (five,) = p.answers
    assert not five.baseline_met
    assert five.baseline_binding_resource == "pool(app).cache[0].primary"
    assert five.baseline["pool(app).cache[0].primary.offered_load"] > 1.0
    assert five.config is not None and five.config["client_pool.max_connections"] in (8, 16)
    assert five.figures["slo_met"]
    assert p.table.loc[0, "client_pool"] == five.config["client_pool.max_connections"]
    assert any("client pool size is searched" in n for n in p.notes)
