"""Traces in scenarios: replayed in order with their sizes, against libCacheSim's LRU; the
streaming readers (oracleGeneral, CSV with header/named columns, Twitter's cache-trace),
SHARDS sampling, time scaling, and trace errors as one-line scenario errors.

Tolerance of the libCacheSim comparisons: 4 decimals as the issue asks; both are
deterministic exact LRUs making room the same way, so they agree exactly.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import yaml

from simlab.model.cache import make_cache, replay_trace
from simlab.model.run import simulate
from simlab.paths import PROJECT_ROOT, SCENARIOS_DIR, TRACES_DIR
from simlab.scenario import ScenarioError, TraceSpec, check_traces, load_scenario, scenario_from_dict
from simlab.workload.trace_stream import TraceStream, iter_trace, shards_keep
from simlab.workload.traces import read_oracle_general, read_twitter_csv

lcs = pytest.importorskip("libcachesim")
ORACLE = TRACES_DIR / "zipf-small.oracleGeneral"
CAPACITY = 16 * 1024 * 1024


def _base() -> dict[str, Any]:
    return yaml.safe_load((SCENARIOS_DIR / "trace-replay.yaml").read_text())


def _libcachesim_lru(capacity: int) -> tuple[float, float]:
    reader = lcs.TraceReader(str(ORACLE), lcs.TraceType.ORACLE_GENERAL_TRACE)
    miss, byte_miss = lcs.LRU(capacity).process_trace(reader)
    return 1.0 - miss, 1.0 - byte_miss


def test_yaml_scenario_matches_libcachesim_lru_in_requests_and_bytes() -> None:
    sc = load_scenario(SCENARIOS_DIR / "trace-replay.yaml")
    o = simulate(sc).overall
    hr, bhr = _libcachesim_lru(CAPACITY)
    assert o["requests"] == 60_000
    assert round(o["hit_ratio"], 4) == round(hr, 4)
    assert round(o["byte_hit_ratio"], 4) == round(bhr, 4)


def test_csv_with_header_and_named_columns_replays_the_same_requests() -> None:
    d = _base()
    d["sources"][0]["trace"] = {
        "path": "data/traces/zipf-small.csv", "format": "csv", "header": True, "time_unit": "ms",
        "columns": {"time": "time_ms", "key": "key", "size": "size"},
    }
    d["cache"]["maxmemory_bytes"] = CAPACITY // 4
    o = simulate(scenario_from_dict(d)).overall
    hr, bhr = _libcachesim_lru(CAPACITY // 4)
    assert round(o["hit_ratio"], 4) == round(hr, 4)
    assert round(o["byte_hit_ratio"], 4) == round(bhr, 4)


def test_keys_only_at_the_sources_own_arrivals_keeps_trace_order() -> None:
    """use: keys takes keys and sizes in trace order at Poisson arrivals: an LRU without TTLs
    depends only on the order, so the hit ratio is libCacheSim's again (the run covers the
    trace exactly once: 60,000 arrivals expected, the check uses the first pass only)."""
    d = _base()
    d["sources"][0]["trace"]["use"] = "keys"
    d["sources"][0]["rate_rps"] = 400
    d["sources"][0]["arrival"] = {"kind": "deterministic"}
    d["run"]["duration_s"] = 60_000 / 400
    o = simulate(scenario_from_dict(d)).overall
    hr, _ = _libcachesim_lru(CAPACITY)
    assert o["requests"] == 60_000
    assert round(o["hit_ratio"], 4) == round(hr, 4)


def test_chunked_run_streams_the_trace_identically() -> None:
    sc = load_scenario(SCENARIOS_DIR / "trace-replay.yaml")
    one = simulate(sc, model="vector").overall
    chunked = simulate(sc, model="vector", chunk_s=60).overall
    assert chunked["hit_ratio"] == one["hit_ratio"] and chunked["requests"] == one["requests"]


def test_twitter_format_honours_operations_sizes_and_ttls() -> None:
    """Sets store, deletes remove, TTLs expire: the scenario's read hit ratio equals a direct
    replay of the same file through the same exact-LRU model (keys numbered instead of hashed:
    the same identity)."""
    cap = 400_000
    d = _base()
    d["sources"][0]["trace"] = {"path": "data/traces/twitter-sample.csv", "format": "twitter"}
    d["cache"]["maxmemory_bytes"] = cap
    d["run"]["duration_s"] = 200
    o = simulate(scenario_from_dict(d)).overall
    tr = read_twitter_csv(TRACES_DIR / "twitter-sample.csv")
    cache = make_cache("lru", cap, per_key_overhead_bytes=0, expire_overhead_bytes=0, seed=0)
    hits = replay_trace(cache, tr)
    reads = tr.ops == 0
    assert round(o["hit_ratio"], 4) == round(hits[reads].mean(), 4)
    sizes = tr.sizes[reads]
    assert round(o["byte_hit_ratio"], 4) == round(sizes[hits[reads]].sum() / sizes.sum(), 4)


def test_time_scale_replays_faster() -> None:
    spec = TraceSpec(path=str(ORACLE), time_scale=0.5)
    t = np.concatenate([b.times_s for b in iter_trace(spec)])
    full = read_oracle_general(ORACLE).times_s
    assert t[-1] == pytest.approx((full[-1] - full[0]) * 0.5)


def test_shards_sampling_keeps_a_rate_share_of_keys_with_all_their_requests() -> None:
    """12,562 distinct keys at rate 0.1: the kept count is binomial, sd 34 keys; 4 sd is
    1.1 points of share."""
    full = read_oracle_general(ORACLE)
    kept = np.concatenate([b.keys for b in iter_trace(TraceSpec(path=str(ORACLE), sample_rate=0.1))])
    share = len(np.unique(kept)) / len(np.unique(full.keys))
    assert abs(share - 0.1) < 0.011
    mask = shards_keep(full.keys, 0.1)
    assert np.array_equal(np.sort(kept), np.sort(full.keys[mask]))


def test_streaming_is_block_bounded_and_windows_partition_the_trace() -> None:
    spec = TraceSpec(path=str(ORACLE))
    blocks = list(iter_trace(spec, block=5000))
    assert max(len(b) for b in blocks) <= 5000 and sum(len(b) for b in blocks) == 60_000
    stream = TraceStream(spec, block=5000)
    parts = [stream.window(a, a + 7.0) for a in np.arange(0.0, 200.0, 7.0)]
    assert sum(len(p) for p in parts) == 60_000
    assert np.array_equal(np.concatenate([p.keys for p in parts]), read_oracle_general(ORACLE).keys)


@pytest.mark.parametrize(
    "trace, expect",
    [
        ({"path": "data/traces/zipf-small.csv", "format": "csv"}, "header: true"),
        ({"path": "data/traces/zipf-small.oracleGeneral", "format": "csv"}, "not a text file"),
        ({"path": "data/traces/nope.oracleGeneral"}, "no such file"),
        ({"path": "data/traces/zipf-small.csv", "format": "csv", "header": True, "columns": {"key": "id"}},
         "not in the header"),
        ({"path": "data/traces/twitter-sample.csv", "format": "csv", "columns": {"key": 9}}, "does not exist"),
    ],
)
def test_unreadable_traces_are_scenario_errors_naming_the_field(trace: dict[str, Any], expect: str) -> None:
    d = copy.deepcopy(_base())
    d["sources"][0]["trace"] = trace
    with pytest.raises(ScenarioError) as err:
        check_traces(scenario_from_dict(d), "s.yaml")
    assert "sources.0.trace" in str(err.value) and expect in str(err.value)


def test_named_columns_need_a_header() -> None:
    d = _base()
    d["sources"][0]["trace"] = {"path": "x.csv", "format": "csv", "columns": {"key": "key"}}
    with pytest.raises(ScenarioError, match="header: true"):
        scenario_from_dict(d)


def test_relative_trace_path_found_from_any_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    sc = load_scenario(PROJECT_ROOT / "data" / "scenarios" / "trace-replay.yaml")
    assert simulate(sc, duration_s=20).overall["requests"] > 0
