"""Vectorised sampling of the scenario's distributions (`simlab.scenario.Dist`).

One function, `sample`, turns a distribution spec into `n` draws from a numpy Generator. The
unit is whatever the field holding the spec says (`_ms`, `_us`, `_bytes`).
"""

from __future__ import annotations

import numpy as np

from simlab.scenario import Constant, Dist, Empirical, Exponential, Gamma, Lognormal, Uniform

__all__ = ["mean_of", "sample"]


def sample(dist: Dist, rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` float64 draws of `dist`.

    Gamma by (mean, cv): shape k = 1/cv^2, scale = mean/k (so Var = (cv mean)^2).
    Lognormal by (median, sigma): exp(ln(median) + sigma Z).
    """
    if isinstance(dist, Constant):
        return np.full(n, dist.value, dtype=np.float64)
    if isinstance(dist, Exponential):
        return rng.exponential(dist.mean, n)
    if isinstance(dist, Lognormal):
        return dist.shift + dist.median * np.exp(dist.sigma * rng.standard_normal(n))
    if isinstance(dist, Gamma):
        k = 1.0 / (dist.cv * dist.cv)
        return dist.shift + rng.gamma(k, dist.mean / k, n)
    if isinstance(dist, Uniform):
        return rng.uniform(dist.low, dist.high, n)
    if isinstance(dist, Empirical):
        values = np.asarray(dist.values, dtype=np.float64)
        if dist.weights is None:
            return values[rng.integers(0, len(values), n)]
        p = np.asarray(dist.weights, dtype=np.float64)
        return rng.choice(values, size=n, p=p / p.sum())
    raise TypeError(f"unknown distribution {dist!r}")


def mean_of(dist: Dist) -> float:
    """Exact mean of `dist` (used by theory checks and utilisation estimates)."""
    if isinstance(dist, Constant):
        return dist.value
    if isinstance(dist, Exponential):
        return dist.mean
    if isinstance(dist, Lognormal):
        return dist.shift + dist.median * float(np.exp(dist.sigma**2 / 2))
    if isinstance(dist, Gamma):
        return dist.shift + dist.mean
    if isinstance(dist, Uniform):
        return (dist.low + dist.high) / 2
    if isinstance(dist, Empirical):
        w = np.ones(len(dist.values)) if dist.weights is None else np.asarray(dist.weights, float)
        return float(np.dot(dist.values, w) / w.sum())
    raise TypeError(f"unknown distribution {dist!r}")
