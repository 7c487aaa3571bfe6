"""`simlab calibrate` and `simlab validate` on the command line (typer's runner, in process):
one line and exit code 2 for bad input, 3 for a server that cannot be reached, a calibration
file written on success."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from simlab.cli import app
from tests.support.redis_real import free_port


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_bad_targets_are_one_line_and_exit_2() -> None:
    r = _run("validate", "--target", "http://localhost:6379", "--quick")
    assert r.exit_code == 2, r.output
    assert "simlab: error: --target 'http://localhost:6379': expected redis://, rediss:// or unix://" in r.output
    r = _run("validate", "--server-pid", "1", "--quick")
    assert r.exit_code == 2 and "--server-pid: only with --target" in r.output
    r = _run("validate", "--fault", "meteor")
    assert r.exit_code == 2 and "--fault 'meteor': expected one of stall, pause, restart" in r.output
    assert "Traceback" not in r.output


def test_an_unreachable_server_exits_3() -> None:
    r = _run("calibrate", "--target", f"redis://127.0.0.1:{free_port()}")
    assert r.exit_code == 3 and "simlab: error:" in r.output and "Traceback" not in r.output


def test_calibrate_writes_its_file(tmp_path: Path) -> None:
    out = tmp_path / "cal.yaml"
    r = _run("calibrate", "--requests", "60", "--out", str(out))
    assert r.exit_code == 0, r.output
    doc = yaml.safe_load(out.read_text())
    assert doc["server"].startswith("cachelab engine") and doc["service_time_us"]["GET"]["mean"] > 0
    assert "written to" in r.output


def test_duration_sets_each_load_point(tmp_path: Path) -> None:
    """`--duration` is each load point's length (longer runs narrow the measured intervals):
    a quick validation of a small scenario at 2 s a point, against the engine, with a
    calibration file reused; out of range, one line and exit 2."""
    from tests.simlab.test_load import SMALL

    r = _run("validate", "--quick", "--duration", "1")
    assert r.exit_code == 2 and "--duration" in r.output and "Traceback" not in r.output
    scenario = tmp_path / "small.yaml"
    scenario.write_text(yaml.safe_dump(SMALL))
    cal = tmp_path / "cal.yaml"
    assert _run("calibrate", "--requests", "60", "--out", str(cal)).exit_code == 0
    r = _run("validate", str(scenario), "--calibration", str(cal), "--quick", "--duration", "2", "--json",
             "--out", str(tmp_path / "v"))
    assert r.exit_code in (0, 1, 5), r.output  # agrees, disagrees or not shown: each a verdict
    doc = json.loads(r.output[r.output.index("{"):])
    assert [p["duration_s"] for p in doc["points"]] == [2.0, 2.0, 2.0]
    # at each point about duration x the offered rate was sent
    for p in doc["points"]:
        assert 0.8 * 2.0 * p["offered_rps"] <= p["requests"] <= 1.2 * 2.0 * p["offered_rps"], p
    assert (tmp_path / "v" / "validation.json").exists()
