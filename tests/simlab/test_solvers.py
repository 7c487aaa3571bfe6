"""The simpy solver and the vectorised solver compute the same model.

Same plan, same seed: the two solvers must give the same latencies request by request (up to
floating-point summation order, 1e-9 s), including misses, locks, retries, restarts and slow
periods. Different seeds: their latency distributions must agree by a two-sample
Kolmogorov-Smirnov test (significance 0.001, so a correct pair fails once in a thousand).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import stats

from simlab.model.attempts import FaultLookup
from simlab.model.events import run_events
from simlab.model.fastpath import run_vector
from simlab.model.faults import expand_faults
from simlab.model.plan import Outcome, PlanBuilder
from simlab.model.record import request_outcomes
from simlab.model.run import _cache_factory, choose_solver, simulate
from simlab.scenario import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "data" / "scenarios" / "redis-cache-service.yaml"


def _both(sc, duration_s: float, seed: int = 0):
    out = []
    for solver in (run_vector, run_events):
        ss = np.random.SeedSequence([seed, 0])
        fseq, pseq, cseq = ss.spawn(3)
        n_res = sc.cache.shards * (sc.cache.replicas + 1) + 2
        win = expand_faults(sc, duration_s, n_res, np.random.default_rng(fseq))
        b = PlanBuilder(sc, win, pseq, _cache_factory(sc, seed))
        plan = b.build(0.0, duration_s, cseq)
        att = solver(plan, b.resources, FaultLookup(win, len(b.resources)))
        out.append((plan, att, request_outcomes(plan, att, 0.0, duration_s)))
    return out


def _stressed():
    """The default service made to fail: a restart, a slow period, tight timeouts, 2 shards
    with a replica each, a small backend pool."""
    import yaml

    d = yaml.safe_load(DEFAULT.read_text())
    d["cache"]["shards"] = 2
    d["cache"]["replicas"] = 1
    d["cache"]["read_from_replicas"] = True
    d["backend"]["concurrency"] = 4
    d["sources"][0]["timeout_ms"] = 120
    d["sources"][1]["timeout_ms"] = 40
    d["faults"] = [
        {"kind": "restart", "at_s": 6.0, "duration_s": 1.5, "shard": 0},
        {"kind": "slow", "at_s": 12.0, "duration_s": 2.0, "factor": 300},
        {"kind": "blip", "rate_per_hour": 600, "duration_s": 0.5, "extra_latency_ms": 80},
    ]
    d["flows"]["lock-acquire"]["hold_ms"] = {"kind": "exponential", "mean": 30.0}
    return scenario_from_dict(d)


def test_solvers_identical_on_default_scenario():
    sc = load_scenario(DEFAULT)
    (p1, a1, (k1, _, o1, l1)), (p2, a2, (k2, _, o2, l2)) = _both(sc, 20.0)
    assert np.array_equal(k1, k2) and np.array_equal(o1, o2)
    np.testing.assert_allclose(l1, l2, rtol=0, atol=1e-6)  # ms, i.e. 1e-9 s


def test_solvers_identical_with_faults_retries_and_pools():
    sc = _stressed()
    (p1, a1, (k1, _, o1, l1)), (p2, a2, (k2, _, o2, l2)) = _both(sc, 20.0, seed=4)
    # the scenario really exercises the failure paths
    assert (o1 == Outcome.CONNECTION).sum() > 0 or (o1 == Outcome.TIMEOUT).sum() > 0
    assert a1.n > p1.n  # retries happened
    assert a1.n == a2.n
    assert np.array_equal(o1, o2)
    np.testing.assert_allclose(l1, l2, rtol=0, atol=1e-6)
    # retries are appended in a different order (by event time vs by pass): sort them
    o1 = np.lexsort((a1.t0, a1.root))
    o2 = np.lexsort((a2.t0, a2.root))
    np.testing.assert_allclose(a1.dep[o1], a2.dep[o2], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(a1.fail[o1], a2.fail[o2])


def test_solvers_agree_in_distribution_across_seeds():
    sc = load_scenario(DEFAULT)
    (_, _, (_, _, _, lv)), _ = _both(sc, 20.0, seed=1)
    _, (_, _, (_, _, _, ls)) = _both(sc, 20.0, seed=2)
    assert stats.ks_2samp(lv, ls).pvalue > 1e-3


def test_auto_picks_vector_for_single_threaded_instances():
    sc = load_scenario(DEFAULT)
    assert choose_solver(sc) == "vector"
    multi = sc.model_copy(update={"cache": sc.cache.model_copy(update={"threads": 4})})
    assert choose_solver(multi) == "simpy"


def test_deterministic_same_seed_same_result():
    sc = load_scenario(DEFAULT)
    a = simulate(sc, duration_s=15, seed=7).to_dict()
    b = simulate(sc, duration_s=15, seed=7).to_dict()
    c = simulate(sc, duration_s=15, seed=8).to_dict()
    assert a == b
    assert a != c


def test_chunked_run_matches_one_chunk():
    """Chunks carry queue state forward; a run cut in 60 s chunks gives the same
    distribution as one piece (KS at 0.001 on per-minute p50 is too coarse, so compare
    the pooled percentiles: within 3 % (the 99 % CI of a P99 from ~250k requests is ~2 %)."""
    sc = load_scenario(DEFAULT)
    one = simulate(sc, duration_s=180, seed=3).overall
    chunked = simulate(sc, duration_s=180, seed=3, chunk_s=60).overall
    for k in ("p50_ms", "p90_ms", "p99_ms"):
        assert abs(one[k] - chunked[k]) / one[k] < 0.03


def test_result_tables_and_html():
    sc = load_scenario(DEFAULT)
    r = simulate(sc, duration_s=20, replications=2)
    assert {"p50_ms", "p99_ms", "throughput_rps", "hit_ratio", "error_rate"} <= set(r.summary.columns)
    assert set(r.summary["group"]) >= {"all", "nginx-ingress", "api-gateway", "cache-get-set"}
    assert "utilisation" in r.resources.columns and len(r.timeseries) >= 1
    assert len(r.pubsub) == 4  # one row per subscriber
    assert r.ci is not None and "half_width_95" in r.ci.columns
    assert r.replications is not None
    per_rep = r.replications["requests"].to_numpy()
    assert abs(per_rep[0] - per_rep[1]) < 0.05 * per_rep[1]  # each row one replication, not pooled
    assert r.overall["requests"] == per_rep.sum()
    assert "<table" in r._repr_html_()
