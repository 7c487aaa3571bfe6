"""`simlab sweep`, `simlab day` and `simlab plan` from the command line: JSON out, and bad
options named in one line with exit code 2."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from simlab.cli import app
from simlab.paths import DEFAULT_SCENARIO

runner = CliRunner()
SC = str(DEFAULT_SCENARIO)


def test_sweep_json_grid_in_process():
    res = runner.invoke(app, ["sweep", SC, "--serial", "--no-cache", "--steady", "--duration", "5",
                              "--set", "growth=0.25", "--set", "backend.concurrency=8,16", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["simulated"] == 2 and doc["cached"] == 0
    assert [p["cfg.backend.concurrency"] for p in doc["points"]] == [8, 16]
    assert all(p["slo_met"] in (True, False) and p["requests"] > 0 for p in doc["points"])


def test_sweep_bad_key_is_one_line():
    res = runner.invoke(app, ["sweep", SC, "--serial", "--no-cache", "--set", "cache.maxmemroy_bytes=1"])
    assert res.exit_code != 0
    assert "cache.maxmemroy_bytes" in res.output and "Traceback" not in res.output


def test_day_and_plan_reject_bad_options():
    res = runner.invoke(app, ["day", "--window", "7"])
    assert res.exit_code == 2 and "--window" in res.output
    res = runner.invoke(app, ["plan", SC, "--budget", "slow"])
    assert res.exit_code == 2 and "--budget" in res.output
    res = runner.invoke(app, ["plan", SC, "--growth", "2,x"])
    assert res.exit_code == 2 and "--growth" in res.output
