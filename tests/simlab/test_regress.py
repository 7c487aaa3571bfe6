"""`simlab regress`: the shipped model passes its shipped baseline; a slower backend fails it,
naming what moved; JUnit XML and Markdown are well formed; --update writes a baseline that the
same model then passes exactly.

Tolerance: the baselines' own (sqrt(2) x the 95 % half-width over 3 replications, see
simlab/regress.py); the perturbation (backend median 25 -> 60 ms) moves P99 by far more.
The planned configuration is skipped here (a plan costs a minute; .ci/run compares it).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import yaml

from simlab.cli import EXIT_MISSED, main
from simlab.paths import BASELINES_DIR, DEFAULT_SCENARIO
from simlab.regress import RegressSettings, regress, tolerance


@pytest.fixture(scope="module")
def slower_backend(tmp_path_factory):
    """The default scenario with a slower database behind the cache (same name, so it is
    compared with the shipped baseline)."""
    doc = yaml.safe_load(DEFAULT_SCENARIO.read_text())
    assert doc["backend"]["latency_ms"]["median"] == 25.0
    doc["backend"]["latency_ms"]["median"] = 60.0
    path = tmp_path_factory.mktemp("perturbed") / "redis-cache-service.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_shipped_model_passes_its_baseline():
    out = regress([DEFAULT_SCENARIO], baseline_dir=BASELINES_DIR, skip=("planned",))
    assert out.passed, out.text()
    assert len(out.checks) >= 10  # percentiles per load point, hit ratio, SLO verdicts and budgets, cost
    names = {c.name for c in out.checks}
    assert {"x1.p50_ms", "x1.p99_ms", "x2.p99_ms", "x1.hit_ratio"} <= names
    assert any(n.startswith("slo.") and n.endswith(".verdict") for n in names)
    assert any(n.startswith("cost.") for n in names)


def test_slower_backend_fails_naming_what_moved(slower_backend, tmp_path, capsys):
    junit, md = tmp_path / "regress.xml", tmp_path / "regress.md"
    code = main(["regress", str(slower_backend), "--no-plan", "--junit", str(junit), "--markdown", str(md)])
    out, _ = capsys.readouterr()
    assert code == EXIT_MISSED
    assert "REGRESSION x1.p99_ms" in out and "FAIL" in out
    root = ET.fromstring(junit.read_text())
    failures = root.findall(".//testcase/failure")
    assert int(root.get("failures")) == len(failures) > 0
    assert any("p99_ms" in f.get("message") for f in failures)
    text = md.read_text()
    assert text.startswith("### SLO model regression:") and "❌" in text and "x1.p99_ms" in text


def test_update_then_same_model_passes_exactly(tmp_path):
    st = RegressSettings(factors=(1.0,), replications=2, window_s=5.0, warmup_accesses=50_000)
    up = regress([DEFAULT_SCENARIO], baseline_dir=tmp_path, update=True, settings=st)
    assert up.updated and (tmp_path / "redis-cache-service.yaml").exists()
    doc = yaml.safe_load((tmp_path / "redis-cache-service.yaml").read_text())
    m = doc["metrics"]["x1.p99_ms"]
    assert m["tolerance"] == pytest.approx(tolerance(m["half_width_95"], m["mean"]))
    again = regress(None, baseline_dir=tmp_path)
    assert again.passed and all(c.delta in (None, 0.0) for c in again.checks)


def test_missing_baseline_is_a_one_line_error(tmp_path, capsys):
    code = main(["regress", str(DEFAULT_SCENARIO), "--baseline", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "no baseline" in err and "--update" in err
