"""SLIs, error budgets and burn rates (simlab.slo.budget) on real simulated runs.

The default scenario is run once (seed 0, 600 s after a 120 s warm-up, ~1 M requests, ~10 s)
and shared with the cost tests; the semantic tests use small scenarios of a few seconds.
"""

from __future__ import annotations

import functools
import math

import pytest

from simlab.model.plan import Outcome
from simlab.model.run import simulate
from simlab.paths import DEFAULT_SCENARIO
from simlab.results import RunResult
from simlab.scenario import Scenario, ScenarioError, load_scenario, scenario_from_dict
from simlab.slo import SloError, evaluate_slos


@functools.lru_cache(maxsize=1)
def default_run() -> tuple[Scenario, RunResult]:
    """The default scenario as shipped, simulated once per test session."""
    sc = load_scenario(DEFAULT_SCENARIO)
    return sc, simulate(sc)


def small(**slo) -> Scenario:
    """One source at 1000 rps, GETs only, a rate limiter rejecting ~5 % of requests, entry
    errors on 1 % of them; a lognormal client round trip with a median of 100 ms (about 23 %
    of requests over 150 ms)."""
    return scenario_from_dict({
        "name": "small",
        "sources": [{
            "name": "web", "rate_rps": 1000, "flows": {"get": 1.0},
            "client_rtt_ms": {"kind": "lognormal", "median": 100, "sigma": 0.6},
            "entry_error_probability": 0.01,
            "rate_limit": {"limit": 95, "window_s": 0.1},
        }],
        "keyspace": {"num_keys": 1000},
        "flows": {"get": {"kind": "command", "commands": {"GET": 1}}},
        "cache": {"service_time_us": {"default": {"kind": "constant", "value": 20}}},
        "slo": slo,
        "run": {"duration_s": 300, "warmup_s": 0, "seed": 3},
    })


@functools.lru_cache(maxsize=4)
def small_run(rejected: str) -> tuple[Scenario, RunResult]:
    sc = small(rejected=rejected, latency_p99_ms=150, window={"days": 30})
    return sc, simulate(sc)


def by_name(rep):
    return {o.name: o for o in rep.objectives}


def test_default_scenario_reproduces_the_seed_slo_table():
    """Seed: availability 99.95 % (85 % of budget left), P99 142 ms (92 % left), errors
    0.02 % (98 % left). Tolerances: the dashboard rounds availability and errors to 0.01 pp
    (so +-0.005 pp) and budgets to whole percents (+-0.5 pp); P99 as in test_calibration
    (10 %). Budgets: remaining = 1 - spent_before - burn x 3/30 (see simlab.slo.budget)."""
    sc, result = default_run()
    rep = evaluate_slos(sc, result)
    o = by_name(rep)
    assert rep.met
    assert abs(o["availability"].achieved - 0.9995) <= 0.00005
    assert abs(o["availability"].budget_remaining - 0.85) <= 0.005
    assert abs(o["error-rate"].achieved - 0.9998) <= 0.00005
    assert abs(o["error-rate"].budget_remaining - 0.98) <= 0.005
    assert abs(result.overall["p99_ms"] - 142) / 142 < 0.10
    assert abs(o["latency"].budget_remaining - 0.92) <= 0.005
    # the simulated part is what the docstring says: burn x elapsed/window on top of spent
    for name, spent in (("availability", 0.10), ("latency", 0.075), ("error-rate", 0.0)):
        r = o[name]
        assert r.budget_remaining == pytest.approx(1 - spent - r.burn_rate * 3 / 30, rel=1e-12)
        assert r.budget_allowed_minutes == pytest.approx((1 - r.target) * 30 * 1440)
    # the 429s are what separates availability from the error rate (0.03 % of requests)
    rejected = result.overall["rejected_rate"]
    assert 0.0002 < rejected < 0.0004
    assert o["error-rate"].achieved - o["availability"].achieved == pytest.approx(rejected, rel=1e-9)
    doc = rep.to_dict()
    assert set(doc["objectives"][0]) >= {"name", "target", "achieved", "error_budget_remaining", "burn_rates", "verdict"}
    assert set(doc["objectives"][0]["burn_rates"]) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}


@pytest.mark.parametrize("policy", ["bad", "good", "excluded"])
def test_rejected_policy_counts_exactly_the_outcomes(policy):
    """Availability's bad events are the run's error outcomes plus (policy bad) its 429s;
    with `excluded` the 429s also leave the denominator. Exact counts, no tolerance."""
    sc, result = small_run(policy)
    rep = evaluate_slos(sc, result)
    a = by_name(rep)["availability"]
    e = by_name(rep)["error-rate"]
    counts = {r["cause"]: r["requests"] for r in result.errors.to_dict("records")}
    n = int(result.overall["requests"])
    errors = sum(v for k, v in counts.items() if k != "rejected")  # every error cause
    rej = counts["rejected"]
    assert rej > 0.02 * n and errors > 0.005 * n  # the scenario exercises both
    total = n - rej if policy == "excluded" else n
    bad = errors + (rej if policy == "bad" else 0)
    assert a.events == total and a.bad_events == bad
    assert a.achieved == pytest.approx(1 - bad / total, rel=1e-12)
    assert e.bad_events == errors  # a 429 is never an error
    assert a.rejected == policy


def test_latency_sli_counts_requests_over_the_threshold():
    """Latency SLI = requests within 150 ms. The run's own P-values bracket it: the share
    over 150 ms lies between the percentiles on either side (HdrHistogram's 0.1 %)."""
    sc, result = small_run("bad")
    lat = by_name(evaluate_slos(sc, result))["latency"]
    over = 1 - lat.achieved
    assert 0.1 < over < 0.5
    o = result.overall
    assert o["p50_ms"] < 150 * 1.001  # more than half within 150 ms ...
    assert o["p90_ms"] > 150 * 0.999  # ... and more than 10 % over it
    assert lat.burn_rate == pytest.approx(over / 0.01)


def test_burn_rates_and_projection_follow_the_definitions():
    sc, result = small_run("bad")
    a = by_name(evaluate_slos(sc, result))["availability"]
    # ~6 % bad against a 0.1 % budget: burn ~60x, a missed SLO, exhausted after 30/60 days
    assert a.verdict == "missed" and not a.met
    assert a.burn_rate == pytest.approx((1 - a.achieved) / 0.001)
    assert a.exhaustion_days == 0.0  # the whole window at this rate: already spent
    sc2 = small(rejected="bad", latency_p99_ms=150, window={"days": 30, "elapsed_days": 0.1})
    b = by_name(evaluate_slos(sc2, result))["availability"]
    assert b.exhaustion_days == pytest.approx(30 / b.burn_rate - 0.1)
    assert b.budget_remaining == pytest.approx(1 - b.burn_rate * 0.1 / 30)
    assert a.burn_rate_minutes["5m"] == 5 and a.burn_rate_minutes["1h"] == 5  # a 5-minute run
    assert a.burn_rates["1h"] == pytest.approx(a.burn_rate)
    lo, hi = a.achieved_ci95
    assert lo <= a.achieved <= hi


def test_window_days_and_elapsed():
    sc, result = small_run("bad")
    a30 = by_name(evaluate_slos(sc, result))["latency"]
    a7 = by_name(evaluate_slos(sc, result, window_days=7))["latency"]
    assert a7.burn_rate == pytest.approx(a30.burn_rate)
    assert a7.budget_allowed_minutes == pytest.approx(a30.budget_allowed_minutes * 7 / 30)
    sc2 = small(latency_p99_ms=150, window={"days": 30, "elapsed_days": 6}, budget_spent_before={"latency": 0.01})
    b = by_name(evaluate_slos(sc2, result))["latency"]
    assert b.budget_remaining == pytest.approx(1 - 0.01 - a30.burn_rate * 6 / 30)
    bd = evaluate_slos(sc2, result).burn_down
    last = bd[bd.slo == "latency"].iloc[-1]
    assert last.budget_remaining == pytest.approx(b.budget_remaining)
    assert last.window_day == pytest.approx(6)


def test_timeslices_count_bad_minutes():
    """A 60-s restart at 120 s makes minute 2 bad (every request refused); with one-minute
    slices good if >= 99 % of requests succeed, 4 of 5 slices are good."""
    sc = scenario_from_dict({
        **small().model_dump(mode="json", exclude={"slo", "faults"}),
        "faults": [{"kind": "restart", "at_s": 120, "duration_s": 60}],
        "sources": [{"name": "web", "rate_rps": 500, "flows": {"get": 1.0}}],
        "slo": {"objectives": [
            {"name": "avail-slices", "sli": "availability", "target": 0.9, "budgeting": "timeslices",
             "timeslice_target": 0.99},
            {"name": "avail-ratio", "sli": "availability", "target": 0.9, "budgeting": "ratio_timeslices"},
        ]},
    })
    result = simulate(sc)
    o = by_name(evaluate_slos(sc, result))
    assert o["avail-slices"].events == 5 and o["avail-slices"].bad_events == 1
    assert o["avail-slices"].achieved == pytest.approx(0.8)
    assert o["avail-ratio"].achieved == pytest.approx(0.8, abs=0.01)  # the restart minute is ~all bad
    assert o["avail-slices"].verdict == "missed"


def test_scoped_objectives_and_bad_scopes():
    sc, result = default_run()
    objs = [
        {"name": "gw", "sli": "availability", "target": 0.999, "source": "api-gateway"},
        {"name": "ingress-latency", "sli": "latency", "target": 0.99, "threshold_ms": 200, "source": "nginx-ingress"},
        {"name": "locks", "sli": "error_rate", "target": 0.999, "flow": "lock-acquire"},
    ]
    sc2 = scenario_from_dict({**sc.model_dump(mode="json"), "slo": {"objectives": objs}})
    o = by_name(evaluate_slos(sc2, result))
    gw = result.summary.set_index("group").loc["api-gateway"]
    assert o["gw"].achieved == pytest.approx(1 - gw.error_rate - gw.rejected_rate, rel=1e-12)
    locks = result.summary.set_index("group").loc["lock-acquire"]
    assert o["locks"].achieved == pytest.approx(1 - locks.error_rate, rel=1e-12)
    assert o["ingress-latency"].achieved < o["gw"].achieved
    with pytest.raises(ScenarioError, match="unknown source 'nope'"):
        scenario_from_dict({**sc.model_dump(mode="json"),
                            "slo": {"objectives": [{"name": "x", "sli": "availability", "target": 0.9, "source": "nope"}]}})
    with pytest.raises(ScenarioError, match="needs `threshold_ms`"):
        scenario_from_dict({**sc.model_dump(mode="json"),
                            "slo": {"objectives": [{"name": "x", "sli": "latency", "target": 0.9}]}})


def test_unrecorded_threshold_is_interpolated_with_a_warning():
    sc, result = small_run("bad")
    sc2 = scenario_from_dict({**sc.model_dump(mode="json"), "slo": {"latency_p99_ms": 170}})
    rep = evaluate_slos(sc2, result)  # the run counted 150 and 200 ms, not 170
    assert any("170 ms was not counted" in w for w in rep.warnings)
    lat = by_name(rep)["latency"]
    at150 = by_name(evaluate_slos(sc, result))["latency"]
    assert lat.achieved > at150.achieved


def test_run_without_events_is_a_clear_error():
    sc, result = small_run("bad")
    bare = RunResult(**{**result.__dict__, "events": None})
    with pytest.raises(SloError, match="no per-minute events"):
        evaluate_slos(sc, bare)


def test_short_form_stays_valid_and_outcome_codes_are_stable():
    sc = scenario_from_dict({**small().model_dump(mode="json", exclude={"slo"}),
                             "slo": {"availability": 0.99, "latency_p99_ms": 300, "error_rate": 0.01}})
    objs = sc.slo.resolved_objectives()
    assert [(o.name, o.sli, o.target) for o in objs] == [
        ("availability", "availability", 0.99), ("latency", "latency", 0.99), ("error-rate", "error_rate", 0.99)]
    assert objs[1].threshold_ms == 300
    assert (Outcome.NAMES[Outcome.OK], Outcome.NAMES[Outcome.REJECTED]) == ("ok", "rejected")
    assert math.isclose(sum(1 for _ in objs), 3)


def test_replications_pool_without_inflating_the_budget():
    """Two replications: the SLI pools both, the budget in events stays one service's
    (within the Poisson spread of two runs of ~300 k requests: 1 %)."""
    sc, one = small_run("bad")
    two = simulate(sc, replications=2)
    a1 = by_name(evaluate_slos(sc, one))["availability"]
    a2 = by_name(evaluate_slos(sc, two))["availability"]
    assert a2.events == pytest.approx(2 * a1.events, rel=0.01)
    assert a2.budget_allowed_events == pytest.approx(a1.budget_allowed_events, rel=0.01)
