"""The `simlab` command: run (table and --json), schema, report, and a clean error exit."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from simlab.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = str(ROOT / "data" / "scenarios" / "redis-cache-service.yaml")
runner = CliRunner()


def test_run_json_has_overall_and_per_source_fields():
    res = runner.invoke(app, ["run", DEFAULT, "--duration", "15", "--seed", "1", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    keys = {"p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "throughput_rps", "hit_ratio", "error_rate"}
    assert keys <= set(doc)
    assert set(doc["sources"]) == {"nginx-ingress", "api-gateway"}
    for src in doc["sources"].values():
        assert keys <= set(src)
    assert doc["seed"] == 1 and doc["duration_s"] == 15


def test_run_prints_table():
    res = runner.invoke(app, ["run", DEFAULT, "--duration", "10"])
    assert res.exit_code == 0, res.output
    assert "nginx-ingress" in res.stdout and "p99_ms" in res.stdout


def test_schema_is_json_schema():
    res = runner.invoke(app, ["schema"])
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["title"] == "Scenario" and "sources" in doc["properties"]


def test_invalid_scenario_exits_2_with_field_path(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(DEFAULT).read_text().replace("num_keys: 200000", "num_keys: lots"))
    res = runner.invoke(app, ["run", str(bad)])
    assert res.exit_code == 2
    assert "keyspace.num_keys" in res.output and str(bad) in res.output
    assert "Traceback" not in res.output


def test_run_with_replications_prints_confidence_intervals():
    res = runner.invoke(app, ["run", DEFAULT, "--duration", "10", "--replications", "2"])
    assert res.exit_code == 0, res.output
    assert "confidence intervals over 2 replications" in res.stdout
