"""The 24-hour day: hourly figures from `simulate_day` and the seed's heatmap bands."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simlab.day import band_of, heatmap_dict, hourly_heatmap, simulate_day
from simlab.model.run import simulate_day_fast
from simlab.paths import SCENARIOS_DIR
from simlab.scenario import load_scenario

DAY = SCENARIOS_DIR / "redis-cache-service-day.yaml"


def test_bands_follow_the_seed_legend():
    # the seed's legend: < 50 %, 50-75 %, 75-100 % of the SLO, over it
    assert band_of(99.9, 200) == "under 50%"
    assert band_of(100.0, 200) == "50-75%"
    assert band_of(149.9, 200) == "50-75%"
    assert band_of(150.0, 200) == "75-100%"
    assert band_of(200.0, 200) == "75-100%"  # P99 < 200 ms read with `le`: exactly 200 is inside
    assert band_of(200.1, 200) == "over SLO"


@pytest.fixture(scope="module")
def day_result():
    sc = load_scenario(DAY)
    # 10 s per hour and a 120 s cache warm-up keep this at ~400k simulated requests
    return sc, simulate_day(sc, seed=3, window_s=10.0, cache_warmup_s=120.0)


def test_day_hours_follow_the_diurnal_shape(day_result):
    sc, r = day_result
    hourly = r.extra["hourly"]
    assert list(hourly["hour"]) == list(range(24))
    mult = np.array(sc.sources[0].arrival.hourly_multipliers)
    base = sum(s.rate_rps for s in sc.sources)
    ratio = hourly["throughput_rps"].to_numpy() / (mult * base)
    # Poisson counts of 7k-21k requests per 10 s window: 4 sigma is under 5 %
    assert np.all(np.abs(ratio - 1) < 0.05), ratio
    # each window stands for its whole hour: the hours add up to the day exactly
    assert hourly["requests"].sum() == r.overall["requests"]
    assert (hourly["p50_ms"] <= hourly["p90_ms"]).all() and (hourly["p90_ms"] <= hourly["p99_ms"]).all()
    assert (hourly["p99_ms"] <= hourly["max_ms"]).all()


def test_day_is_the_fast_day_with_hourly_histograms(day_result):
    sc, r = day_result
    fast = simulate_day_fast(sc, seed=3, window_s=10.0, cache_warmup_s=120.0)
    # same seeds, same steps: the whole-day figures are identical (tolerance 0)
    for k in ("requests", "p50_ms", "p99_ms", "max_ms", "hit_ratio", "error_rate"):
        assert r.overall[k] == fast.overall[k]
    # the per-minute fallback gives the same P99 for each hour within the histogram's 0.1 %
    # plus the difference between np.percentile and an HdrHistogram bucket (< 1 %)
    approx = hourly_heatmap(fast, 200.0)
    exact = hourly_heatmap(r, 200.0)
    assert not approx["exact"].any() and exact["exact"].all()
    assert np.allclose(approx["p99_ms"], exact["p99_ms"], rtol=0.01)


def test_heatmap_bands_and_json(day_result):
    sc, r = day_result
    slo = sc.slo.latency_p99_ms
    df = hourly_heatmap(r, slo)
    for row in df.to_dict("records"):
        assert row["band"] == band_of(row["p99_ms"], slo)
    doc = heatmap_dict(r, slo)
    json.dumps(doc)
    assert len(doc["hours"]) == 24 and sum(doc["hours_per_band"].values()) == 24
    # the default service's P99 is ~142 ms (71 % of 200 ms): its busy hours sit in 50-75 %
    assert doc["hours_per_band"]["50-75%"] >= 12
    with pytest.raises(ValueError, match="slo_ms"):
        hourly_heatmap(r, 0)


def test_run_json_of_a_diurnal_scenario_carries_its_heatmap(tmp_path):
    """`simlab run --json` of a diurnal scenario: the heatmap of the hours the run covers
    (2 hours starting at 22:00, clock hours 22 and 23), through the same `heatmap_dict` as
    `simlab day`; a scenario without a daily profile has none. The hours' rates follow the
    profile (20 and 40 requests/s: Poisson counts of 72k and 144k, 4.5 sd under 2 %)."""
    from typer.testing import CliRunner

    from simlab.cli import app

    mult = [1.0] * 24
    mult[22], mult[23] = 0.5, 1.0
    doc = {
        "name": "night", "keyspace": {"num_keys": 100},
        "sources": [{"name": "web", "rate_rps": 40, "flows": {"get": 1.0},
                     "arrival": {"kind": "diurnal", "hourly_multipliers": mult, "start_hour": 22},
                     "client_rtt_ms": {"kind": "constant", "value": 120}}],
        "flows": {"get": {"kind": "command", "commands": {"GET": 1}}},
        "cache": {"service_time_us": {"default": {"kind": "constant", "value": 20}}},
        "slo": {"latency_p99_ms": 200},
        "run": {"duration_s": 7200, "warmup_s": 0},
    }
    path = tmp_path / "night.yaml"
    path.write_text(json.dumps(doc))
    res = CliRunner().invoke(app, ["run", str(path), "--json"])
    assert res.exit_code == 0, res.output
    hm = json.loads(res.output)["heatmap"]
    assert hm["hours_covered"] == 2 and [h["hour"] for h in hm["hours"]] == [22, 23]
    rps = [h["throughput_rps"] for h in hm["hours"]]
    assert rps[0] == pytest.approx(20, rel=0.02) and rps[1] == pytest.approx(40, rel=0.02)
    # a 120 ms round trip: P99 at 60 % of the 200 ms SLO, the seed's 50-75 % band
    assert all(h["band"] == "50-75%" and h["exact"] is False for h in hm["hours"])
    assert hm["hours_per_band"]["50-75%"] == 2
    doc["sources"][0]["arrival"] = {"kind": "poisson"}
    doc["run"]["duration_s"] = 60
    path.write_text(json.dumps(doc))
    res = CliRunner().invoke(app, ["run", str(path), "--json"])
    assert res.exit_code == 0 and "heatmap" not in json.loads(res.output)
