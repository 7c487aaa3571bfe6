"""OpenSLO v1 and sloth prometheus/v1 files (data/slo/ and malformed ones) mapped onto the
simulator's SLIs (simlab.slo.importers), and the `simlab slo` commands."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from simlab.cli_slo import slo_app
from simlab.paths import DATA_DIR, DEFAULT_SCENARIO
from simlab.scenario import ScenarioError, load_scenario
from simlab.slo import evaluate_slos
from simlab.slo.importers import SloImportError, import_openslo, import_slo_file, import_sloth
from simlab.slo.rules import prometheus_rules
from tests.simlab.test_slo import default_run

OPENSLO = DATA_DIR / "slo" / "redis-cache-service.openslo.yaml"
SLOTH = DATA_DIR / "slo" / "redis-cache-service.sloth.yaml"


def by_name(objs):
    return {o.name: o for o in objs}


def test_openslo_example_maps_every_slo_and_reports_the_rest():
    imp = import_openslo(OPENSLO)
    o = by_name(imp.objectives)
    assert (o["availability"].sli, o["availability"].target, o["availability"].rejected) == ("availability", 0.999, "bad")
    assert (o["latency"].sli, o["latency"].threshold_ms, o["latency"].target) == ("latency", 200.0, 0.99)
    assert (o["error-rate"].sli, o["error-rate"].target) == ("error_rate", 0.999)
    s = o["ingress-latency-slices"]
    assert (s.sli, s.source, s.budgeting, s.timeslice_target, s.timeslice_s, s.target) == (
        "latency", "nginx-ingress", "timeslices", 0.99, 60.0, 0.95)
    assert imp.window.days == 30 and imp.window.kind == "calendar"
    w = "\n".join(imp.warnings)
    for expected in ("kind 'Service' not mapped", "calendar startTime", "le=0.2 read as seconds",
                     "threshold value 200 read as milliseconds", "window differs"):
        assert expected in w
    # the AlertPolicy's burn-rate conditions (one by reference, one inline) become slo.alerts
    assert [(a.severity, a.long_window, a.short_window, a.burn_rate) for a in imp.alerts] == [
        ("page", "1h", "5m", 14.4), ("ticket", "3d", "6h", 1.0)]
    assert "notificationTargets not mapped" in w and "alertAfter 5m read as the short window" in w
    rules = prometheus_rules(imp)
    assert "page-1h-5m-14.4x" in rules and "6h-30m" not in rules
    # the good/total ratio keeps its queries for export, as error = total - good
    assert o["latency"].prometheus.error_query.startswith("(sum(rate(http_request_duration_seconds_count")


def test_sloth_example_maps_and_warns_about_alerting_fields():
    imp = import_sloth(SLOTH)
    o = by_name(imp.objectives)
    assert o["requests-availability"].sli == "availability" and o["requests-availability"].rejected == "bad"
    assert o["requests-latency"].sli == "latency" and o["requests-latency"].threshold_ms == 200.0
    assert o["requests-errors"].sli == "error_rate" and o["requests-errors"].target == 0.999
    assert imp.service == "redis-cache-service"
    assert any("alerting" in w for w in imp.warnings) and any("labels: not mapped" in w for w in imp.warnings)
    assert [a.severity + "-" + a.long_window for a in imp.alerts] == ["page-1h", "page-6h", "ticket-3d", "ticket-1d"]


def test_sloth_disabled_page_alerts(tmp_path):
    p = tmp_path / "quiet.yaml"
    p.write_text(yaml.safe_dump({"version": "prometheus/v1", "service": "s", "slos": [{
        "name": "errors", "objective": 99.9, "alerting": {"page_alert": {"disable": True}},
        "sli": {"events": {"error_query": 'sum(rate(x{code=~"5.."}[{{.window}}]))', "total_query": "sum(rate(x[{{.window}}]))"}}}]}))
    imp = import_sloth(p)
    assert {a.severity for a in imp.alerts} == {"ticket"}
    assert "ErrorBudgetBurnPage" not in prometheus_rules(imp)


@pytest.mark.parametrize("spec", [OPENSLO, SLOTH])
def test_imported_slos_evaluate_like_the_scenarios_own(spec):
    """Imported and native SLOs of the same meaning give the same figures on one run."""
    sc, result = default_run()
    imp = import_slo_file(spec)
    sc2 = imp.apply_to(sc)
    native = {o.sli: o for o in evaluate_slos(sc, result).objectives}
    for o in evaluate_slos(sc2, result).objectives:
        if o.scope == "service/all" and o.budgeting == "occurrences":
            assert o.achieved == pytest.approx(native[o.sli].achieved, rel=1e-12), o.name
    rules = prometheus_rules(imp)
    assert "sloth-slo-alerts-redis-cache-service-" in rules
    assert 'code=~"(5..|429)"' in rules or 'code=~"5..|429"' in rules  # the file's own queries


def test_bad_files_name_the_field(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("version: prometheus/v1\nservice: s\nslos:\n  - name: x\n    sli: {plugin: {id: foo}}\n    objective: 99\n")
    with pytest.raises(SloImportError, match=r"bad.yaml: at slos.0.objective|slos.0.sli.plugin"):
        import_sloth(p)
    p.write_text("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec:\n  indicatorRef: nope\n  objectives: [{target: 0.9}]\n")
    with pytest.raises(SloImportError, match="indicatorRef: no SLI named 'nope'"):
        import_openslo(p)
    p.write_text("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec:\n  indicator:\n    spec:\n"
                 "      ratioMetric: {bad: {metricSource: {type: Datadog, spec: {query: q}}}, total: {metricSource: {type: Datadog, spec: {query: t}}}}\n"
                 "  objectives: [{targetPercent: 150}]\n")
    with pytest.raises(SloImportError, match="objectives.0.target"):
        import_openslo(p)
    p.write_text("kind: Something\n")
    with pytest.raises(SloImportError, match="neither OpenSLO"):
        import_slo_file(p)
    good = tmp_path / "scoped.yaml"
    good.write_text(yaml.safe_dump({"version": "prometheus/v1", "service": "s", "slos": [{
        "name": "gw", "objective": 99.9, "labels": {"simlab/source": "no-such-source", "simlab/sli": "availability"},
        "sli": {"raw": {"error_ratio_query": "x"}}}]}))
    with pytest.raises(ScenarioError, match="unknown source 'no-such-source'"):
        import_sloth(good).apply_to(load_scenario(DEFAULT_SCENARIO))


def test_cli_rules_import_and_check(tmp_path):
    runner = CliRunner()
    r = runner.invoke(slo_app, ["rules", str(DEFAULT_SCENARIO)])
    assert r.exit_code == 0 and "slo:sli_error:ratio_rate5m" in r.output
    out = tmp_path / "rules.yaml"
    r = runner.invoke(slo_app, ["rules", str(SLOTH), "--out", str(out), "--sloth-ticket"])
    assert r.exit_code == 0 and "ratio_rate1d" in out.read_text()
    r = runner.invoke(slo_app, ["import", str(OPENSLO)])
    assert r.exit_code == 0
    block = yaml.safe_load(r.stdout.split("\n", 1)[1])["slo"]
    assert [o["name"] for o in block["objectives"]] == ["availability", "latency", "error-rate", "ingress-latency-slices"]
    r = runner.invoke(slo_app, ["check", str(DEFAULT_SCENARIO), "--duration", "120", "--json"])
    doc = json.loads(r.stdout)
    assert r.exit_code == (0 if doc["slo"]["met"] else 1)
    assert [o["name"] for o in doc["slo"]["objectives"]] == ["availability", "latency", "error-rate"]


def test_run_json_carries_slo_and_cost_blocks():
    from simlab.cli import app

    r = CliRunner().invoke(app, ["run", str(DEFAULT_SCENARIO), "--duration", "120", "--json"])
    doc = json.loads(r.stdout)
    names = [o["name"] for o in doc["slo"]["objectives"]]
    assert names == ["availability", "latency", "error-rate"]
    for o in doc["slo"]["objectives"]:
        assert {"name", "target", "achieved", "error_budget_remaining", "burn_rates", "verdict"} <= set(o)
    assert set(doc["cost"]) >= {"monthly_cost_usd", "breakdown", "cost_per_million_requests_usd", "efficiency"}
    assert set(doc["cost"]["breakdown"]) == {"cpu", "memory", "storage", "network"}
