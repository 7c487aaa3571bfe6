"""Cost of a configuration (simlab.cost) and the price tables of data/pricing/."""

from __future__ import annotations

import math

import pytest

from simlab.cost import (
    CostError,
    available_pricing,
    cost_of,
    cost_of_config,
    load_pricing,
    request_units,
    workload_usage,
)
from simlab.scenario import scenario_from_dict
from tests.simlab.test_slo import default_run, small


def test_default_scenario_reproduces_the_seed_cost_panel():
    """Seed: $5.85/month (CPU 3.00, memory 2.40, storage 0.30, network 0.15), efficiency 72 %.
    Tolerance: the dashboard shows cents and whole percents (half a cent, half a point)."""
    sc, result = default_run()
    c = cost_of(sc, result)
    assert c.monthly_cost_usd == pytest.approx(5.85, abs=0.005)
    for k, v in {"cpu": 3.00, "memory": 2.40, "storage": 0.30, "network": 0.15}.items():
        assert c.breakdown[k] == pytest.approx(v, abs=0.005), k
    assert c.efficiency == pytest.approx(0.72, abs=0.005)
    # efficiency is what its definition says, from the simulated busy time
    busy = float(result.resources.set_index("resource").loc["cache[0].primary", "mean_busy_servers"])
    used_mem_gib = 64 / 1024 * 1.64  # maxmemory (the dataset is larger) x fragmentation
    want = (busy / 0.1 * 3.00 + used_mem_gib / 0.125 * 2.40) / 5.40
    assert c.efficiency == pytest.approx(want, rel=1e-9)
    # per million requests: the month's cost over the month's simulated requests
    assert c.cost_per_million_requests_usd == pytest.approx(
        c.monthly_cost_usd / (result.overall["throughput_rps"] * 730 * 3600 / 1e6), rel=1e-9)
    doc = c.to_dict()
    assert set(doc) >= {"monthly_cost_usd", "breakdown", "cost_per_million_requests_usd", "efficiency"}
    assert "<h4>" in c._repr_html_()


def test_every_shipped_table_is_valid_and_documented():
    names = available_pricing()
    assert {"seed-allocation", "aws-elasticache-us-east-1", "aws-ec2-us-east-1", "gke-autopilot-us-central1"} <= set(names)
    kinds = set()
    for n in names:
        t = load_pricing(n)
        assert t.source and t.region and t.date, n
        kinds |= {nt.kind for nt in t.node_types}
        if t.serverless is not None:
            kinds.add("serverless")
    assert kinds == {"managed", "self-managed", "serverless"}


def test_bad_table_names_file_and_field(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("name: mine\nsource: me\nregion: here\ndate: '2026-01-01'\nresources: {vcpu_month_usd: -1, memory_gib_month_usd: 2}\n")
    with pytest.raises(CostError) as err:
        load_pricing(p)
    assert str(p) in str(err.value) and "resources.vcpu_month_usd" in str(err.value)
    with pytest.raises(CostError, match="shipped tables: .*seed-allocation"):
        load_pricing("no-such-table")
    p.write_text("name: mine\nsource: me\nregion: here\ndate: '2026-01-01'\n")
    with pytest.raises(CostError, match="needs `resources`, `node_types` or `serverless`"):
        load_pricing(p)


def test_node_types_replicas_and_shards():
    t = load_pricing("aws-elasticache-us-east-1")
    one = cost_of_config({"node_type": "cache.m6g.large"}, t, requests_per_month=1e9)
    assert one.monthly_cost_usd == pytest.approx(0.149 * 730)
    six = cost_of_config({"node_type": "cache.m6g.large", "shards": 3, "replicas": 1}, t, requests_per_month=1e9)
    assert six.monthly_cost_usd == pytest.approx(6 * 0.149 * 730)
    assert six.instances == 6
    assert six.cost_per_million_requests_usd == pytest.approx(six.monthly_cost_usd / 1000)
    with pytest.raises(CostError, match="no node type 'cache.x9.huge'"):
        cost_of_config({"node_type": "cache.x9.huge"}, t)


def test_serverless_unit_rule_and_minimum_data():
    """1 unit per started KiB of key + value, at least 1: values of 100 B are 1 unit each,
    values of 3000 B are 3 units (3000 + 32 bytes is under 3 KiB)."""
    t = load_pricing("aws-elasticache-us-east-1")
    base = small().model_dump(mode="json")
    tiny = scenario_from_dict({**base, "keyspace": {"num_keys": 10, "value_size_bytes": {"kind": "constant", "value": 100}}})
    big = scenario_from_dict({**base, "keyspace": {"num_keys": 10, "value_size_bytes": {"kind": "constant", "value": 3000}}})
    assert request_units(tiny, t) == 1.0
    assert request_units(big, t) == 3.0
    c = cost_of_config({"serverless": True}, t, requests_per_month=1e9, data_bytes=0.2e9, units_per_request=3.0)
    assert c.breakdown["data"] == pytest.approx(1.0 * 730 * 0.125)  # billed at the 1 GB minimum
    assert c.breakdown["requests"] == pytest.approx(1e9 * 3 / 1e6 * 3.40)
    assert any("minimum" in n for n in c.notes)


def test_price_alternatives_for_the_default_workload():
    """The planner's use: the same workload priced on other tables; the usage (and so the
    efficiency) does not depend on the table."""
    sc, result = default_run()
    use = workload_usage(sc, result)
    assert use["busy_vcpu"] == pytest.approx(0.064, abs=0.002)
    ec2 = cost_of_config({"node_type": "t4g.small"}, "aws-ec2-us-east-1",
                         requests_per_month=use["requests_per_s"] * 730 * 3600, used_vcpu=use["busy_vcpu"],
                         used_memory_bytes_per_instance=use["used_memory_bytes_per_instance"])
    assert ec2.monthly_cost_usd == pytest.approx(0.0168 * 730)
    assert 0 < ec2.efficiency < 0.1  # 6 % of one of 2 vCPUs, 64 MiB of 2 GiB
    gke = cost_of(sc, result, "gke-autopilot-us-central1")
    assert gke.breakdown["cpu"] == pytest.approx(0.1 * 32.485)
    assert gke.efficiency is not None and not math.isclose(gke.efficiency, cost_of(sc, result).efficiency)


def test_oom_note_when_memory_exceeds_the_limit():
    sc, result = default_run()
    tight = scenario_from_dict({**sc.model_dump(mode="json"),
                                "cost": {**sc.cost.model_dump(mode="json"), "memory_fragmentation_ratio": 2.5}})
    c = cost_of(tight, result)
    assert any("OOM-killed" in n for n in c.notes)
    with pytest.raises(CostError, match="cost.pricing"):
        cost_of(scenario_from_dict({**sc.model_dump(mode="json"), "cost": {"pod": sc.cost.pod.model_dump()}}), result)
