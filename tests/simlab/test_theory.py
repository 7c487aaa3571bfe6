"""The simulator against queueing theory, on both engines.

Every check runs R independent replications (independent SeedSequence streams, seeds 0..R-1)
and compares the theory with the replication mean of a statistic. The tolerance is the
half-width of the 99.9 % Student-t confidence interval over the replications
(`simlab.metrics.confidence_interval`), so a correct simulator fails a check about once in a
thousand runs, plus, for percentiles, the HdrHistogram resolution: 3 significant digits
report a value at most 1/1024 (0.1 %) above the true one. The runs are deterministic
(fixed seeds), so a passing check stays passing.
"""

from __future__ import annotations

import numpy as np
import pytest

from simlab import theory
from simlab.metrics import confidence_interval
from simlab.model.run import simulate
from tests.simlab.queues import single_queue

R = 8
LEVEL = 0.999
HDR_REL = 1 / 1024
ENGINES = ["vector", "simpy"]


def _runs(sc, engine, stat):
    vals = [stat(simulate(sc, seed=seed, model=engine)) for seed in range(R)]
    return confidence_interval(vals, LEVEL)


def _cache_row(result):
    return result.resources.set_index("resource").loc["cache[0].primary"]


def _check_little(result):
    """Little's law L = lambda W on every resource of the run. L is the time average of the
    number in system, lambda W uses the jobs arriving in the window; they differ only by the
    jobs straddling the window's two edges, at most (number in system at the edges) x (their
    sojourn) / window: for these queues about 2 x 10 x 5 ms / 55 s < 2e-3 relative."""
    for row in result.little.to_dict("records"):
        assert row["L_time_avg"] == pytest.approx(row["lambda_W"], rel=2e-3, abs=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_mm1_mean_and_p99_sojourn(engine):
    lam, s = 700.0, 1e-3  # rho = 0.7
    sc = single_queue(lam, {"kind": "exponential", "mean": 1000.0}, duration_s=60)
    results = [simulate(sc, seed=seed, model=engine) for seed in range(R)]
    for r in results:
        _check_little(r)
    mean, half = confidence_interval([r.overall["mean_ms"] for r in results], LEVEL)
    assert abs(mean - theory.mm1_mean_sojourn_s(lam, s) * 1e3) <= half
    p99, half99 = confidence_interval([r.overall["p99_ms"] for r in results], LEVEL)
    want = theory.mm1_sojourn_quantile_s(lam, s, 0.99) * 1e3
    assert abs(p99 - want) <= half99 + HDR_REL * want
    # Little's law against theory too: L = rho / (1 - rho)
    L, halfL = confidence_interval([_cache_row(r)["mean_in_system"] for r in results], LEVEL)
    assert abs(L - 0.7 / 0.3) <= halfL


@pytest.mark.parametrize("engine", ENGINES)
def test_mmc_erlang_c(engine):
    lam, s, c = 2400.0, 1e-3, 3  # rho = 0.8
    sc = single_queue(lam, {"kind": "exponential", "mean": 1000.0}, servers=3, duration_s=30)
    results = [simulate(sc, seed=seed, model=engine) for seed in range(R)]
    pw, half = confidence_interval([_cache_row(r)["wait_probability"] for r in results], LEVEL)
    assert abs(pw - theory.erlang_c(lam, s, c)) <= half
    wq, halfw = confidence_interval([_cache_row(r)["mean_wait_ms"] for r in results], LEVEL)
    assert abs(wq - theory.mmc_mean_wait_s(lam, s, c) * 1e3) <= halfw


@pytest.mark.parametrize("engine", ENGINES)
def test_md1_pollaczek_khinchine(engine):
    lam, s = 800.0, 1e-3
    sc = single_queue(lam, {"kind": "constant", "value": 1000.0}, duration_s=40)
    wq, half = _runs(sc, engine, lambda r: _cache_row(r)["mean_wait_ms"])
    assert abs(wq - theory.md1_mean_wait_s(lam, s) * 1e3) <= half


@pytest.mark.parametrize("engine", ENGINES)
def test_mg1_pollaczek_khinchine(engine):
    lam, s, cv = 700.0, 1e-3, 1.5  # gamma service, heavier than exponential
    sc = single_queue(lam, {"kind": "gamma", "mean": 1000.0, "cv": cv}, duration_s=60)
    wq, half = _runs(sc, engine, lambda r: _cache_row(r)["mean_wait_ms"])
    assert abs(wq - theory.mg1_mean_wait_s(lam, s, cv) * 1e3) <= half


def test_theory_formulas_consistent():
    # M/M/c with c = 1 is M/M/1; P-K with cv = 1 is M/M/1; M/D/1 waits half as long
    assert theory.erlang_c(700, 1e-3, 1) == pytest.approx(0.7)
    assert theory.mmc_mean_wait_s(700, 1e-3, 1) == pytest.approx(theory.mm1_mean_wait_s(700, 1e-3))
    assert theory.mg1_mean_wait_s(700, 1e-3, 1.0) == pytest.approx(theory.mm1_mean_wait_s(700, 1e-3))
    assert theory.md1_mean_wait_s(700, 1e-3) == pytest.approx(theory.mm1_mean_wait_s(700, 1e-3) / 2)
    # a tabulated value: c = 2, a = 1 erlang -> C = 1/3
    assert theory.erlang_c(1.0, 1.0, 2) == pytest.approx(1 / 3)
    with pytest.raises(theory.UnstableQueue):
        theory.mm1_mean_wait_s(1000, 1e-3)
    assert np.isclose(theory.mmc_wait_quantile_s(2400, 1e-3, 3, 0.0), 0.0)
