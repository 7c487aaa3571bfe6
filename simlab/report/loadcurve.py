"""Percentiles against offered load: the scenario re-run with every source's rate scaled.

The knee is located with Kneedle (Satopaa, Albrecht, Irwin & Raghavan, "Finding a 'Kneedle'
in a Haystack", ICDCS workshops 2011): both axes are normalised to [0, 1] and the knee is the
measured point farthest below the straight line from the first to the last point of the P99
curve (a convex, increasing curve). The breaking point is where P99 crosses the latency SLO,
interpolated linearly between the two measured load points that bracket it (None when no
measured point reaches the SLO: then the service holds at every load tried).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simlab.scenario import Scenario

__all__ = ["KNEE_MIN_RISE", "LoadCurve", "kneedle", "load_curve", "scaled"]


@dataclass(frozen=True)
class LoadCurve:
    """One row per load factor (`table`: factor, offered_rps, throughput_rps, p50/p90/p99 ms,
    hit_ratio, error_rate, rejected_rate, busiest resource and its offered load), the load
    today, the knee and the breaking point (requests/s)."""

    table: pd.DataFrame
    base_rps: float
    knee_rps: float | None
    breaking_rps: float | None
    slo_ms: float

    @property
    def headroom_factor(self) -> float | None:
        """Breaking point over today's load (None: never reached at the loads tried)."""
        return None if self.breaking_rps is None else self.breaking_rps / self.base_rps

    def to_dict(self) -> dict[str, object]:
        return {"base_rps": self.base_rps, "knee_rps": self.knee_rps, "breaking_rps": self.breaking_rps,
                "headroom_factor": self.headroom_factor, "slo_ms": self.slo_ms,
                "points": self.table.replace({np.nan: None}).to_dict("records")}


#: The P99 curve must at least grow by this factor over the loads tried to have a knee.
KNEE_MIN_RISE = 1.5


def scaled(sc: Scenario, factor: float) -> Scenario:
    """`sc` with every source's rate (and rate limit) times `factor`, today's keyspace: the
    planner's `scale_scenario(..., keys=False)`, so both speak of the same load."""
    from simlab.sweep import scale_scenario

    return scale_scenario(sc, factor, keys=False)


def kneedle(x: Sequence[float], y: Sequence[float]) -> int | None:
    """Index of the knee of an increasing convex curve (module docstring); None with fewer
    than 3 points or a curve that does not rise by `KNEE_MIN_RISE` (no knee in that range)."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(xa) < 3 or np.ptp(xa) == 0 or not ya[-1] >= KNEE_MIN_RISE * ya[0]:
        return None
    xn = (xa - xa.min()) / np.ptp(xa)
    yn = (ya - ya.min()) / np.ptp(ya)
    gap = xn - yn
    i = int(np.argmax(gap))
    return i if gap[i] > 0 else None


def _crossing(x: np.ndarray, y: np.ndarray, level: float) -> float | None:
    above = np.nonzero(y >= level)[0]
    if len(above) == 0:
        return None
    i = int(above[0])
    if i == 0:
        return float(x[0])
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    return float(x0 + (level - y0) * (x1 - x0) / (y1 - y0))


def load_curve(sc: Scenario, factors: Sequence[float], *, seed: int | None = None, window_s: float = 30.0,
               warmup_accesses: float = 400_000, stop_after_breach: bool = True,
               progress: Callable[[int, int], None] | None = None) -> LoadCurve:
    """Simulate `sc` at each load factor, ascending (one replication each, the same seed:
    common random numbers, so differences between points are the load's, not the draw's).

    Each point is the planner's steady-state window (`simlab.sweep.SimSettings(mode="steady")`):
    the cache warmed by `warmup_accesses` accesses alone, then `window_s` seconds simulated in
    full. A cold start would otherwise send every request of the warm-up to the backend and
    put a backlog into the measured window that today's service never sees.

    With `stop_after_breach` the curve ends at the first point whose P99 is over the SLO: it
    brackets the breaking point, and beyond it every point is an overloaded run (queues and
    retry storms), the most expensive kind to simulate and the least informative."""
    from simlab.sweep import SimSettings, simulate_point

    seed = sc.run.seed if seed is None else seed
    settings = SimSettings(mode="steady", duration_s=window_s, warmup_accesses=warmup_accesses)
    rows = []
    base = sum(s.rate_rps for s in sc.sources)
    for i, f in enumerate(sorted(factors)):
        r = simulate_point(scaled(sc, f), {}, seed, settings)
        o = r.overall
        res = r.resources
        load_col = "offered_load" if "offered_load" in res else "utilisation"
        busiest = res.loc[res[load_col].fillna(-1).idxmax()] if len(res) else None
        rows.append({
            "factor": f, "offered_rps": base * f, "throughput_rps": o["throughput_rps"],
            "p50_ms": o["p50_ms"], "p90_ms": o["p90_ms"], "p99_ms": o["p99_ms"], "p999_ms": o["p999_ms"],
            "hit_ratio": o["hit_ratio"], "error_rate": o["error_rate"], "rejected_rate": o["rejected_rate"],
            "busiest_resource": None if busiest is None else busiest["resource"],
            "busiest_offered_load": None if busiest is None else float(busiest[load_col]),
        })
        if progress is not None:
            progress(i + 1, len(factors))
        if stop_after_breach and o["p99_ms"] >= sc.slo.latency_p99_ms:
            break
    t = pd.DataFrame(rows)
    x, y = t["offered_rps"].to_numpy(dtype=float), t["p99_ms"].to_numpy(dtype=float)
    k = kneedle(x, y)
    return LoadCurve(table=t, base_rps=base, knee_rps=None if k is None else float(x[k]),
                     breaking_rps=_crossing(x, y, sc.slo.latency_p99_ms), slo_ms=sc.slo.latency_p99_ms)
