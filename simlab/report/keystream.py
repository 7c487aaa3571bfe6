"""The scenario's key stream as a trace, and its LRU miss-ratio curve in bytes.

Keys and sizes are drawn exactly as the simulator draws them (`KeySampler`: the scenario's
popularity, key and value sizes), and each key is charged the cache model's per-key overhead,
so the curve's x axis is the same memory `maxmemory` limits. The curve is exact LRU on the
request stream without TTLs or writes (Mattson's stack distances, `simlab.mrc`); Redis's
sampled LRU and the TTLs move the simulated hit ratio off it, which is why the report marks the
simulated point beside it.
"""

from __future__ import annotations

import numpy as np

from simlab.mrc import MissRatioCurve, lru_byte_mrc
from simlab.scenario import Scenario

__all__ = ["scenario_mrc"]


def scenario_mrc(sc: Scenario, *, requests: int = 400_000, seed: int = 0, points: int = 60,
                 max_bytes: int | None = None) -> MissRatioCurve:
    """Exact byte-LRU hit ratio at `points` memory sizes up to `max_bytes` (default: twice
    `maxmemory`, or the whole keyspace), over `requests` draws after a first warm-up half."""
    from simlab.workload.keyspace import KeySampler

    rng = np.random.default_rng([seed, 7])
    ks = KeySampler(sc.keyspace, rng)
    keys = ks.keys(rng, requests)
    overhead = int(getattr(sc.cache, "per_key_overhead_bytes", 0))
    sizes = ks.sizes_bytes(keys) + overhead
    total = int((ks.key_size_bytes + ks.value_size_bytes).sum()) + overhead * sc.keyspace.num_keys
    top = max_bytes or (2 * sc.cache.maxmemory_bytes if sc.cache.maxmemory_bytes else total)
    caps = np.unique(np.linspace(top / points, top, points).astype(np.int64))
    return lru_byte_mrc(keys, sizes, caps, start=requests // 2)
