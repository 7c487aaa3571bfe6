"""Closed forms for cache hit ratios under the independent reference model (IRM).

Under IRM each request is for object ``i`` with fixed probability ``p_i``, independently.
Two characteristic-time approximations cover the policies we simulate:

* **LRU -- Che's approximation** (Che, Tung & Wang, "Hierarchical Web caching systems",
  IEEE JSAC 20(7), 2002; why it is accurate: Fricker, Robert & Roberts, "A versatile and
  accurate approximation for LRU cache performance", ITC 24, 2012).  An object stays in a
  C-object LRU for a nearly deterministic time ``T_C`` after its last request, so it hits
  with probability ``h_i = 1 - exp(-p_i T_C)``, where ``T_C`` solves
  ``sum_i (1 - exp(-p_i T_C)) = C`` (the cache holds C objects on average).
* **FIFO and RANDOM** (Gelenbe, "A unified approach to the evaluation of a class of
  replacement algorithms", IEEE Trans. Computers C-22(6), 1973, showed FIFO and RANDOM
  have the same IRM hit ratio; the characteristic-time form is in Martina, Garetto &
  Leonardi, "A unified approach to the performance analysis of caching systems",
  INFOCOM 2014): ``h_i = p_i T / (1 + p_i T)`` with ``sum_i p_i T / (1 + p_i T) = C``.

The overall hit ratio is ``sum_i p_i h_i`` in both cases.  Time is measured in requests
(``p_i`` sum to one), so ``T`` is a number of requests.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

__all__ = [
    "che_characteristic_time",
    "che_hit_ratio",
    "che_object_hit_ratios",
    "fifo_characteristic_time",
    "fifo_hit_ratio",
    "zipf_popularity",
]


def zipf_popularity(n_keys: int, alpha: float) -> np.ndarray:
    """``p_i`` proportional to ``i**-alpha``, i = 1..n_keys (most popular first)."""
    w = np.arange(1, n_keys + 1, dtype=np.float64) ** -float(alpha)
    return w / w.sum()


def _check(p: np.ndarray, cache_size: float) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    p = p[p > 0]
    if not 0 < cache_size < len(p):
        raise ValueError(f"cache_size must be in (0, {len(p)}) objects, got {cache_size}")
    return p / p.sum()


def _solve(occupancy, cache_size: float, p: np.ndarray) -> float:
    # occupancy(T) rises from 0 to len(p); bracket the root by doubling.
    hi = 1.0 / p.max()
    while occupancy(hi) < cache_size:
        hi *= 2.0
    return float(brentq(lambda t: occupancy(t) - cache_size, 0.0, hi, xtol=1e-12 * hi, rtol=1e-13))


def che_characteristic_time(p: np.ndarray, cache_size: float) -> float:
    """``T_C`` solving ``sum_i (1 - exp(-p_i T_C)) = C`` (in requests)."""
    p = _check(p, cache_size)
    return _solve(lambda t: float(-np.expm1(-p * t).sum()), cache_size, p)


def che_object_hit_ratios(p: np.ndarray, cache_size: float) -> np.ndarray:
    """Per-object LRU hit probabilities ``1 - exp(-p_i T_C)`` (same order as ``p``)."""
    p = np.asarray(p, dtype=np.float64)
    t = che_characteristic_time(p, cache_size)
    return -np.expm1(-(p / p.sum()) * t)


def che_hit_ratio(p: np.ndarray, cache_size: float) -> float:
    """LRU hit ratio ``sum_i p_i (1 - exp(-p_i T_C))`` under IRM (Che's approximation)."""
    q = _check(p, cache_size)
    t = che_characteristic_time(q, cache_size)
    return float(np.dot(q, -np.expm1(-q * t)))


def fifo_characteristic_time(p: np.ndarray, cache_size: float) -> float:
    """``T`` solving ``sum_i p_i T / (1 + p_i T) = C`` (FIFO/RANDOM under IRM)."""
    p = _check(p, cache_size)
    return _solve(lambda t: float((p * t / (1.0 + p * t)).sum()), cache_size, p)


def fifo_hit_ratio(p: np.ndarray, cache_size: float) -> float:
    """FIFO (and RANDOM) hit ratio ``sum_i p_i * p_i T / (1 + p_i T)`` under IRM."""
    q = _check(p, cache_size)
    t = fifo_characteristic_time(q, cache_size)
    return float(np.dot(q, q * t / (1.0 + q * t)))
