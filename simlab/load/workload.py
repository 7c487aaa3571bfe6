"""The requests a live run sends: the simulator's own plan of the scenario, as rows to send.

The load generator does not draw its own workload. It asks the simulator's
:class:`~simlab.model.plan.PlanBuilder` for the plan of the run, seeded exactly as
:func:`simlab.model.run.simulate` seeds it, so the same scenario and seed give the same
arrival times, sources, flows, cache-aside operations, key ids, value sizes and TTLs in the
live run as in the prediction. The key ids are read off the builder's key sampler as it
draws them (the plan keeps only which shard a key is on).

A row is one request of one flow: its intended send time, kind (a cache-aside GET, SET, DEL
or INCR, a session read, a PUBLISH, a lock round, a command pipeline), key, value size and
TTL. A cache-aside INCR is sent as a SET of the key with its TTL: the model's INCR stores
the key (it counts as a write), which a real INCR on a key holding a non-numeric value cannot
do, and the cache's content is what the hit ratio is compared on. Background jobs of the plan (persistence stalls) are the server's business, not the
client's, and are not rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simlab.load.worker import K_CMD, K_DEL, K_GET, K_INCR, K_LOCK, K_PUBLISH, K_SESSION, K_SET
from simlab.model.faults import expand_faults
from simlab.model.plan import PlanBuilder, finish
from simlab.model.run import _cache_factory
from simlab.scenario import Scenario
from simlab.workload.distributions import sample
from simlab.workload.traces import OPS

__all__ = ["LoadPlan", "UnsupportedWorkload", "plan_from_scenario"]

_OP_KIND = {OPS.index("get"): K_GET, OPS.index("set"): K_SET, OPS.index("delete"): K_DEL, OPS.index("incr"): K_INCR}
_MAX_VALUE_BYTES = 1 << 20


class UnsupportedWorkload(ValueError):
    """The scenario asks for something the load generator cannot send (named in the message)."""


class _KeyRecorder:
    """Stands in for the builder's KeySampler and keeps the last array of key ids it drew."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.last: np.ndarray | None = None

    def keys(self, rng: np.random.Generator, n: int) -> np.ndarray:
        self.last = self._inner.keys(rng, n)
        return self.last

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@dataclass
class LoadPlan:
    """Rows to send (parallel arrays, sorted by intended send time ``t``, seconds from start)
    and what the workers need to know about sources and flows."""

    scenario: str
    seed: int
    duration_s: float
    warmup_s: float
    rows: dict[str, np.ndarray]
    source_names: list[str]
    flow_names: list[str]
    flows: list[dict[str, Any]]
    timeout_s: list[float]
    rate_limits: list[tuple[int, float] | None]
    predicted_hit: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, np.int8))
    #: keys the simulator's cache model evicted while deciding these rows' hits
    predicted_evictions: int = 0

    @property
    def n(self) -> int:
        return len(self.rows["t"])

    @property
    def intended_rps(self) -> float:
        return self.n / self.duration_s if self.duration_s > 0 else 0.0

    def take(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v[idx] for k, v in self.rows.items()}


def plan_from_scenario(sc: Scenario, *, duration_s: float | None = None, seed: int | None = None,
                       warmup_s: float | None = None, default_timeout_s: float = 2.0) -> LoadPlan:
    """The rows of the first replication of ``simulate(sc, seed=seed, duration_s=duration_s)``.

    Only runs of at most an hour (one chunk of the simulator) are supported: live runs are
    bounded far below that.
    """
    seed = sc.run.seed if seed is None else seed
    duration_s = sc.run.duration_s if duration_s is None else duration_s
    warmup_s = min(sc.run.warmup_s if warmup_s is None else warmup_s, duration_s / 2)
    if duration_s > 3600:
        raise UnsupportedWorkload(f"a live run lasts at most 3600 s, not {duration_s:g} s")
    for name, f in sc.flows.items():
        if f.kind == "command":
            for cmd in (f.commands or {"GET": 1}):
                if cmd.upper() not in _ONE_KEY_COMMANDS:
                    raise UnsupportedWorkload(
                        f"flows.{name}.commands: the load generator sends one-key commands "
                        f"({', '.join(sorted(_ONE_KEY_COMMANDS))}), not {cmd}")
    ss = np.random.SeedSequence([seed, 0])
    fault_seq, plan_seq, chunk_seq = ss.spawn(3)
    n_res = sc.cache.shards * (sc.cache.replicas + 1) + 2
    windows = expand_faults(sc, duration_s, n_res, np.random.default_rng(fault_seq))
    builder = PlanBuilder(sc, windows, plan_seq, _cache_factory(sc, seed))
    recorder = _KeyRecorder(builder.keys)
    builder.keys = recorder  # type: ignore[assignment]
    steps = builder.steps(0.0, duration_s, chunk_seq.spawn(1)[0])
    query = next(steps)
    plan = finish(steps, builder.hits(query))
    keys_all = recorder.last
    assert keys_all is not None
    n = int(plan.rec.sum())  # requests come first, background jobs after
    t = plan.t0[:n]
    flow = plan.flow[:n].astype(np.int16)
    kind = np.empty(n, dtype=np.int8)
    flows = list(sc.flows.items())
    ca_rows = [np.flatnonzero(flow == fi) for fi, (_nm, fs) in enumerate(flows) if fs.kind == "cache_aside"]
    ttl = np.full(n, np.nan, dtype=np.float64)
    if ca_rows:
        cr = np.concatenate(ca_rows)
        q_keys, q_ops, q_ttl = query[0], query[2], query[3]  # (keys, times, ops, ttls, ...)
        assert np.array_equal(q_keys, keys_all[cr]), "plan and key recorder disagree"
        lut = np.full(len(OPS), K_GET, dtype=np.int8)
        for code, k in _OP_KIND.items():
            lut[code] = k
        kind[cr] = lut[q_ops]
        if q_ttl is not None:
            ttl[cr] = q_ttl
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0, 0x10AD]))
    hold = np.zeros(n, dtype=np.float64)
    flow_table: list[dict[str, Any]] = []
    for fi, (name, fs) in enumerate(flows):
        m = flow == fi
        if fs.kind == "session":
            kind[m] = K_SESSION
        elif fs.kind == "pubsub":
            kind[m] = K_PUBLISH
        elif fs.kind == "lock":
            kind[m] = K_LOCK
            hold[m] = sample(fs.hold_ms, rng, int(m.sum())) * 1e-3
        elif fs.kind == "command":
            kind[m] = K_CMD
        flow_table.append({
            "name": name,
            "kind": fs.kind,
            "keys_per_request": fs.keys_per_request,
            "subscribers": fs.subscribers,
            "commands": [c.upper() for c, cnt in (fs.commands or {"GET": 1}).items() for _ in range(cnt)],
        })
    keys = keys_all[:n].astype(np.int64)
    per_key = builder.keys.value_size_bytes
    vsize = np.minimum(per_key[np.minimum(keys, len(per_key) - 1)], _MAX_VALUE_BYTES).astype(np.int32)
    bdelay = np.where(kind == K_GET, sample(sc.backend.latency_ms, rng, n) * 1e-3, 0.0)
    rows = {
        "t": np.ascontiguousarray(t, dtype=np.float64),
        "kind": kind,
        "key": keys,
        "vsize": vsize,
        "ttl": ttl,
        "src": plan.src[:n].astype(np.int16),
        "flow": flow,
        "bdelay": bdelay.astype(np.float64),
        "hold": hold,
    }
    return LoadPlan(
        scenario=sc.name,
        seed=seed,
        duration_s=duration_s,
        warmup_s=warmup_s,
        rows=rows,
        source_names=[s.name for s in sc.sources],
        flow_names=[f for f, _ in flows],
        flows=flow_table,
        timeout_s=[(s.timeout_ms / 1000.0) if s.timeout_ms else default_timeout_s for s in sc.sources],
        rate_limits=[(s.rate_limit.limit, s.rate_limit.window_s) if s.rate_limit else None for s in sc.sources],
        predicted_hit=plan.hit[:n].copy(),
        predicted_evictions=int(sum(getattr(c, "evictions", 0) for c in builder.caches if c is not None)),
    )


_ONE_KEY_COMMANDS = frozenset({
    "GET", "INCR", "DECR", "DEL", "UNLINK", "EXISTS", "TTL", "PTTL", "TYPE", "STRLEN", "HGETALL",
    "HLEN", "HKEYS", "LLEN", "LPOP", "RPOP", "SCARD", "SMEMBERS", "ZCARD", "PERSIST", "GETDEL",
})
