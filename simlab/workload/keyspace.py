"""Which key each request touches, and the TTL a write gives it.

Zipf: P(rank r) = r^-alpha / H(N, alpha), sampled by inverse CDF (searchsorted on the
cumulative weights; exact for any alpha, including alpha < 1 where numpy's zipf cannot go).
Key ids are ranks shuffled by a fixed permutation so that popularity does not follow id order
(shard = id mod shards would otherwise put all hot keys on shard 0).
"""

from __future__ import annotations

import numpy as np

from simlab.scenario import KeyspaceSpec, TtlSpec
from simlab.workload.distributions import sample

__all__ = ["KeySampler", "sample_ttls_s"]


class KeySampler:
    """Draws key ids and per-key sizes for one keyspace."""

    def __init__(self, spec: KeyspaceSpec, rng: np.random.Generator) -> None:
        self.spec = spec
        n = spec.num_keys
        pop = spec.popularity
        if pop.kind == "zipf":
            w = np.arange(1, n + 1, dtype=np.float64) ** -pop.alpha
        elif pop.kind == "uniform":
            w = np.ones(n)
        elif pop.kind == "hotset":
            hot = max(1, int(round(pop.hot_fraction * n)))
            w = np.empty(n)
            w[:hot] = pop.hot_share / hot
            w[hot:] = (1 - pop.hot_share) / max(1, n - hot)
        elif pop.kind == "trace":
            assert pop.trace_path is not None
            from simlab.workload.traces import read_trace_column

            ids = read_trace_column(pop.trace_path, 1).astype(np.int64)
            counts = np.bincount(ids % n, minlength=n).astype(np.float64)
            w = np.sort(counts)[::-1] + 1e-12
        else:
            raise ValueError(pop.kind)
        cdf = np.cumsum(w)
        self._cdf = cdf / cdf[-1]
        self._perm = rng.permutation(n).astype(np.int64)
        # sizes are a property of the key, drawn once (a value keeps its size when rewritten)
        self.value_size_bytes = np.maximum(1, sample(spec.value_size_bytes, rng, n)).astype(np.int64)
        self.key_size_bytes = np.maximum(1, sample(spec.key_size_bytes, rng, n)).astype(np.int64)

    def keys(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` key ids (int64) drawn from the popularity distribution."""
        rank = np.searchsorted(self._cdf, rng.random(n), side="right")
        np.minimum(rank, len(self._cdf) - 1, out=rank)
        return self._perm[rank]

    def sizes_bytes(self, keys: np.ndarray) -> np.ndarray:
        """Memory of each key's entry: key + value bytes (allocator overhead left to the cache)."""
        return self.key_size_bytes[keys] + self.value_size_bytes[keys]


def sample_ttls_s(spec: TtlSpec, rng: np.random.Generator, n: int) -> np.ndarray | None:
    """TTL per write in seconds, or None when keys do not expire."""
    if spec.kind == "none":
        return None
    if spec.kind == "fixed":
        assert spec.ttl_s is not None
        return np.full(n, spec.ttl_s)
    if spec.kind == "jittered":
        assert spec.ttl_s is not None
        j = spec.jitter_fraction
        return spec.ttl_s * rng.uniform(1 - j, 1 + j, n)
    assert spec.mix is not None
    ttl = np.array([e.ttl_s for e in spec.mix])
    p = np.array([e.share for e in spec.mix], dtype=np.float64)
    return rng.choice(ttl, size=n, p=p / p.sum())
