"""Fault windows of a run: fixed ones as given, random ones as a Poisson process.

A fault with `rate_per_hour` starts at the points of a Poisson process of that rate over the
run (exponential gaps) and lasts `duration_s`. Windows are per resource: a restart or a slow
period of a shard hits its primary and replicas alike.
"""

from __future__ import annotations

import numpy as np

from simlab.model.plan import Windows
from simlab.scenario import Scenario

__all__ = ["expand_faults"]


def expand_faults(sc: Scenario, duration_s: float, n_resources: int, rng: np.random.Generator) -> Windows:
    """Concrete fault windows over [0, duration_s) for every cache resource."""
    copies = sc.cache.replicas + 1
    restart: list[list[tuple[float, float]]] = [[] for _ in range(n_resources)]
    slow: list[list[tuple[float, float, float]]] = [[] for _ in range(n_resources)]
    blip: list[tuple[float, float, float]] = []
    for f in sc.faults:
        if f.at_s is not None:
            starts = [f.at_s]
        else:
            assert f.rate_per_hour is not None
            n = rng.poisson(f.rate_per_hour * duration_s / 3600.0)
            starts = sorted(rng.uniform(0, duration_s, n).tolist())
        shards = range(sc.cache.shards) if f.shard is None else [f.shard]
        for t in starts:
            if f.kind == "blip":
                blip.append((t, t + f.duration_s, f.extra_latency_ms))
                continue
            for s in shards:
                for c in range(copies):
                    r = s * copies + c
                    if f.kind == "restart":
                        restart[r].append((t, t + f.duration_s))
                    else:
                        slow[r].append((t, t + f.duration_s, f.factor))
    return Windows(restart=restart, slow=slow, blip=blip)
