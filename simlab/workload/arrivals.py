"""Arrival times of one traffic source over [start_s, end_s), as a sorted float64 array.

Poisson: exponential gaps. Deterministic: constant gaps 1/rate. MMPP: a Markov-modulated
Poisson process (states visited cyclically, exponential dwell, Poisson within a state). Diurnal:
a non-homogeneous Poisson process with a piecewise-constant hourly rate, sampled exactly per
hour (count ~ Poisson(rate x length), times uniform and sorted). Trace: the file's timestamps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simlab.scenario import ArrivalSpec

__all__ = ["arrival_times_s", "poisson_times_s", "rate_multiplier"]


def poisson_times_s(rate_rps: float, start_s: float, end_s: float, rng: np.random.Generator) -> np.ndarray:
    """Homogeneous Poisson: the count is Poisson, the times are sorted uniforms (order statistics)."""
    span = end_s - start_s
    if rate_rps <= 0 or span <= 0:
        return np.empty(0)
    n = int(rng.poisson(rate_rps * span))
    t = rng.uniform(start_s, end_s, n)
    t.sort()
    return t


def rate_multiplier(spec: ArrivalSpec, t_s: float) -> float:
    """Rate multiplier at time t for a diurnal profile (1 otherwise)."""
    if spec.kind != "diurnal" or spec.hourly_multipliers is None:
        return 1.0
    hour = (int(t_s // 3600) + spec.start_hour) % 24
    return spec.hourly_multipliers[hour]


def _mmpp(spec: ArrivalSpec, rate_rps: float, start_s: float, end_s: float, rng: np.random.Generator) -> np.ndarray:
    assert spec.states is not None
    parts = []
    t, i = start_s, 0
    while t < end_s:
        st = spec.states[i % len(spec.states)]
        dwell = rng.exponential(st.mean_dwell_s)
        stop = min(end_s, t + dwell)
        parts.append(poisson_times_s(rate_rps * st.multiplier, t, stop, rng))
        t, i = stop, i + 1
    return np.concatenate(parts) if parts else np.empty(0)


def _trace(path: str, start_s: float, end_s: float) -> np.ndarray:
    from simlab.workload.traces import read_trace_column

    data = read_trace_column(Path(path), 0)
    t = np.sort(data - data.min())
    return t[(t >= start_s) & (t < end_s)]


def arrival_times_s(
    spec: ArrivalSpec,
    rate_rps: float,
    start_s: float,
    end_s: float,
    rng: np.random.Generator,
    hour: int | None = None,
) -> np.ndarray:
    """Sorted arrival times in [start_s, end_s) for one source. `hour` pins a diurnal
    profile to that hour's rate (the steady-state windows of a fast day run)."""
    if spec.kind == "diurnal" and hour is not None:
        assert spec.hourly_multipliers is not None
        mult = spec.hourly_multipliers[(hour + spec.start_hour) % 24]
        return poisson_times_s(rate_rps * mult, start_s, end_s, rng)
    if spec.kind == "poisson":
        return poisson_times_s(rate_rps, start_s, end_s, rng)
    if spec.kind == "deterministic":
        gap = 1.0 / rate_rps
        first = np.ceil(start_s / gap) * gap
        return np.arange(first, end_s, gap)
    if spec.kind == "mmpp":
        return _mmpp(spec, rate_rps, start_s, end_s, rng)
    if spec.kind == "diurnal":
        parts = []
        h0 = int(start_s // 3600)
        for h in range(h0, int(np.ceil(end_s / 3600))):
            a, b = max(start_s, h * 3600.0), min(end_s, (h + 1) * 3600.0)
            parts.append(poisson_times_s(rate_rps * rate_multiplier(spec, a), a, b, rng))
        return np.concatenate(parts) if parts else np.empty(0)
    if spec.kind == "trace":
        assert spec.trace_path is not None
        return _trace(spec.trace_path, start_s, end_s)
    raise ValueError(f"unknown arrival kind {spec.kind}")
