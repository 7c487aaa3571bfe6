"""Simulated hit ratios against the IRM closed forms (Che; FIFO/RANDOM characteristic time).

Tolerance, 1 percentage point, = the approximations' own error plus sampling error:
* Che's approximation is within a few tenths of a point for Zipf popularity with 10^4
  objects and C >= 100 (Fricker, Robert & Roberts, ITC 2012, Fig. 1-2); the FIFO/RANDOM
  characteristic-time form likewise (Martina et al., INFOCOM 2014, Sec. V).
* The measured ratio over n counted requests has standard error <= 0.5/sqrt(n): 0.0008 for
  the 400k requests of the LRU checks, 0.0011 for the 200k of the FIFO/RANDOM checks, so
  3 SE <= 0.34 points.  (Hit indicators are positively correlated only within a key's
  residence; the IRM draws themselves are independent.)
"""

from __future__ import annotations

import numpy as np
import pytest

from simlab.cache_theory import (
    che_characteristic_time,
    che_hit_ratio,
    che_object_hit_ratios,
    fifo_characteristic_time,
    fifo_hit_ratio,
    zipf_popularity,
)
from simlab.model.cache import make_cache
from simlab.mrc import lru_mrc
from simlab.workload.traces import zipf_trace

N_KEYS = 10_000
TOL = 0.01


@pytest.mark.parametrize("alpha", [0.8, 1.0, 1.2])
def test_che_matches_exact_lru(alpha: float) -> None:
    n = 600_000
    tr = zipf_trace(n, N_KEYS, alpha, seed=int(alpha * 100))
    mrc = lru_mrc(tr.keys, start=n // 3)  # count a warm cache: the last 400k requests
    p = zipf_popularity(N_KEYS, alpha)
    for c in (100, 1_000, 3_000):
        assert abs(mrc.hit_ratio(c) - che_hit_ratio(p, c)) < TOL, (alpha, c)


@pytest.mark.parametrize("alpha", [0.8, 1.2])
@pytest.mark.parametrize("policy", ["fifo", "allkeys-random"])
def test_fifo_random_characteristic_time(alpha: float, policy: str) -> None:
    n, warm = 300_000, 100_000
    tr = zipf_trace(n, N_KEYS, alpha, seed=7)
    p = zipf_popularity(N_KEYS, alpha)
    for c in (100, 1_000):
        cache = make_cache(policy, c, per_key_overhead_bytes=0, expire_overhead_bytes=0)
        hits = cache.access_many(tr.keys, tr.sizes, tr.times_s)
        assert abs(hits[warm:].mean() - fifo_hit_ratio(p, c)) < TOL, (policy, alpha, c)


def test_characteristic_times_solve_their_equations() -> None:
    p = zipf_popularity(5_000, 0.9)
    t = che_characteristic_time(p, 500)
    assert np.isclose(np.sum(1 - np.exp(-p * t)), 500, rtol=1e-9)
    assert np.isclose(che_object_hit_ratios(p, 500).sum(), 500, rtol=1e-9)
    t2 = fifo_characteristic_time(p, 500)
    assert np.isclose(np.sum(p * t2 / (1 + p * t2)), 500, rtol=1e-9)


def test_uniform_popularity_limits() -> None:
    """With p_i = 1/N every policy's IRM hit ratio is C/N; both forms must give it."""
    p = np.full(1_000, 1e-3)
    assert np.isclose(che_hit_ratio(p, 250), 0.25)
    assert np.isclose(fifo_hit_ratio(p, 250), 0.25)


def test_lru_beats_fifo_under_irm() -> None:
    p = zipf_popularity(N_KEYS, 0.9)
    assert che_hit_ratio(p, 1_000) > fifo_hit_ratio(p, 1_000)


def test_bad_cache_size() -> None:
    with pytest.raises(ValueError):
        che_hit_ratio(zipf_popularity(10, 1.0), 10)
