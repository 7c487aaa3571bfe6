"""Confidence on every figure, resource figures that mean what they say, Little's law as a check.

Tolerances: theory comparisons use the 99.9 % Student-t half-width over the replications (a
correct simulator fails about once in a thousand; runs are seeded, so a pass stays a pass).
"""

from __future__ import annotations

import math

import pytest

from simlab.metrics import confidence_interval
from simlab.model.run import simulate
from tests.simlab.queues import single_queue

EXP_1MS = {"kind": "exponential", "mean": 1000.0}
NOT_FIGURES = {"resource", "kind", "servers", "group"}


def test_every_json_figure_carries_an_interval() -> None:
    sc = single_queue(500.0, EXP_1MS, duration_s=10, warmup_s=1)
    doc = simulate(sc, replications=3).to_dict()
    iv = doc["intervals"]
    assert doc["replications_run"] == 3
    for key, value in doc.items():
        if key in ("seed", "duration_s", "replications_run") or not isinstance(value, (int, float)) or value is None:
            continue
        assert key in iv["service"], key
        e = iv["service"][key]
        assert e["low"] <= e["mean"] <= e["high"]
    for section in ("sources", "flows"):
        for group, figures in doc[section].items():
            for k, v in figures.items():
                if v is not None:
                    assert k in iv[section][group], (section, group, k)
    for row in doc["resources"]:
        for k, v in row.items():
            if k not in NOT_FIGURES and v is not None:
                assert k in iv["resources"][row["resource"]], (row["resource"], k)
    for cause in doc["errors_by_cause"]:
        assert "requests" in iv["errors_by_cause"][cause]


def test_pubsub_delivery_figures_carry_intervals() -> None:
    from simlab.paths import DEFAULT_SCENARIO
    from simlab.scenario import load_scenario

    doc = simulate(load_scenario(DEFAULT_SCENARIO), duration_s=8, warmup_s=2, replications=2).to_dict()
    assert doc["pubsub_delivery"]
    for row in doc["pubsub_delivery"]:
        group = f"{row['flow']}#{row['subscriber']}"
        for k, v in row.items():
            if k not in ("flow", "subscriber") and v is not None:
                assert k in doc["intervals"]["pubsub_delivery"][group], (group, k)


def test_overloaded_queue_reports_offered_load_and_busy_fraction_apart() -> None:
    """M/M/1 at lambda E[S] = 1.5: the offered load is 1.5 (binomial noise on ~15k arrivals,
    sd 0.012 relative: 5 % is > 4 sd), the measured busy fraction cannot pass 1 and is ~1,
    and the output names the resource and the excess."""
    sc = single_queue(1500.0, EXP_1MS, duration_s=10, warmup_s=1)
    r = simulate(sc)
    row = r.resources.set_index("resource").loc["cache[0].primary"]
    assert row["offered_load"] == pytest.approx(1.5, rel=0.05)
    assert 0.98 < row["busy_fraction"] <= 1.0 + 1e-9
    assert row["utilisation"] == row["busy_fraction"]
    over = r.overload["over_capacity"]
    assert [o["resource"] for o in over] == ["cache[0].primary"]
    assert over[0]["over_by"] == pytest.approx(0.5, abs=0.08)
    assert "over capacity" in over[0]["message"]
    assert any("cache[0].primary" in n and "unbounded" in n for n in r.overload["unbounded"])


def test_light_load_offered_equals_busy_and_nothing_flagged() -> None:
    """Below capacity every arriving job is served in the window (up to the last few), so
    offered load and busy fraction agree to the edge effect (< 1e-3 here)."""
    r = simulate(single_queue(300.0, EXP_1MS, duration_s=20, warmup_s=1))
    row = r.resources.iloc[0]
    assert row["offered_load"] == pytest.approx(row["busy_fraction"], rel=1e-3)
    assert r.overload["over_capacity"] == [] and r.overload["saturated"] == []


def test_time_average_queue_length_against_mm1_theory() -> None:
    """Lq of M/M/1 at rho = 0.7 is rho^2 / (1 - rho) = 1.633, measured as the area under the
    number waiting (not lambda Wq); lambda Wq agrees with it as Little's law says (edge
    effects of a 20 s window: < 1 %)."""
    rho = 0.7
    sc = single_queue(rho * 1000, EXP_1MS, duration_s=20, warmup_s=2)
    rs = [simulate(sc, seed=s) for s in range(8)]
    lq = [r.resources.iloc[0]["mean_queue_len"] for r in rs]
    m, h = confidence_interval(lq, 0.999)
    assert abs(m - rho**2 / (1 - rho)) <= h
    for r in rs:
        row = r.little.iloc[0]
        assert row["Lq_time_avg"] == pytest.approx(row["lambda_Wq"], rel=0.01)
        assert row["L_time_avg"] == pytest.approx(row["lambda_W"], rel=0.01)


def test_target_ci_adds_replications_until_met() -> None:
    sc = single_queue(500.0, EXP_1MS, duration_s=10, warmup_s=0.5)
    r = simulate(sc, target_ci=0.06, max_replications=30)
    t = r.extra["target_ci"]
    assert t["met"] and t["widest_relative_half_width"] <= 0.06
    assert 3 <= t["replications"] <= 30 == t["max_replications"]
    assert len(r.replications) == t["replications"]
    # the widest figure's own interval is what was reported
    grp, metric = t["widest_figure"].split(".")
    row = r.intervals[(r.intervals["kind"] == "service") & (r.intervals["metric"] == metric)].iloc[0]
    assert math.isclose(row["half_width_95"] / row["mean"], t["widest_relative_half_width"])


def test_target_ci_stops_at_the_cap_and_says_so() -> None:
    sc = single_queue(500.0, EXP_1MS, duration_s=2, warmup_s=0.2)
    t = simulate(sc, target_ci=1e-6, max_replications=4).extra["target_ci"]
    assert not t["met"] and t["replications"] == 4


def test_sub_microsecond_resolution() -> None:
    """A constant 0.3 us service at low load: recorded in microseconds the latency is clipped
    to the 1 us floor; in nanoseconds it is 0.3 us to HdrHistogram's 3 significant digits."""
    from simlab.scenario import scenario_from_dict

    sc = single_queue(1000.0, {"kind": "constant", "value": 0.3}, duration_s=2, warmup_s=0.1)
    assert simulate(sc).overall["p50_ms"] == pytest.approx(1e-3)
    fine = scenario_from_dict({**sc.model_dump(), "run": {**sc.run.model_dump(), "latency_resolution_ns": 1}})
    o = simulate(fine).overall
    assert o["p50_ms"] == pytest.approx(0.3e-3, rel=1e-3) and o["mean_ms"] == pytest.approx(0.3e-3, rel=1e-3)


def _coverage(make, q: float | None, truth: float, trials: int = 300) -> float:
    """Share of seeded trials whose sectioning interval (whole-series estimate +- half-width)
    holds ``truth``."""
    import numpy as np

    from simlab.metrics import sectioning_half_width

    hits = 0
    for seed in range(trials):
        x = make(np.random.default_rng(seed))
        est = float(np.mean(x) if q is None else np.percentile(x, q))
        hits += abs(est - truth) <= sectioning_half_width(x, q)
    return hits / trials


def test_sectioning_intervals_cover_percentiles_and_means_about_95_percent() -> None:
    """The measured side of `simlab validate`: P50 and P99 of exponential latencies, and a mean
    (of 0/1 outcomes), each covered by its 95 % interval in about 95 of 100 seeded runs."""
    assert 0.90 <= _coverage(lambda r: r.exponential(1.0, 4000), 50.0, math.log(2)) <= 0.99
    assert 0.90 <= _coverage(lambda r: r.exponential(1.0, 8000), 99.0, math.log(100)) <= 0.99
    assert 0.90 <= _coverage(lambda r: (r.random(4000) < 0.6).astype(float), None, 0.6) <= 0.99


def test_sectioning_keeps_time_correlation_in_the_interval() -> None:
    """Latencies that drift together in time (an AR(1) series, as when a slow second slows
    every request in it): an i.i.d. interval would cover the median far less than 95 % of the
    time; sections of contiguous time still cover it about that often."""
    import numpy as np
    from scipy import stats as st

    def ar1(r: np.random.Generator, n: int = 6000, phi: float = 0.98) -> np.ndarray:
        e = r.normal(0.0, math.sqrt(1 - phi * phi), n)
        x = np.empty(n)
        x[0] = r.normal()
        for i in range(1, n):
            x[i] = phi * x[i - 1] + e[i]
        return x

    cov = _coverage(ar1, 50.0, 0.0, trials=200)
    assert 0.85 <= cov <= 0.99, cov
    # the i.i.d. (binomial order-statistic) interval on the same series, for contrast
    iid_hits = 0
    for seed in range(200):
        x = np.sort(ar1(np.random.default_rng(seed)))
        n = len(x)
        lo, hi = st.binom.ppf([0.025, 0.975], n, 0.5).astype(int)
        iid_hits += x[lo] <= 0.0 <= x[min(hi, n - 1)]
    assert iid_hits / 200 < 0.5


def test_sectioning_says_nan_where_sections_are_too_small() -> None:
    import numpy as np

    from simlab.metrics import sectioning_half_width

    x = np.random.default_rng(1).exponential(1.0, 1000)
    assert math.isnan(sectioning_half_width(x[:150], 50.0))  # 15 a section
    assert math.isnan(sectioning_half_width(x, 99.0))  # 100 a section: 1 beyond its P99
    assert sectioning_half_width(x, 90.0) > 0 and sectioning_half_width(x) > 0
