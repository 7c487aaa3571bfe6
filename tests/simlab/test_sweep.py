"""Sweeps: configurations apply like scenario edits, a 2-worker LocalCluster gives the serial
run's rows exactly, and a re-run reads the Parquet cache instead of simulating."""

from __future__ import annotations

import pandas as pd
import pytest

from simlab.paths import DEFAULT_SCENARIO
from simlab.scenario import load_scenario
from simlab.sweep import SimSettings, SweepError, apply_config, open_client, run_sweep, scale_scenario

# short steady windows of a quarter of the default traffic: each point simulates in ~0.3 s
SETTINGS = SimSettings(mode="steady", duration_s=5.0, warmup_s=20.0)


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(DEFAULT_SCENARIO)


def test_scale_scenario_multiplies_traffic_keys_and_rate_limits(scenario):
    s = scale_scenario(scenario, 2.5)
    assert [x.rate_rps for x in s.sources] == [x.rate_rps * 2.5 for x in scenario.sources]
    assert s.keyspace.num_keys == scenario.keyspace.num_keys * 2.5
    limit = scenario.sources[1].rate_limit.limit
    assert s.sources[1].rate_limit.limit == round(limit * 2.5)
    kept = scale_scenario(scenario, 2.5, scale_rate_limits=False)
    assert kept.sources[1].rate_limit.limit == limit


def test_apply_config_sets_dotted_paths_and_names_bad_keys(scenario):
    s = apply_config(scenario, {"cache.maxmemory_bytes": 1 << 27, "backend.concurrency": 64, "growth": 2})
    assert s.cache.maxmemory_bytes == 1 << 27 and s.backend.concurrency == 64
    assert s.sources[0].rate_rps == 2400
    with pytest.raises(SweepError, match="cache.maxmemroy_bytes"):
        apply_config(scenario, {"cache.maxmemroy_bytes": 1})
    with pytest.raises(SweepError, match="not a valid scenario"):
        apply_config(scenario, {"backend.concurrency": -1})


def test_local_cluster_equals_serial_and_rerun_hits_cache(scenario, tmp_path):
    configs = [{"growth": 0.25, "backend.concurrency": c, "cache.maxmemory_bytes": m}
               for c in (4, 32) for m in (1 << 20, 64 << 20)]
    serial = run_sweep(scenario, configs, seeds=(0, 1), settings=SETTINGS, parallel=False,
                       cache_dir=tmp_path / "serial", progress=False)
    assert serial.simulated == 8 and serial.cached == 0
    client = open_client(n_workers=2)
    try:
        assert len(client.scheduler_info()["workers"]) == 2
        par = run_sweep(scenario, configs, seeds=(0, 1), settings=SETTINGS, client=client,
                        cache_dir=tmp_path / "dask", progress=False)
    finally:
        client.close()
        client._simlab_owned_cluster.close()
    assert par.simulated == 8
    cols = [c for c in serial.table.columns if c not in ("wall_s", "cached")]
    # exact equality: each point is seeded, so where it runs must not matter (tolerance 0)
    pd.testing.assert_frame_equal(serial.table[cols], par.table[cols])
    # more memory means fewer misses for the backend: the sweep varies what it says it varies
    t = serial.table
    small, big = t[t["cfg.cache.maxmemory_bytes"] == 1 << 20], t[t["cfg.cache.maxmemory_bytes"] == 64 << 20]
    assert big["hit_ratio"].mean() > small["hit_ratio"].mean()

    # re-run: every point from disk, nothing simulated (no cluster needed)
    again = run_sweep(scenario, configs, seeds=(0, 1), settings=SETTINGS, cache_dir=tmp_path / "dask", progress=False)
    assert again.simulated == 0 and again.cached == 8 and again.table["cached"].all()
    pd.testing.assert_frame_equal(again.table[cols], par.table[cols])
    # one changed configuration: only that point runs
    changed = configs[:3] + [{**configs[3], "backend.concurrency": 16}]
    part = run_sweep(scenario, changed, seeds=(0,), settings=SETTINGS, parallel=False,
                     cache_dir=tmp_path / "dask", progress=False)
    assert part.simulated == 1 and part.cached == 3


def test_cache_key_changes_with_seed_settings_and_scenario(scenario, tmp_path):
    cfg = [{"growth": 0.25}]
    a = run_sweep(scenario, cfg, seeds=(3,), settings=SETTINGS, parallel=False, cache_dir=tmp_path, progress=False)
    b = run_sweep(scenario, cfg, seeds=(4,), settings=SETTINGS, parallel=False, cache_dir=tmp_path, progress=False)
    other = scenario.model_copy(update={"name": "renamed"})
    c = run_sweep(other, cfg, seeds=(3,), settings=SETTINGS, parallel=False, cache_dir=tmp_path, progress=False)
    assert (a.simulated, b.simulated, c.simulated) == (1, 1, 1)
    assert len({a.table.key[0], b.table.key[0], c.table.key[0]}) == 3
