"""Scenario files: the shipped ones validate, invalid ones fail with file, field and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from simlab.scenario import ScenarioError, load_scenario, scenario_json_schema

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "data" / "scenarios").rglob("*.yaml"))


def test_shipped_scenarios_exist():
    names = {p.name for p in SCENARIOS}
    assert "redis-cache-service.yaml" in names
    assert len([p for p in SCENARIOS if p.parent.name == "presets"]) >= 4


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenario_validates(path):
    sc = load_scenario(path)
    assert sc.sources and sc.flows


def test_default_matches_seed_traffic_and_slo():
    sc = load_scenario(ROOT / "data" / "scenarios" / "redis-cache-service.yaml")
    rates = {s.name: s.rate_rps for s in sc.sources}
    assert rates == {"nginx-ingress": 1200, "api-gateway": 850}
    assert sc.slo.availability == 0.999 and sc.slo.latency_p99_ms == 200 and sc.slo.error_rate == 0.001
    assert sc.cost is not None and sc.cost.monthly_usd == 5.85


def test_invalid_file_names_file_field_and_expectation(tmp_path):
    bad = tmp_path / "bad.yaml"
    text = (ROOT / "data" / "scenarios" / "redis-cache-service.yaml").read_text()
    bad.write_text(text.replace("rate_rps: 1200", "rate_rps: -5"))
    with pytest.raises(ScenarioError) as e:
        load_scenario(bad)
    msg = str(e.value)
    assert str(bad) in msg
    assert "sources.0.rate_rps" in msg
    assert "greater than 0" in msg
    assert e.value.problems[0][0] == "sources.0.rate_rps"


def test_unknown_flow_and_bad_yaml(tmp_path):
    p = tmp_path / "x.yaml"
    text = (ROOT / "data" / "scenarios" / "redis-cache-service.yaml").read_text()
    p.write_text(text.replace("lock-acquire: 0.02}", "nope: 0.02}"))
    with pytest.raises(ScenarioError, match="unknown flow 'nope'"):
        load_scenario(p)
    p.write_text("a: [1, 2")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(p)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_cost_parts_must_add_up(tmp_path):
    p = tmp_path / "c.yaml"
    text = (ROOT / "data" / "scenarios" / "redis-cache-service.yaml").read_text()
    p.write_text(text.replace("cpu_usd: 3.00", "cpu_usd: 4.00"))
    with pytest.raises(ScenarioError, match="cost parts add up"):
        load_scenario(p)


def test_json_schema_has_sections():
    schema = scenario_json_schema()
    for key in ("sources", "keyspace", "flows", "network", "backend", "cache", "faults", "slo", "cost", "run"):
        assert key in schema["properties"]
