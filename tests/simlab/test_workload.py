"""Workload samplers: rates, popularity and TTL mixes match their specs.

Tolerances are 4 standard errors of the estimated quantity (a Poisson count has standard
deviation sqrt(n); a share p estimated from n draws has sqrt(p(1-p)/n)), so a correct
sampler fails with probability about 6e-5 per check; the seeds are fixed.
"""

from __future__ import annotations

import math

import numpy as np

from simlab.scenario import ArrivalSpec, KeyspaceSpec, MmppState, PopularitySpec, TtlEntry, TtlSpec
from simlab.workload.arrivals import arrival_times_s
from simlab.workload.keyspace import KeySampler, sample_ttls_s


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_poisson_rate_and_exponential_gaps():
    t = arrival_times_s(ArrivalSpec(kind="poisson"), 1000.0, 0.0, 100.0, _rng())
    assert abs(len(t) - 100_000) <= 4 * math.sqrt(100_000)
    assert np.all(np.diff(t) >= 0)
    gaps = np.diff(t)
    assert abs(gaps.std() / gaps.mean() - 1) < 0.02  # exponential: cv = 1 (se ~ 0.004)


def test_deterministic_gaps():
    t = arrival_times_s(ArrivalSpec(kind="deterministic"), 50.0, 0.0, 10.0, _rng())
    assert len(t) == 500
    np.testing.assert_allclose(np.diff(t), 0.02)


def test_mmpp_mean_rate():
    spec = ArrivalSpec(kind="mmpp", states=[MmppState(multiplier=0.5, mean_dwell_s=1.0), MmppState(multiplier=1.5, mean_dwell_s=1.0)])
    t = arrival_times_s(spec, 1000.0, 0.0, 400.0, _rng(1))
    # mean multiplier 1.0; the dwell times add variance: n_states ~ 400, each +-500 -> se ~ 1e4
    assert abs(len(t) - 400_000) < 4 * math.sqrt(400) * 500


def test_diurnal_hourly_counts_follow_multipliers():
    mult = [0.5 + (h % 6) / 5 for h in range(24)]
    spec = ArrivalSpec(kind="diurnal", hourly_multipliers=mult)
    t = arrival_times_s(spec, 10.0, 0.0, 24 * 3600.0, _rng(2))
    counts = np.bincount((t // 3600).astype(int), minlength=24)
    want = np.array(mult) * 36000
    assert np.all(np.abs(counts - want) <= 4 * np.sqrt(want))
    pinned = arrival_times_s(spec, 10.0, 0.0, 3600.0, _rng(3), hour=5)
    assert abs(len(pinned) - mult[5] * 36000) <= 4 * math.sqrt(mult[5] * 36000)


def test_zipf_popularity_top_key_share():
    n, alpha, draws = 1000, 1.0, 200_000
    ks = KeySampler(KeyspaceSpec(num_keys=n, popularity=PopularitySpec(kind="zipf", alpha=alpha)), _rng())
    keys = ks.keys(_rng(4), draws)
    counts = np.sort(np.bincount(keys, minlength=n))[::-1]
    h = np.sum(np.arange(1, n + 1, dtype=float) ** -alpha)
    p1 = 1 / h
    assert abs(counts[0] / draws - p1) <= 4 * math.sqrt(p1 * (1 - p1) / draws)


def test_hotset_share():
    spec = KeyspaceSpec(num_keys=10_000, popularity=PopularitySpec(kind="hotset", hot_fraction=0.05, hot_share=0.8))
    ks = KeySampler(spec, _rng())
    keys = ks.keys(_rng(5), 100_000)
    hot = set(ks._perm[:500].tolist())
    share = np.isin(keys, list(hot)).mean()
    assert abs(share - 0.8) <= 4 * math.sqrt(0.8 * 0.2 / 100_000)


def test_ttl_kinds():
    assert sample_ttls_s(TtlSpec(kind="none"), _rng(), 10) is None
    np.testing.assert_allclose(sample_ttls_s(TtlSpec(kind="fixed", ttl_s=60), _rng(), 5), 60)
    j = sample_ttls_s(TtlSpec(kind="jittered", ttl_s=100, jitter_fraction=0.1), _rng(), 10_000)
    assert j.min() >= 90 and j.max() <= 110
    mix = TtlSpec(kind="mix", mix=[TtlEntry(ttl_s=60, share=0.39), TtlEntry(ttl_s=300, share=0.61)])
    m = sample_ttls_s(mix, _rng(6), 100_000)
    assert abs((m == 60).mean() - 0.39) <= 4 * math.sqrt(0.39 * 0.61 / 100_000)


def test_trace_replay_arrivals_and_popularity(tmp_path):
    path = tmp_path / "trace.csv"
    times = np.array([100.0, 100.5, 101.0, 103.0, 104.5])
    keys = np.array([7, 7, 7, 3, 9])
    path.write_text("# t,key\n" + "\n".join(f"{t},{k}" for t, k in zip(times, keys, strict=True)) + "\n")
    t = arrival_times_s(ArrivalSpec(kind="trace", trace_path=str(path)), 1.0, 0.0, 4.0, _rng())
    np.testing.assert_allclose(t, [0.0, 0.5, 1.0, 3.0])  # relative to the first, window [0, 4)
    spec = KeyspaceSpec(num_keys=10, popularity=PopularitySpec(kind="trace", trace_path=str(path)))
    ks = KeySampler(spec, _rng())
    drawn = ks.keys(_rng(7), 50_000)
    top = ks._perm[0]  # the most requested trace key gets rank 0: 3 of 5 requests
    assert abs((drawn == top).mean() - 0.6) <= 4 * math.sqrt(0.6 * 0.4 / 50_000)
